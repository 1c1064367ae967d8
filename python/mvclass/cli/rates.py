"""`mvclass rates MANIFEST...`: the paper's Tables I/II from build manifests."""
from __future__ import annotations


def format_rate_table(rows) -> str:
    """Per codec: QP, mean Rorig / Rcropped / Rmotion over videos (kbit/s) and Rmotion as a
    percentage of Rorig and of Rcropped (ratios of the means)."""
    from mvclass.viz import rate_table

    table = rate_table(rows)
    out = []
    for codec in sorted({c for c, _ in table}):
        out.append(f"{codec.upper()}  (mean over videos, kbit/s)")
        out.append(f"{'QP':>4}{'videos':>8}{'Rorig':>10}{'Rcropped':>10}{'Rmotion':>10}"
                   f"{'%Rm/Rorig':>11}{'%Rm/Rcrop':>11}")
        for (c, qp), t in table.items():
            if c != codec:
                continue
            pct = lambda a, b: 100.0 * a / b if b > 0 else float("nan")
            out.append(f"{qp:>4}{t['videos']:>8}{t['r_orig']:>10.2f}{t['r_cropped']:>10.2f}{t['r_motion']:>10.2f}"
                       f"{pct(t['r_motion'], t['r_orig']):>10.1f}%{pct(t['r_motion'], t['r_cropped']):>10.1f}%")
        out.append("")
    from mvclass.api import MOTION_CATEGORIES

    defs = ", ".join(f"{c} = {' + '.join(cats)} bits" for c, cats in MOTION_CATEGORIES.items())
    out.append(f"(Rmotion: {defs} of P-pictures; percentages are ratios of the means)")
    return "\n".join(out)


def run(args) -> int:
    from mvclass.datasets import read_manifest

    rows = []
    for m in args.manifests:
        got = read_manifest(m)
        if args.split:
            got = [r for r in got if r["split"] == args.split]
        rows += got
    if not rows:
        raise ValueError("no videos in the given manifests" + (f" with split {args.split!r}" if args.split else ""))
    print(format_rate_table(rows))
    if args.plot:
        from mvclass.viz import rate_qp_plot

        rate_qp_plot(args.manifests, out=args.plot)
        print(f"wrote {args.plot}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("rates", help="print the paper's rate tables (Tables I/II) from build manifests",
                       description="Mean Rorig, Rcropped, Rmotion per codec and QP over the videos of one or more "
                                   "manifests (files or build directories).")
    p.add_argument("manifests", nargs="+", help="manifest.csv files or the directories holding them")
    p.add_argument("--split", choices=("train", "test"), help="only videos of this split")
    p.add_argument("--plot", help="also write a rate-QP plot (PNG)")
    p.set_defaults(func=run)
