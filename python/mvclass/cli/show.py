"""`mvclass show VIDEO --qp 0 30 40 51 -o out.png`: frames and MV fields across QPs (Fig. 2)."""
from __future__ import annotations


def run(args) -> int:
    from mvclass.viz import qp_figure

    opts = {"ref_frames": args.ref_frames, "search_range": args.search_range}
    if args.fps is not None:
        opts["fps"] = args.fps
    qp_figure(args.video, args.qp, codec=args.codec, frame=args.frame, out=args.output, **opts)
    print(f"wrote {args.output}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("show", help="picture of decoded frames and their MV fields at several QPs",
                       description="Encode the first FRAME+1 frames of VIDEO at each QP and draw the decoded frame "
                                   "over its 8x8 MV field (HSV colour wheel: hue = direction, saturation = length).")
    p.add_argument("video")
    p.add_argument("--qp", type=int, nargs="+", default=[0, 30, 40, 51])
    p.add_argument("--codec", default="h264")
    p.add_argument("--frame", type=int, default=10, help="which P-frame to show (default 10)")
    p.add_argument("--ref-frames", type=int, default=3)
    p.add_argument("--search-range", type=int, default=16)
    p.add_argument("--fps", type=float, default=None)
    p.add_argument("-o", "--output", default="mvclass_show.png")
    p.set_defaults(func=run)
