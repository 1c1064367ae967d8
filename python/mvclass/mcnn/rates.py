"""Per-video rates of each classifier's input, from per-frame bit counts.

What is sent for each classifier (paper Sec. III/V, T3D = 160, T2D = 60 frames at 25 fps):

* 3D-CNN: the IDR frame at full size (its texture feeds the spatial stream of the fused
  classifier) plus the *cropped* frames 1 .. T3D-1 (modes and motion vectors only);
* 2D-CNN: the same with T2D frames;
* spatial CNN: the IDR frame only.

All three rates are measured over the same window, T3D / fps seconds (6.4 s): the selector
makes one decision per 3D-input window, so sending the short 2D input means sending fewer
bits in that window, not sending them faster. This is what reproduces the paper's linear
fits (its a2D / a3D = 0.83 / 2.21 = 0.38, close to 59 / 159 = 0.37 cropped frames; we get
0.815 / 2.140); dividing R_2D by T2D / fps instead gives a2D ≈ 2.2, nothing like the paper.

Videos shorter than the window are looped as the CNN inputs are: the cropped frames
1 .. n-1 repeat until T-1 of them have been counted (the IDR frame is counted once).

R_motion is the video's whole motion-bit count over its duration (frames / fps), the rate the
paper's Gamma model and the README of the authors' files use.

The bit arrays are plain per-frame sequences (index 0 = the IDR frame) so that the authors'
files, dataset manifests and :func:`mvclass.encode_cropped` results (``r.frame_bits``, a
structured array with fields ``type``, ``full``, ``cropped``, ``motion``) all feed them.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from mvclass.mcnn._checks import vector

__all__ = ["T3D", "T2D", "FPS", "InputRates", "VideoRates", "window_bits", "input_rates",
           "motion_rate", "video_rates", "rates_from_frame_bits"]

T3D = 160
T2D = 60
FPS = 25.0


class InputRates(NamedTuple):
    """kbit/s of each classifier's input over the T3D window."""

    r_3d: float
    r_2d: float
    r_sp: float


class VideoRates(NamedTuple):
    """R_motion and the three input rates of one video, kbit/s."""

    r_motion: float
    r_3d: float
    r_2d: float
    r_sp: float


def _positive(x, name: str) -> float:
    v = float(x)
    if not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive number (got {x!r})")
    return v


def window_bits(idr_bits: float, cropped_bits, frames: int) -> float:
    """Bits of a ``frames``-frame CNN input: the IDR frame plus cropped frames 1..frames-1,
    looping the cropped frames 1..n-1 when the video has fewer than ``frames`` frames."""
    p = vector(cropped_bits, "cropped_bits", min_len=2)[1:]
    t = int(frames)
    if t < 1:
        raise ValueError(f"frames must be >= 1 (got {frames!r})")
    q, r = divmod(t - 1, p.size)
    return float(idr_bits) + q * float(p.sum()) + float(p[:r].sum())


def input_rates(full_bits, cropped_bits, *, fps: float = FPS, t3d: int = T3D, t2d: int = T2D) -> InputRates:
    """R_3D, R_2D, R_SP (kbit/s) of one video from its per-frame bits.

    ``full_bits``: the full stream's bits per frame (only frame 0, the IDR frame, is used; a
    scalar is taken as the IDR frame's size). ``cropped_bits``: the cropped stream's bits per
    frame, index 0 being the IDR frame (its value is not used). Both count the parameter sets
    in frame 0 if the source does. All rates are over ``t3d / fps`` seconds (see module doc).
    """
    fps = _positive(fps, "fps")
    if int(t2d) < 1 or int(t3d) < int(t2d):
        raise ValueError(f"need 1 <= t2d <= t3d (got t2d={t2d}, t3d={t3d})")
    full = np.atleast_1d(vector(np.atleast_1d(full_bits), "full_bits"))
    idr = float(full[0])
    seconds = int(t3d) / fps
    k = 1000.0 * seconds
    return InputRates(window_bits(idr, cropped_bits, t3d) / k, window_bits(idr, cropped_bits, t2d) / k, idr / k)


def motion_rate(motion_bits, *, frames: int | None = None, fps: float = FPS) -> float:
    """R_motion (kbit/s): all motion bits of the video over its duration ``frames / fps``.

    ``frames`` defaults to ``len(motion_bits)``; the authors' files list one more value than
    frames (the first holds the parameter sets too), so pass their frame count there.
    """
    m = vector(motion_bits, "motion_bits")
    n = m.size if frames is None else int(frames)
    if n < 1:
        raise ValueError(f"frames must be >= 1 (got {frames!r})")
    return float(m.sum()) / (n / _positive(fps, "fps")) / 1000.0


def video_rates(full_bits, cropped_bits, motion_bits, *, frames: int | None = None, fps: float = FPS,
                t3d: int = T3D, t2d: int = T2D) -> VideoRates:
    """:func:`motion_rate` and :func:`input_rates` of one video together."""
    ir = input_rates(full_bits, cropped_bits, fps=fps, t3d=t3d, t2d=t2d)
    return VideoRates(motion_rate(motion_bits, frames=frames, fps=fps), *ir)


def rates_from_frame_bits(frame_bits, *, fps: float = FPS, t3d: int = T3D, t2d: int = T2D) -> VideoRates:
    """Rates of one encoded video from a per-frame structured array with fields ``full``,
    ``cropped`` and ``motion`` (e.g. ``mvclass.encode_cropped(...).frame_bits``); frame 0
    must be the IDR frame (``type`` 'I' when that field exists)."""
    fb = np.asarray(frame_bits)
    names = fb.dtype.names or ()
    missing = [f for f in ("full", "cropped", "motion") if f not in names]
    if missing:
        raise ValueError(f"frame_bits lacks field(s) {missing} (has {list(names)})")
    if fb.ndim != 1 or fb.size < 2:
        raise ValueError(f"frame_bits needs at least 2 frames (got shape {fb.shape})")
    if "type" in names:
        t0 = fb["type"][0]
        t0 = t0.decode() if isinstance(t0, bytes) else str(t0)
        if t0 != "I":
            raise ValueError(f"frame 0 must be the IDR frame (type 'I'), got {t0!r}")
    return video_rates(fb["full"], fb["cropped"], fb["motion"], fps=fps, t3d=t3d, t2d=t2d)
