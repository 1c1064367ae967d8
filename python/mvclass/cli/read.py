"""`mvclass read VIDEO...`: the rate table and bit breakdown of existing streams, no re-encoding."""
from __future__ import annotations


def breakdown(r) -> str:
    """Per picture type: count, and the full stream's bits per category (kbit)."""
    from mvclass.api import CATEGORIES

    fb = r.frame_bits
    types = [t for t in "IPB" if (fb["type"] == t).any()]
    cats = [c for c in CATEGORIES if fb[f"full_{c}"].sum() > 0]
    lines = [f"{'type':<5}{'pictures':>9}" + "".join(f"{c:>16}" for c in cats)]
    for t in types:
        sel = fb["type"] == t
        lines.append(f"{t:<5}{int(sel.sum()):>9}" + "".join(f"{fb[f'full_{c}'][sel].sum() / 1000:>16.1f}" for c in cats))
    lines.append("(kbit of the stream as read, per syntax category)")
    return "\n".join(lines)


def run(args) -> int:
    from mvclass.reader import read_stream

    for path in args.videos:
        r = read_stream(path, codec=args.codec, drop=args.drop, strict=not args.lenient, fps=args.fps)
        rt = r.rates
        types = "".join(sorted(set(r.frame_bits["type"]), key="IPB".index))
        print(f"{r.name}: {r.codec} {r.width}x{r.height}, {r.frames} pictures ({types}), {r.fps:g} fps, "
              f"{r.options['entropy'].upper()}, median QP {r.qp}")
        print(f"  Rorig {rt.orig:.1f}  Rcropped {rt.cropped:.1f}  Rmotion {rt.motion:.1f} kbit/s "
              f"(cropped: residual of {args.drop or 'no'} pictures dropped)")
        if args.breakdown:
            print(breakdown(r))
        if args.output:
            paths = r.save(args.output)
            print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def register(sub) -> None:
    p = sub.add_parser("read", help="read an existing H.264 stream: rates, motion, bits per syntax category",
                       description="Parse VIDEO (Annex B .264 or any container with H.264) without re-encoding: "
                                   "Rorig, Rcropped, Rmotion and, with -o, the cropped stream and MV grids.")
    p.add_argument("videos", nargs="+", help="streams or containers")
    p.add_argument("--codec", default=None, help="h264 (default: sniffed)")
    p.add_argument("--drop", default="PB", help="picture types whose residual the cropped stream drops (default PB)")
    p.add_argument("--fps", type=float, default=None, help="frame rate when the stream gives none")
    p.add_argument("--breakdown", action="store_true", help="also print bits per syntax category and picture type")
    p.add_argument("--lenient", action="store_true", help="keep the pictures read before a corrupt part (warns)")
    p.add_argument("-o", "--output", help="directory for <name>.264, <name>.cropped.264, <name>.npz")
    p.set_defaults(func=run)
