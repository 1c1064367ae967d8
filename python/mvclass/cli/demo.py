"""`mvclass demo`: the main job on a built-in synthetic clip (nothing to download)."""
from __future__ import annotations

from mvclass.cli import positive_int, writable_dir


def run(args) -> int:
    from mvclass.api import encode_cropped
    from mvclass.cli.encode import rate_table
    from mvclass.io import sample_clip

    if args.output:
        writable_dir(args.output)  # fail now, not after encoding
    clip = sample_clip(frames=args.frames)
    results = []
    for codec in args.codec:
        for qp in args.qp:
            r = encode_cropped(clip, qp=qp, codec=codec)
            results.append(r)
            if args.output:
                r.save(args.output, f"sample_{codec}_qp{qp}")
    print(f"built-in sample: {clip.shape[0]} frames of {clip.shape[2]}x{clip.shape[1]} at 25 fps")
    print(rate_table(results))
    moving = results[-1].mv_mask[1:].mean()
    print(f"P-frame cells with a motion vector (last run): {100 * moving:.0f}%")
    return 0


def register(sub) -> None:
    p = sub.add_parser("demo", help="encode the built-in sample clip and print the rate table")
    p.add_argument("--codec", nargs="+", default=["h264", "hevc"])
    p.add_argument("--qp", type=int, nargs="+", default=[0, 30, 40, 51])
    p.add_argument("--frames", type=positive_int, default=50)
    p.add_argument("-o", "--output", help="also write the streams and grids here")
    p.set_defaults(func=run)
