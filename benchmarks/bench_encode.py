"""Encoding speed on the Boxing clip (320x240, QP 30, paper settings), side by side in one run
with libx264 / libx265 through PyAV, one thread each. Prints a table.

    python benchmarks/bench_encode.py [--codec h264 hevc] [--frames 296] [--repeat 3]

Targets (issues 2 and 3): h264 >= 0.9x libx264 medium, hevc >= 1.5x libx265 medium.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import load_planes, time_core, time_ours, time_peer  # noqa: E402

PAPER = {"h264": dict(intra_period=100, ref_frames=3, partitions="all"),
         "hevc": dict(intra_period=100, ref_frames=3, ctu_size=16, max_depth=2)}
PEER = {"h264": "libx264", "hevc": "libx265"}
TARGET = {"h264": 0.9, "hevc": 1.5}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--codec", nargs="+", default=["h264", "hevc"])
    ap.add_argument("--frames", type=int, default=296)
    ap.add_argument("--qp", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs for each encoder")
    args = ap.parse_args(argv)
    planes = load_planes(max_frames=args.frames)
    n = planes[0].shape[0]
    print(f"Boxing clip, {n} frames 320x240, QP {args.qp}, one thread, best of {args.repeat}\n")
    print(f"{'encoder':<34}{'frames/s':>10}{'kbit/s':>10}{'vs peer medium':>16}")
    print("-" * 70)
    status = 0
    for codec in args.codec:
        peer = PEER[codec]
        rows = {}
        for preset in ("medium", "ultrafast"):
            runs = [time_peer(peer, planes, args.qp, preset) for _ in range(args.repeat)]
            fps = max(r[0] for r in runs)
            rows[f"{peer} {preset}"] = (fps, runs[0][1] * 8 / (n / 25) / 1000)
        medium = rows[f"{peer} medium"][0]
        core = max(time_core(codec, planes, args.qp, **PAPER[codec]) for _ in range(args.repeat))
        best = None
        for _ in range(args.repeat):
            fps, r = time_ours(codec, planes, args.qp, **PAPER[codec])
            best = max(best or 0, fps)
        rows[f"mvclass {codec} (native encode)"] = (core, r.rates.orig)
        rows[f"mvclass {codec} (encode_cropped)"] = (best, r.rates.orig)
        for name, (fps, kbps) in rows.items():
            print(f"{name:<34}{fps:>10.1f}{kbps:>10.1f}{fps / medium:>15.2f}x")
        ok = core / medium >= TARGET[codec]
        print(f"target {TARGET[codec]}x {peer} medium (native): {'MET' if ok else 'NOT MET'}\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
