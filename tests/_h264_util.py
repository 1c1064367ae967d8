"""Helpers shared by the H.264 encoder tests: clip loading, encoding through the native
module, and decoding with FFmpeg (PyAV) as the independent oracle."""
from __future__ import annotations

import av
import numpy as np

from mvclass import _core


def load_yuv(path, n):
    """First ``n`` frames of a video as (Y, U, V) uint8 planes (4:2:0)."""
    out = []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            out.append(tuple(np.ascontiguousarray(p) for p in planes(f.reformat(format="yuv420p"))))
            if len(out) >= n:
                break
    return out


def translating_clip(n, h, w, dx4, dy4, seed=0):
    """Smooth random texture moving by (dx4, dy4) quarter samples per frame (known motion).
    Frames are sampled from a 4x upsampled texture so sub-sample motion is exact."""
    from scipy.ndimage import gaussian_filter, zoom

    rng = np.random.default_rng(seed)
    margin = 8 + n * max(abs(dx4), abs(dy4)) // 4 + 8
    base = rng.integers(0, 256, (h + 2 * margin, w + 2 * margin)).astype(np.float32)
    base = np.clip((gaussian_filter(base, 1.5) - 128) * 4 + 128, 0, 255)
    up = zoom(base, 4, order=1)
    frames = []
    for t in range(n):
        # content moves by +d per frame: frame t samples the texture at offset -t*d
        oy, ox = 4 * margin - t * dy4, 4 * margin - t * dx4
        y = up[oy:oy + 4 * h:4, ox:ox + 4 * w:4].astype(np.uint8)
        u = (96 + y[::2, ::2] // 4).astype(np.uint8)
        v = (160 - y[1::2, 1::2] // 4).astype(np.uint8)
        frames.append(tuple(np.ascontiguousarray(p) for p in (y, u, v)))
    return frames


def encode(frames, **opts):
    h, w = frames[0][0].shape
    enc = _core.Encoder("h264", w, h, dict(opts))
    return [enc.encode(*f) for f in frames]


def decode(data: bytes, export_mvs: bool = True):
    """Decode an Annex B H.264 stream with FFmpeg, failing on any bitstream error."""
    ctx = av.codec.CodecContext.create("h264", "r")
    opts = {"err_detect": "careful+bitstream+explode"}
    if export_mvs:
        opts["flags2"] = "+export_mvs"
    ctx.options = opts
    frames = []
    for pkt in ctx.parse(data):
        frames += ctx.decode(pkt)
    for pkt in ctx.parse(None):  # flush the parser: the last picture is still buffered there
        frames += ctx.decode(pkt)
    frames += ctx.decode(None)
    return frames


def planes(frame):
    assert frame.format.name == "yuv420p"
    a = frame.to_ndarray()
    h, w = frame.height, frame.width
    c = a[h:].ravel()  # U then V, packed into rows of width w
    n = (h // 2) * (w // 2)
    return a[:h], c[:n].reshape(h // 2, w // 2), c[n:2 * n].reshape(h // 2, w // 2)
