"""Shared helpers for the benchmarks: load the Boxing clip once, time the x26x peers."""
from __future__ import annotations

import os
import time
from fractions import Fraction
from pathlib import Path

# One thread each, encoders and numpy alike: idle OpenBLAS workers spin on the other core after a
# BLAS call (3-5% of a run's samples here), which on a two-core machine adds noise to the timings.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

SHARED = Path(os.environ.get("MVCLASS_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
BOXING = SHARED / "ucf101" / "v_BoxingPunchingBag_g05_c01.avi"


def load_planes(path=BOXING, max_frames=None):
    """All frames as stacked (Y, U, V) uint8 arrays, decoded before any timing starts."""
    from mvclass.io import read_frames

    frames = read_frames(path, max_frames=max_frames)
    return tuple(np.stack([f[k] for f in frames]) for k in range(3))


# The peers get our paper GOP: an IDR every 100 frames and nowhere else, 3 references, no B-frames.
PEER_GOP = "keyint=100:min-keyint=100:scenecut=0:ref=3"


def time_peer(codec: str, planes, qp: int, preset: str) -> tuple[float, int]:
    """Frames/s and stream bytes of libx264/libx265 via PyAV: fixed QP, the paper's GOP
    (``PEER_GOP``, no B-frames), one thread."""
    import av

    ys, us, vs = planes
    t, h, w = ys.shape
    ctx = av.codec.CodecContext.create(codec, "w")
    ctx.width, ctx.height, ctx.pix_fmt = w, h, "yuv420p"
    ctx.time_base = Fraction(1, 25)
    ctx.framerate = 25
    ctx.thread_count = 1
    if codec == "libx264":
        ctx.options = {"preset": preset, "qp": str(qp), "bf": "0", "threads": "1",
                       "x264-params": f"{PEER_GOP}:threads=1:lookahead-threads=1:sliced-threads=0"}
    else:
        ctx.options = {"preset": preset, "x265-params": f"{PEER_GOP}:bframes=0:qp={qp}:pools=1:frame-threads=1:log-level=error"}
    frames = []
    for i in range(t):
        f = av.VideoFrame(w, h, "yuv420p")
        for k, p in enumerate((ys[i], us[i], vs[i])):
            plane = f.planes[k]
            buf = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
            buf[: p.shape[0], : p.shape[1]] = p
        f.pts = i
        frames.append(f)
    nbytes = 0
    start = time.perf_counter()
    for f in frames:
        for pkt in ctx.encode(f):
            nbytes += pkt.size
    for pkt in ctx.encode(None):
        nbytes += pkt.size
    return t / (time.perf_counter() - start), nbytes


def time_ours(codec: str, planes, qp: int, **opts) -> tuple[float, object]:
    from mvclass.api import encode_cropped

    start = time.perf_counter()
    r = encode_cropped(planes, qp=qp, codec=codec, **opts)
    return r.frames / (time.perf_counter() - start), r


def time_core(codec: str, planes, qp: int, **opts) -> float:
    """Frames/s of the native encoder alone (both streams written), without the Python grid work."""
    from mvclass import _core
    from mvclass.api import encoder_options

    ys, us, vs = planes
    codec, o = encoder_options(codec, qp=qp, search_range=opts.pop("search_range", 16),
                               ref_frames=opts.pop("ref_frames", 3), intra_period=opts.pop("intra_period", 0), **opts)
    enc = _core.Encoder(codec, ys.shape[2], ys.shape[1], o)
    start = time.perf_counter()
    for i in range(ys.shape[0]):
        enc.encode(ys[i], us[i], vs[i])
    return ys.shape[0] / (time.perf_counter() - start)
