"""Stream-reading speed: mvclass's stream readers against FFmpeg decoding the same stream
through PyAV (H.264 with ``export_mvs``; HEVC plainly, FFmpeg exports no HEVC motion), one thread
each, side by side in one run. Prints a table.

    python benchmarks/bench_read.py [--codec h264|hevc] [--frames 100] [--repeat 5] [--size 1280x720]

The stream: the Boxing clip scaled to 1280x720 (bicubic), encoded by libx264 preset medium
(CABAC, B-frames, 3 references, 8x8 transform) or libx265 preset medium (B-frames, WPP,
SAO, AMP off, TMVP), QP 26; and the same stream cropped by mvclass.
Targets (issues 14 and 15): the full stream read at >= 3x FFmpeg's frames/s, the cropped one at
>= 10x. The verdict is the median of per-pair ratios (ours and FFmpeg alternate, so load changes
hit both).
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from common import BOXING  # noqa: E402

import numpy as np  # noqa: E402

TARGET = {"full": 3.0, "cropped": 10.0}


def make_stream(frames: int, width: int, height: int, qp: int, codec: str = "h264") -> bytes:
    import av

    from _util import x264_stream, x265_stream

    scaled = []
    with av.open(str(BOXING)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i >= frames:
                break
            g = f.reformat(width=width, height=height, format="yuv420p", interpolation="BICUBIC")
            scaled.append(tuple(np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[: (height if k == 0 else height // 2),
                                                                                     : (width if k == 0 else width // 2)].copy()
                                for k, p in enumerate(g.planes)))
    return (x264_stream if codec == "h264" else x265_stream)(scaled, "", preset="medium", qp=qp)


def time_ffmpeg(data: bytes, codec: str = "h264") -> tuple[float, int]:
    from mvclass.decode import decode_frames

    t = time.perf_counter()
    n = len(decode_frames(data, codec, strict=False, export_mvs=codec == "h264"))
    return time.perf_counter() - t, n


def time_native(data: bytes, codec: str = "h264") -> tuple[float, dict]:
    from mvclass import _core

    t = time.perf_counter()
    d = (_core.read_h264 if codec == "h264" else _core.read_hevc)(data, "PB", False, True)
    return time.perf_counter() - t, d


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else 0.5 * (xs[len(xs) // 2 - 1] + xs[len(xs) // 2])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--codec", choices=("h264", "hevc"), default="h264")
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--qp", type=int, default=26)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    w, h = map(int, args.size.lower().split("x"))
    import mvclass

    codec = args.codec
    full = make_stream(args.frames, w, h, args.qp, codec)
    r = mvclass.read_stream(full)
    streams = {"full": full, "cropped": r.cropped}
    peer = "FFmpeg+export_mvs" if codec == "h264" else "FFmpeg decode"
    coder = f"libx264 medium QP {args.qp}, {r.options['entropy'].upper()}" if codec == "h264" else \
        f"libx265 medium QP {args.qp}"
    print(f"Boxing clip scaled to {w}x{h}, {r.frames} frames, {coder} "
          f"({''.join(sorted(set(r.frame_bits['type'])))} pictures); one thread; "
          f"best of {args.repeat}, verdict: median of alternating pairs\n")
    print(f"{'stream':<9}{'kbit/s':>9}{peer:>19}{'mvclass read':>14}{'read_stream':>13}{'ratio':>8}{'target':>8}")
    print("-" * 80)
    status = 0
    for name, data in streams.items():
        ff, ours, ratios = [], [], []
        for _ in range(args.repeat):
            tf, n = time_ffmpeg(data, codec)
            to, d = time_native(data, codec)
            ff.append(n / tf)
            ours.append(len(d["type"]) / to)
            ratios.append(tf / to)
        t = time.perf_counter()
        mvclass.read_stream(data)
        public = r.frames / (time.perf_counter() - t)
        ratio = median(ratios)
        kbps = len(data) * 8 / (r.frames / r.fps) / 1000
        ok = ratio >= TARGET[name]
        print(f"{name:<9}{kbps:>9.0f}{max(ff):>15.1f} f/s{max(ours):>10.1f} f/s{public:>9.1f} f/s{ratio:>7.2f}x"
              f"{TARGET[name]:>6.0f}x  {'MET' if ok else 'NOT MET'}")
        print(f"{'':<9}pairs: " + ", ".join(f"{x:.2f}" for x in ratios))
    # memory: the arrays a read returns per frame, and the process's peak growth
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    d = time_native(full, codec)[1]
    out = sum(v.nbytes for v in d.values() if isinstance(v, np.ndarray))
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"\nmemory: {out / r.frames / 1024:.0f} KiB of motion / mvd / ref / kind arrays per frame "
          f"({w // 4}x{h // 4} blocks, both lists); peak RSS grew {(rss1 - rss0) / 1024:.0f} MiB during the last read "
          f"(already at the earlier reads' peak)")
    return status


if __name__ == "__main__":
    sys.exit(main())
