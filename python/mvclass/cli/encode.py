"""`mvclass encode VIDEO`: full + cropped streams, MV grids and the rate table."""
from __future__ import annotations

import argparse

from mvclass.cli import positive_int, writable_dir


def add_encoder_arguments(p: argparse.ArgumentParser) -> None:
    """Encoder options shared by the commands that encode."""
    p.add_argument("--codec", default="h264", help="h264 or hevc (default h264)")
    p.add_argument("--search-range", type=int, default=16)
    p.add_argument("--ref-frames", type=int, default=3)
    p.add_argument("--intra-period", type=int, default=0, help="0: only the first picture is IDR")
    p.add_argument("--fps", type=float, default=None, help="override the container's frame rate")
    p.add_argument("--max-frames", type=positive_int, default=None)
    p.add_argument("--width", type=positive_int, default=None, help="frame width of a raw .yuv input")
    p.add_argument("--height", type=positive_int, default=None, help="frame height of a raw .yuv input")
    g = p.add_argument_group("H.264 only")
    g.add_argument("--partitions", choices=("all", "16x16"), default=None)
    g.add_argument("--entropy", choices=("cavlc", "cabac"), default=None,
                   help="entropy coder (default cavlc, as in the paper's JM configuration; HEVC is always CABAC)")
    g = p.add_argument_group("HEVC only")
    g.add_argument("--ctu-size", type=int, default=None)
    g.add_argument("--max-depth", type=int, default=None)
    g.add_argument("--tmvp", choices=("on", "off"), default=None)
    g.add_argument("--sao", choices=("on", "off"), default=None)
    g.add_argument("--rdoq", choices=("on", "off"), default=None,
                   help="rate-distortion optimised quantisation (default off: slower, about 4%% less rate)")


def encoder_kwargs(args) -> dict:
    onoff = lambda v: None if v is None else v == "on"
    return dict(codec=args.codec, search_range=args.search_range, ref_frames=args.ref_frames,
                intra_period=args.intra_period, fps=args.fps, max_frames=args.max_frames,
                **({"width": args.width, "height": args.height} if args.width or args.height else {}),
                partitions=args.partitions, entropy=args.entropy, ctu_size=args.ctu_size, max_depth=args.max_depth,
                tmvp=onoff(args.tmvp), sao=onoff(args.sao), rdoq=onoff(args.rdoq))


def rate_table(results) -> str:
    """The paper's rate table (kbit/s) for a list of EncodeResults."""
    lines = [f"{'codec':<6}{'QP':>4}{'frames':>8}{'Rorig':>10}{'Rcropped':>10}{'Rmotion':>10}{'PSNR-Y':>9}",
             "-" * 57]
    for r in results:
        rt = r.rates
        lines.append(f"{r.codec:<6}{r.qp:>4}{r.frames:>8}{rt.orig:>10.1f}{rt.cropped:>10.1f}{rt.motion:>10.1f}{r.psnr_y:>9.2f}")
    lines.append("(kbit/s; Rmotion = ref_idx+mvd bits for h264, mvd bins for hevc)")
    return "\n".join(lines)


def run(args) -> int:
    from mvclass.api import encode_cropped

    if args.output:
        writable_dir(args.output)  # fail now, not after encoding
    if args.stream_dir:
        writable_dir(args.stream_dir)
    results = []
    for qp in args.qp:
        out = None
        if args.stream_dir:  # frame by frame into the directory (mvclass.stream's layout), bounded memory
            from pathlib import Path

            out = Path(args.stream_dir) / f"qp{qp}" if len(args.qp) > 1 else args.stream_dir
        r = encode_cropped(args.video, qp=qp, progress=not args.quiet, out=out, **encoder_kwargs(args))
        if out is not None and not args.quiet:
            print(f"wrote {out}/ (full and cropped streams, .npy grids, meta.json)")
        results.append(r)
        if args.output:
            name = r.name if len(args.qp) == 1 else f"{r.name}_qp{qp}"
            paths = r.save(args.output, name)
            if not args.quiet:
                print("wrote " + ", ".join(str(p) for p in paths.values()))
    print(rate_table(results))
    return 0


def register(sub) -> None:
    p = sub.add_parser("encode", help="encode a video into full and cropped streams; print Rorig/Rcropped/Rmotion",
                       description="Encode VIDEO into a full and a cropped (no P-frame residual) bitstream.")
    p.add_argument("video", help="video file (anything FFmpeg reads, .y4m, raw .yuv with --width/--height)")
    p.add_argument("--qp", type=int, nargs="+", default=[30], help="one or more QPs (default 30)")
    p.add_argument("-o", "--output", help="directory for <name>.264/.265, <name>.cropped.*, <name>.npz")
    p.add_argument("--stream-dir", help="write streams, grids (.npy) and rates into this directory frame by frame "
                   "(memory bounded in the video's length; several QPs: one qp<QP>/ each)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_encoder_arguments(p)
    p.set_defaults(func=run)
