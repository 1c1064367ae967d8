"""Video input: anything FFmpeg reads (through PyAV), .y4m, raw .yuv and numpy arrays, all
turned into a stream of 8-bit YUV 4:2:0 pictures.

A :class:`VideoSource` knows its size and frame rate before any frame is decoded (the encoder
needs them up front) and yields frames lazily, so memory stays bounded for long videos.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

DEFAULT_FPS = 25.0  # the paper re-encodes every video at 25 frames/s

Planes = tuple  # (Y (H,W), U (H/2,W/2), V (H/2,W/2)) uint8


@dataclass
class VideoSource:
    """A video as 4:2:0 frames. ``frames()`` may be called more than once."""

    width: int
    height: int
    fps: float
    name: str
    num_frames: int | None  # None when the container does not say
    _open: Callable[[], Iterator[Planes]]
    max_frames: int | None = None
    report: "DecodeReport | None" = field(default=None, repr=False)  # files read through FFmpeg

    def frames(self) -> Iterator[Planes]:
        count = 0
        for planes in self._open():
            if self.max_frames is not None and count >= self.max_frames:
                return
            yield planes
            count += 1

    def __len__(self) -> int:
        if self.num_frames is None:
            raise TypeError("frame count unknown before decoding")
        n = self.num_frames
        return n if self.max_frames is None else min(n, self.max_frames)


def _check_size(width: int, height: int, what: str) -> None:
    if width <= 0 or height <= 0:
        raise ValueError(f"{what}: frames of zero size ({width}x{height})")
    if width % 2 or height % 2:
        raise ValueError(f"{what}: 4:2:0 needs even frame sizes, got {width}x{height}")


MIN_FPS, MAX_FPS = 1e-3, 1e5  # the streams signal fps as a fraction with a denominator up to 1001


def _check_fps(fps) -> float:
    try:
        f = float(fps)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"fps must be a positive number, got {fps!r}") from None
    if not np.isfinite(f) or f <= 0:
        raise ValueError(f"fps must be a positive number, got {fps!r}")
    if not MIN_FPS <= f <= MAX_FPS:
        raise ValueError(f"fps must be in {MIN_FPS:g}..{MAX_FPS:g}, got {fps!r}")
    return f


def _native_fps(value) -> float | None:
    """A container's or header's frame rate, or None (the default applies) when it is unusable."""
    try:
        f = float(value)
    except (TypeError, ValueError, OverflowError, ZeroDivisionError):
        return None
    return f if np.isfinite(f) and MIN_FPS <= f <= MAX_FPS else None


def rgb_to_yuv420(rgb: np.ndarray) -> Planes:
    """BT.601 limited-range RGB -> YUV 4:2:0 (what FFmpeg's rgb24 -> yuv420p does by default)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"RGB frame must have shape (H, W, 3), got {rgb.shape}")
    r, g, b = (rgb[..., i].astype(np.int32) for i in range(3))
    y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16
    # Chroma from the 2x2-averaged RGB, rounded.
    h, w = rgb.shape[:2]
    def sub(c):
        return (c[0:h:2, 0:w:2] + c[1:h:2, 0:w:2] + c[0:h:2, 1:w:2] + c[1:h:2, 1:w:2] + 2) >> 2
    rs, gs, bs = sub(r), sub(g), sub(b)
    u = ((-38 * rs - 74 * gs + 112 * bs + 128) >> 8) + 128
    v = ((112 * rs - 94 * gs - 18 * bs + 128) >> 8) + 128
    return tuple(np.clip(p, 0, 255).astype(np.uint8) for p in (y, u, v))


def yuv420_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """BT.601 limited-range YUV 4:2:0 -> RGB uint8 (H, W, 3), chroma upsampled by repetition."""
    h, w = y.shape
    uu = np.repeat(np.repeat(u, 2, 0), 2, 1)[:h, :w].astype(np.float32) - 128
    vv = np.repeat(np.repeat(v, 2, 0), 2, 1)[:h, :w].astype(np.float32) - 128
    yy = (y.astype(np.float32) - 16) * 1.164
    rgb = np.stack([yy + 1.596 * vv, yy - 0.392 * uu - 0.813 * vv, yy + 2.017 * uu], axis=-1)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def _from_array(arr, fps: float | None, name: str) -> VideoSource:
    # A tuple is (Y, U, V) plane stacks; a list is a list of frames: (H,W,3) RGB, (H,W) luma or
    # (Y, U, V) plane tuples (what read_frames returns). Three RGB frames are never taken for planes.
    if isinstance(arr, list):
        if not arr:
            raise ValueError(f"{name}: video has no frames")
        if all(isinstance(f, tuple) and len(f) == 3 for f in arr):
            shapes = {tuple(np.shape(p) for p in f) for f in arr}
            if len(shapes) != 1:
                raise ValueError(f"{name}: all (Y, U, V) frames of the list must have the same plane shapes, "
                                 f"got {sorted(shapes)[:2]}")
            arr = tuple(np.stack([np.asarray(f[k]) for f in arr]) for k in range(3))
        else:
            if any(isinstance(f, tuple) for f in arr):
                raise ValueError(f"{name}: a list of frames must hold only arrays or only (Y, U, V) tuples")
            shapes = {np.shape(f) for f in arr}
            if len(shapes) != 1:
                raise ValueError(f"{name}: all frames of the list must have the same shape, got {sorted(shapes)[:2]}")
            arr = np.stack([np.asarray(f) for f in arr])
    if isinstance(arr, tuple):
        if len(arr) != 3:
            raise ValueError(f"{name}: a tuple source must be (Y, U, V) plane stacks, got {len(arr)} items "
                             "(pass frames as a list or an array)")
        ys, us, vs = (np.asarray(p) for p in arr)
        bad = [f"{k}: {p.dtype}" for k, p in zip("YUV", (ys, us, vs)) if p.dtype != np.uint8]
        if bad:
            raise ValueError(f"{name}: YUV planes must be uint8, got {', '.join(bad)} (convert and clip explicitly)")
        if ys.ndim != 3 or us.ndim != 3 or vs.ndim != 3:
            raise ValueError("YUV planes must be arrays of shape (T,H,W), (T,H/2,W/2), (T,H/2,W/2)")
        t, h, w = ys.shape
        if ys.size and ys.shape == us.shape == vs.shape:
            raise ValueError(f"{name}: a tuple is read as (Y, U, V) plane stacks, but its three arrays have the same "
                             f"shape {ys.shape}; pass RGB frames as a list or an array (T, H, W, 3)")
        _check_size(w, h, name)
        if us.shape != (t, h // 2, w // 2) or vs.shape != us.shape:
            raise ValueError(f"chroma planes must have shape {(t, h // 2, w // 2)}, got {us.shape} and {vs.shape}")
        if t == 0:
            raise ValueError(f"{name}: video has no frames")
        planes = [np.ascontiguousarray(p) for p in (ys, us, vs)]
        return VideoSource(w, h, fps or DEFAULT_FPS, name, t, lambda: ((planes[0][i], planes[1][i], planes[2][i]) for i in range(t)))
    a = np.asarray(arr)
    if a.dtype != np.uint8:
        raise ValueError(f"video arrays must be uint8, got {a.dtype}")
    if a.ndim == 3:  # (T, H, W) luma only
        t, h, w = a.shape
        _check_size(w, h, name)
        grey = np.full((h // 2, w // 2), 128, np.uint8)
        opener = lambda: ((a[i], grey, grey) for i in range(t))
    elif a.ndim == 4 and a.shape[3] == 3:
        t, h, w = a.shape[:3]
        _check_size(w, h, name)
        opener = lambda: (rgb_to_yuv420(a[i]) for i in range(t))
    else:
        raise ValueError(f"video arrays must have shape (T,H,W,3) RGB or (T,H,W) luma, got {a.shape}")
    if t == 0:
        raise ValueError(f"{name}: video has no frames")
    return VideoSource(w, h, fps or DEFAULT_FPS, name, t, opener)


def _parse_y4m_header(line: bytes, path: Path) -> dict:
    if not line.startswith(b"YUV4MPEG2"):
        raise ValueError(f"{path}: not a YUV4MPEG2 file")
    info = {"W": None, "H": None, "F": None, "C": "420jpeg"}
    for tok in line.split()[1:]:
        key, val = chr(tok[0]), tok[1:].decode("ascii", "replace")
        if key in "WHFC":
            info[key] = val
    if info["W"] is None or info["H"] is None:
        raise ValueError(f"{path}: YUV4MPEG2 header lacks W or H")
    if not info["C"].startswith("420") or "p1" in info["C"]:
        raise ValueError(f"{path}: only 8-bit 4:2:0 .y4m is supported, got colour space C{info['C']}")
    return info


def _open_y4m(path: Path, fps: float | None) -> VideoSource:
    with open(path, "rb") as f:
        header = f.readline()
        info = _parse_y4m_header(header.rstrip(b"\n"), path)
        data_start = f.tell()
    try:
        w, h = int(info["W"]), int(info["H"])
    except ValueError:
        raise ValueError(f"{path}: bad size W{info['W']} H{info['H']} in the YUV4MPEG2 header") from None
    _check_size(w, h, str(path))
    native = None
    if info["F"]:
        num, _, den = info["F"].partition(":")
        try:
            native = float(Fraction(int(num), int(den or 1)))
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"{path}: bad frame rate F{info['F']}") from None
        if _native_fps(native) is None:
            raise ValueError(f"{path}: frame rate F{info['F']} is outside {MIN_FPS:g}..{MAX_FPS:g} frames/s")
    frame_bytes = w * h * 3 // 2

    def frames():
        with open(path, "rb") as f:
            f.seek(data_start)
            while True:
                tag = f.readline()
                if not tag:
                    return
                if not tag.startswith(b"FRAME"):
                    raise ValueError(f"{path}: corrupt .y4m (expected FRAME marker)")
                buf = f.read(frame_bytes)
                if len(buf) < frame_bytes:
                    raise ValueError(f"{path}: truncated .y4m frame")
                yield _split_planes(buf, w, h)

    # Frame count: each frame is a FRAME line (usually 6 bytes) + data.
    size = os.path.getsize(path) - data_start
    n = size // (frame_bytes + 6) if size % (frame_bytes + 6) == 0 else None
    if n == 0:
        raise ValueError(f"{path}: video has no frames")
    return VideoSource(w, h, fps or native or DEFAULT_FPS, path.stem, n, frames)


def _split_planes(buf: bytes, w: int, h: int) -> Planes:
    a = np.frombuffer(buf, np.uint8)
    ys, cs = w * h, (w // 2) * (h // 2)
    return (a[:ys].reshape(h, w), a[ys:ys + cs].reshape(h // 2, w // 2), a[ys + cs:ys + 2 * cs].reshape(h // 2, w // 2))


def _open_yuv(path: Path, width, height, fps: float | None) -> VideoSource:
    if width is None or height is None:
        raise ValueError(f"{path}: raw .yuv needs width= and height=")
    for key, value in (("width", width), ("height", height)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{path}: {key} must be an integer number of pixels, got {value!r}")
    w, h = int(width), int(height)
    _check_size(w, h, str(path))
    frame_bytes = w * h * 3 // 2
    size = os.path.getsize(path)
    if size == 0:
        raise ValueError(f"{path}: video has no frames")
    if size % frame_bytes:
        raise ValueError(f"{path}: file size {size} is not a whole number of {w}x{h} 4:2:0 frames ({frame_bytes} bytes each)")

    def frames():
        with open(path, "rb") as f:
            while buf := f.read(frame_bytes):
                yield _split_planes(buf, w, h)

    return VideoSource(w, h, fps or DEFAULT_FPS, path.stem, size // frame_bytes, frames)


def av_frame_planes(frame) -> Planes:
    """(Y, U, V) uint8 planes of a PyAV video frame (converted to yuv420p if needed)."""
    f = frame if frame.format.name == "yuv420p" else frame.reformat(format="yuv420p")
    out = []
    for i, plane in enumerate(f.planes):
        w, h = (f.width, f.height) if i == 0 else ((f.width + 1) // 2, (f.height + 1) // 2)
        a = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:h, :w]
        out.append(np.ascontiguousarray(a))
    return tuple(out)


# FFmpeg "videos" that are not: the tty demuxer renders any text file as ANSI art, and the image
# demuxers make a one-picture video of an image (accepted only when the file is named as one).
_TEXT_DEMUXERS = {"tty", "bintext", "xbin", "adf", "idf"}
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".pnm",
                   ".tga", ".dpx", ".exr", ".j2k", ".jp2", ".qoi", ".pcx", ".sgi", ".xwd", ".dds", ".psd"}


def _check_demuxer(path: Path, format_name: str) -> None:
    names = set(format_name.split(","))
    if names & _TEXT_DEMUXERS:
        raise ValueError(f"{path}: not a video (FFmpeg reads it as text with its {format_name!r} demuxer)")
    if any(n == "image2" or n.endswith("_pipe") for n in names) and path.suffix.lower() not in _IMAGE_SUFFIXES:
        raise ValueError(f"{path}: not a video but an image ({format_name!r} demuxer); "
                         "name it with its image extension to encode it as a one-frame video")


class VideoDecodeWarning(UserWarning):
    """A video decoded with errors (corrupt data, concealed frames) or with fewer or more frames
    than its container declares. ``strict=True`` turns these into ``ValueError``."""


@dataclass
class DecodeReport:
    """What decoding a file through FFmpeg went like (``VideoSource.report``, filled as frames are read)."""

    declared: int | None = None   # frames the container declares (None: it does not say)
    decoded: int = 0
    corrupt_frames: int = 0       # frames FFmpeg flags as corrupt (concealed errors)
    failed_packets: int = 0       # packets the decoder rejected
    error_messages: int = 0       # FFmpeg error log lines while decoding
    first_errors: list = field(default_factory=list)
    complete: bool = False        # the whole stream was read

    @property
    def errors(self) -> int:
        return self.corrupt_frames + self.failed_packets + self.error_messages

    def describe(self) -> str:
        parts = [f"{n} {what}" for n, what in ((self.corrupt_frames, "corrupt frame(s)"),
                                               (self.failed_packets, "undecodable packet(s)"),
                                               (self.error_messages, "FFmpeg error message(s)")) if n]
        first = f"; first: {self.first_errors[0]!r}" if self.first_errors else ""
        return ", ".join(parts) + first


def _open_av(path: Path, fps: float | None, strict: bool = False) -> VideoSource:
    import av

    try:
        container = av.open(str(path))
    except av.error.FFmpegError as e:
        raise ValueError(f"{path}: not a readable video ({e})") from None
    with container:
        if not container.streams.video:
            raise ValueError(f"{path}: no video stream")
        _check_demuxer(path, container.format.name)
        st = container.streams.video[0]
        w, h = st.codec_context.width, st.codec_context.height
        native = _native_fps(st.average_rate) if st.average_rate else None
        n = st.frames or None
        try:  # probing may report a later picture's size (raw streams): the first frame's is the one
            first = next(iter(container.decode(st)), None)
        except av.error.FFmpegError:
            first = None
        if first is not None:
            w, h = first.width, first.height
    _check_size(w, h, str(path))

    def fail_or_warn(message: str) -> None:
        if strict:
            raise ValueError(message)
        import warnings

        warnings.warn(message, VideoDecodeWarning, stacklevel=3)

    def frames():
        import av.logging

        report = src.report = DecodeReport(declared=n)
        # FFmpeg reports concealed errors only through its log: capture it (this thread's) meanwhile.
        level = av.logging.get_level()
        if level is None or level < av.logging.ERROR:
            av.logging.set_level(av.logging.ERROR)
        try:
            with av.logging.Capture() as logs, av.open(str(path)) as c:
                seen = 0

                def check_errors(where: str) -> None:
                    nonlocal seen
                    new = [m for lvl, _, m in logs[seen:] if lvl is not None and lvl <= av.logging.ERROR]
                    seen = len(logs)
                    report.error_messages += len(new)
                    report.first_errors.extend(m.strip() for m in new[:3 - len(report.first_errors)])
                    if strict and report.errors:
                        raise ValueError(f"{path}: corrupt video data {where} ({report.describe()})")

                for packet in c.demux(c.streams.video[0]):
                    try:
                        decoded = packet.decode()
                    except av.error.FFmpegError as e:
                        if isinstance(e, av.error.EOFError):
                            break
                        report.failed_packets += 1
                        report.first_errors.extend([str(e)][:3 - len(report.first_errors)])
                        decoded = []
                    check_errors(f"before frame {report.decoded}")
                    for frame in decoded:
                        if (frame.width, frame.height) != (w, h):
                            raise ValueError(f"{path}: the resolution changes mid-stream at frame {report.decoded} "
                                             f"({w}x{h} -> {frame.width}x{frame.height}); not supported")
                        if frame.is_corrupt:
                            report.corrupt_frames += 1
                            check_errors(f"at frame {report.decoded}")
                        report.decoded += 1
                        yield av_frame_planes(frame)
                check_errors("at the end of the stream")
        except av.error.FFmpegError as e:
            raise ValueError(f"{path}: decoding failed ({e})") from None
        finally:
            if level is None or level < av.logging.ERROR:
                av.logging.set_level(level)
        report.complete = True
        if report.errors:
            fail_or_warn(f"{path}: decoded with errors ({report.describe()}); the frames may be damaged")
        if report.declared is not None and report.decoded != report.declared:
            fail_or_warn(f"{path}: decoded {report.decoded} frames but the container declares {report.declared} "
                         f"(truncated or damaged file?)")

    src = VideoSource(w, h, fps or native or DEFAULT_FPS, path.stem, n, frames)
    return src


def read_video(source, *, fps: float | None = None, max_frames: int | None = None,
               width: int | None = None, height: int | None = None, name: str | None = None,
               strict: bool = False) -> VideoSource:
    """Open ``source`` as a stream of YUV 4:2:0 frames.

    ``source``: a path (any file FFmpeg reads, ``.y4m``, or raw ``.yuv`` with ``width``/``height``),
    a uint8 array (T,H,W,3) RGB or (T,H,W) luma, a (Y, U, V) *tuple* of uint8 (T,·,·) plane
    stacks, a *list* of frames (each (H,W,3) RGB, (H,W) luma or a (Y, U, V) tuple of planes), or a
    :class:`VideoSource`. ``fps`` overrides the container's rate (25 when unknown).

    Files FFmpeg decodes with errors (corrupt data, concealed frames) or with another frame count
    than their container declares give a :class:`VideoDecodeWarning` once the stream is read
    (``VideoSource.report`` has the counts); ``strict=True`` raises ``ValueError`` instead, at the
    first error.
    """
    if not isinstance(strict, (bool, np.bool_)):
        raise ValueError(f"strict must be True or False, got {strict!r}")
    if fps is not None:
        fps = _check_fps(fps)
    if max_frames is not None:
        if isinstance(max_frames, bool) or not isinstance(max_frames, (int, np.integer)) or max_frames < 1:
            raise ValueError(f"max_frames must be a positive integer, got {max_frames!r}")
    if isinstance(source, VideoSource):
        src = source
        if fps is not None:
            src = VideoSource(src.width, src.height, fps, src.name, src.num_frames, src._open, src.max_frames)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"video not found: {path}")
        if path.is_dir():
            raise ValueError(f"{path} is a directory, not a video")
        if path.stat().st_size == 0:
            raise ValueError(f"{path}: empty file, not a video")
        suffix = path.suffix.lower()
        if suffix == ".y4m":
            src = _open_y4m(path, fps)
        elif suffix == ".yuv":
            src = _open_yuv(path, width, height, fps)
        else:
            src = _open_av(path, fps, bool(strict))
        if suffix != ".yuv" and (width is not None or height is not None):
            raise ValueError("width=/height= only apply to raw .yuv input")
    elif isinstance(source, (np.ndarray, tuple, list)):
        src = _from_array(source, fps, name or "array")
    else:
        raise ValueError(f"unsupported video source of type {type(source).__name__}")
    if name is not None:
        src.name = name
    if max_frames is not None:
        src.max_frames = int(max_frames) if src.max_frames is None else min(src.max_frames, int(max_frames))
    return src


def read_frames(source, **kwargs) -> list[Planes]:
    """All frames of ``source`` as a list of (Y, U, V) planes (convenience for short clips)."""
    src = read_video(source, **kwargs)
    frames = list(src.frames())
    if not frames:
        raise ValueError(f"{src.name}: video has no frames")
    return frames


def sample_clip(frames: int = 60, width: int = 320, height: int = 240, seed: int = 0) -> np.ndarray:
    """A built-in synthetic clip (T,H,W,3) RGB: a textured background panning right and a
    textured disc moving diagonally, so the demo needs no download."""
    for key, value, lo in (("frames", frames, 1), ("width", width, 16), ("height", height, 16)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
            raise ValueError(f"sample_clip: {key} must be an integer >= {lo}, got {value!r}")
    if width % 2 or height % 2:
        raise ValueError(f"sample_clip: 4:2:0 needs even frame sizes, got {width}x{height}")
    rng = np.random.default_rng(seed)
    big_h, big_w = height + 64, width + 4 * frames + 64
    # Smooth random texture: box-filtered noise keeps it codec-friendly yet rich in edges.
    noise = rng.integers(0, 256, (big_h // 4 + 1, big_w // 4 + 1, 3)).astype(np.float32)
    tex = np.repeat(np.repeat(noise, 4, 0), 4, 1)[:big_h, :big_w]
    k = np.ones(5, np.float32) / 5
    for ax in (0, 1):
        tex = np.apply_along_axis(lambda m: np.convolve(m, k, mode="same"), ax, tex)
    size = max(1, min(48, height // 2, width // 2))  # the disc fits small frames too
    obj = np.clip(rng.normal(128, 60, (size, size, 3)), 0, 255).astype(np.float32)
    yy, xx = np.mgrid[0:size, 0:size]
    c = (size - 1) / 2
    disc = (yy - c) ** 2 + (xx - c) ** 2 < (0.46 * size) ** 2
    out = np.empty((frames, height, width, 3), np.uint8)
    for t in range(frames):
        frame = tex[16:16 + height, 2 * t:2 * t + width].copy()  # background moves left 2 px/frame
        oy = int(30 + 1.5 * t) % (height - size + 1)
        ox = int(40 + 3 * t) % (width - size + 1)
        region = frame[oy:oy + size, ox:ox + size]
        region[disc] = obj[disc]
        out[t] = np.clip(frame, 0, 255).astype(np.uint8)
    return out
