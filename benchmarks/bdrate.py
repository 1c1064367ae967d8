"""Rate-distortion of our H.264 encoder, CAVLC and CABAC, against libx264 medium: Bjontegaard delta
rate (BD-rate, PSNR-Y) over QP 22/27/32/37 on the Boxing clip and carphone, printed as a table.
The peer gets our GOP (common.PEER_GOP: an IDR every 100 frames, 3 references, no B-frames), one
thread, fixed QP (x264's own I/P QP offset and psy options of preset medium left as they are).
``pytest benchmarks`` runs it too (benchmarks/test_bench_bdrate.py).

    python benchmarks/bdrate.py [--clips boxing carphone] [--frames N] [--quick]

BD-rate: each curve's log10(rate) is fitted by a cubic in PSNR (least squares; exact through four
points), the two fits are integrated over the PSNR range both curves cover, and the mean
difference d of the log-rates gives 10^d - 1: the average rate change at equal quality (negative:
fewer bits). BD-PSNR is the same with the axes swapped (dB at equal rate).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from fractions import Fraction

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import BOXING, PEER_GOP, SHARED, load_planes  # noqa: E402

CARPHONE = SHARED / "clips" / "carphone_pristine.mp4"
CLIPS = {"boxing": (BOXING, 25.0), "carphone": (CARPHONE, 30000 / 1001)}
QPS = (22, 27, 32, 37)
OURS = dict(intra_period=100, ref_frames=3, partitions="all")  # the paper's JM settings, our GOP


def _integral_mean(x1, y1, x2, y2) -> float:
    """Mean of (fit2 - fit1) over the common x range, each fit a cubic of y on x."""
    x1, y1, x2, y2 = (np.asarray(a, np.float64) for a in (x1, y1, x2, y2))
    if min(len(x1), len(x2)) < 4:
        raise ValueError("BD needs at least four points per curve")
    lo, hi = max(x1.min(), x2.min()), min(x1.max(), x2.max())
    if not hi > lo:
        raise ValueError(f"the curves do not overlap (ranges {x1.min():.3f}..{x1.max():.3f} and {x2.min():.3f}..{x2.max():.3f})")
    out = []
    for x, y in ((x1, y1), (x2, y2)):
        p = np.polynomial.Polynomial.fit(x, y, 3).convert()  # ordinary power basis
        q = p.integ()
        out.append((q(hi) - q(lo)) / (hi - lo))
    return float(out[1] - out[0])


def bd_rate(rate1, psnr1, rate2, psnr2) -> float:
    """Bjontegaard delta rate of curve 2 against curve 1, in percent (negative: curve 2 needs
    fewer bits for the same PSNR). Rates in any positive unit, at least four points each."""
    r1, r2 = np.asarray(rate1, np.float64), np.asarray(rate2, np.float64)
    if (r1 <= 0).any() or (r2 <= 0).any():
        raise ValueError("rates must be positive")
    d = _integral_mean(psnr1, np.log10(r1), psnr2, np.log10(r2))
    return 100.0 * (10.0 ** d - 1.0)


def bd_psnr(rate1, psnr1, rate2, psnr2) -> float:
    """Bjontegaard delta PSNR of curve 2 against curve 1 in dB at equal rate (positive: better)."""
    r1, r2 = np.asarray(rate1, np.float64), np.asarray(rate2, np.float64)
    if (r1 <= 0).any() or (r2 <= 0).any():
        raise ValueError("rates must be positive")
    return _integral_mean(np.log10(r1), psnr1, np.log10(r2), psnr2)


def psnr_y(ref: np.ndarray, dec: np.ndarray) -> float:
    """Mean over frames of each frame's PSNR-Y (as encode_cropped's psnr_y, capped at 100 dB)."""
    out = []
    for a, b in zip(ref, dec):
        sse = float(((a.astype(np.int64) - b.astype(np.int64)) ** 2).sum())
        out.append(100.0 if sse == 0 else min(100.0, 10 * math.log10(255.0 ** 2 * a.size / sse)))
    return float(np.mean(out))


def x264_point(planes, qp: int, fps: float, preset: str = "medium") -> tuple[float, float]:
    """(kbit/s, PSNR-Y) of libx264 via PyAV at fixed QP with PEER_GOP, one thread, decoded back by FFmpeg."""
    import av

    ys, us, vs = planes
    t, h, w = ys.shape
    enc = av.codec.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = w, h, "yuv420p"
    enc.time_base = Fraction(1, 25)
    enc.framerate = 25
    enc.thread_count = 1
    enc.options = {"preset": preset, "qp": str(qp), "bf": "0", "threads": "1",
                   "x264-params": f"{PEER_GOP}:threads=1:lookahead-threads=1:sliced-threads=0"}
    packets = []
    for i in range(t):
        f = av.VideoFrame(w, h, "yuv420p")
        for k, p in enumerate((ys[i], us[i], vs[i])):
            plane = f.planes[k]
            np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[: p.shape[0], : p.shape[1]] = p
        f.pts = i
        packets += enc.encode(f)
    packets += enc.encode(None)
    nbytes = sum(p.size for p in packets)
    dec = av.codec.CodecContext.create("h264", "r")
    frames = []
    for p in packets:
        frames += dec.decode(p)
    frames += dec.decode(None)
    if len(frames) != t:
        raise RuntimeError(f"libx264 stream decoded to {len(frames)} frames, expected {t}")
    luma = np.stack([np.frombuffer(fr.planes[0], np.uint8).reshape(-1, fr.planes[0].line_size)[:h, :w] for fr in frames])
    return nbytes * 8 / (t / fps) / 1000, psnr_y(ys, luma)


def ours_point(planes, qp: int, fps: float, entropy: str) -> tuple[float, float]:
    from mvclass.api import encode_cropped

    r = encode_cropped(planes, qp=qp, entropy=entropy, fps=fps, **OURS)
    return r.rates.orig, r.psnr_y


def curves(planes, fps: float, qps=QPS) -> dict:
    """{encoder: [(kbit/s, PSNR-Y) per QP]} for x264 medium, ours CAVLC and ours CABAC."""
    return {"libx264 medium": [x264_point(planes, q, fps) for q in qps],
            "mvclass h264 cavlc": [ours_point(planes, q, fps, "cavlc") for q in qps],
            "mvclass h264 cabac": [ours_point(planes, q, fps, "cabac") for q in qps]}


def table(name: str, n: int, c: dict, qps=QPS) -> tuple[str, dict]:
    """The printed table of one clip and its BD figures {(encoder, anchor): (bd_rate %, bd_psnr dB)}."""
    lines = [f"{name}: {n} frames, QP {'/'.join(map(str, qps))}, rate kbit/s @ PSNR-Y dB",
             f"{'encoder':<20}" + "".join(f"{'QP ' + str(q):>16}" for q in qps) + f"{'BD-rate':>10}{'BD-PSNR':>10}  anchor"]
    anchor = "libx264 medium"
    figures = {}
    for enc, pts in c.items():
        row = f"{enc:<20}" + "".join(f"{r:>8.1f} @{p:>6.2f}" for r, p in pts)
        pairs = [(anchor, c[anchor])] if enc != anchor else []
        if enc == "mvclass h264 cabac":
            pairs.append(("mvclass h264 cavlc", c["mvclass h264 cavlc"]))
        if not pairs:
            row += f"{'-':>10}{'-':>10}"
        for k, (aname, apts) in enumerate(pairs):
            args = ([r for r, _ in apts], [p for _, p in apts], [r for r, _ in pts], [p for _, p in pts])
            br, bp = bd_rate(*args), bd_psnr(*args)
            figures[(enc, aname)] = (br, bp)
            cell = f"{br:>+9.1f}%{bp:>+8.2f}dB  vs {aname}"
            row += cell if k == 0 else "\n" + " " * (20 + 16 * len(qps)) + cell
        lines.append(row)
    return "\n".join(lines), figures


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", nargs="+", default=list(CLIPS), choices=list(CLIPS))
    ap.add_argument("--frames", type=int, default=None, help="first N frames of each clip (default: all)")
    ap.add_argument("--quick", action="store_true", help="10 frames per clip (seconds; not a measurement)")
    args = ap.parse_args(argv)
    frames = 10 if args.quick else args.frames
    for clip in args.clips:
        path, fps = CLIPS[clip]
        planes = load_planes(path, max_frames=frames)
        text, _ = table(f"{clip} ({planes[0].shape[2]}x{planes[0].shape[1]})", planes[0].shape[0], curves(planes, fps))
        print(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
