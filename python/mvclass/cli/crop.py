"""`mvclass crop IN OUT`: the stream with the residual of P and B pictures removed, no re-encoding."""
from __future__ import annotations

from pathlib import Path


def run(args) -> int:
    from mvclass.reader import crop

    out = Path(args.output)
    if not out.parent.is_dir():
        raise ValueError(f"output directory does not exist: {out.parent}")
    data = crop(args.input, drop=args.drop, codec=args.codec)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    size_in = Path(args.input).stat().st_size
    print(f"wrote {out}: {len(data)} bytes ({100.0 * len(data) / max(size_in, 1):.1f}% of {args.input})")
    return 0


def register(sub) -> None:
    p = sub.add_parser("crop", help="remove the residual of P/B pictures from an existing H.264 stream",
                       description="Write the conforming stream with all residual of the named picture types "
                                   "removed, in the input's entropy mode (Annex B output).")
    p.add_argument("input", help="Annex B stream or container")
    p.add_argument("output", help="Annex B output file")
    p.add_argument("--drop", default="PB", help="picture types to crop (default PB; '' rewrites identically)")
    p.add_argument("--codec", default=None, help="h264 (default: sniffed)")
    p.set_defaults(func=run)
