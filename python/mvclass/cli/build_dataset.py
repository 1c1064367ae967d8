"""`mvclass build-dataset {ucf101,hmdb51,synthetic} ROOT OUT`: MV datasets for training."""
from __future__ import annotations


def make_videos(args) -> list:
    """The videos the arguments name (train and test lists together for ``--subset both``)."""
    from mvclass import datasets

    if args.dataset == "synthetic":
        w, h = args.size
        return list(datasets.SyntheticMotion(args.classes, args.videos_per_class, size=(w, h), frames=args.frames,
                                             seed=args.seed))
    if args.root is None:
        raise ValueError(f"{args.dataset} needs ROOT, the dataset's directory")
    cls, lists_kw = ((datasets.UCF101, "lists_dir") if args.dataset == "ucf101" else (datasets.HMDB51, "splits_dir"))
    videos = []
    for subset in (["train", "test"] if args.subset == "both" else [args.subset]):
        ds = cls(args.root, split=args.split, train=subset == "train", skip_missing=args.skip_missing,
                 **{lists_kw: args.lists})
        if ds.skipped:
            print(f"{subset}: {len(ds.skipped)} listed videos missing, skipped")
        if args.verify:
            bad = ds.verify(skip=True)
            print(f"{subset}: {len(bad)} unreadable videos skipped" + "".join(f"\n  {n}: {e}" for n, e in bad[:20]))
        videos += list(ds)
    return videos


def run(args) -> int:
    from mvclass.cli.encode import encoder_kwargs
    from mvclass.datasets import build_mv_dataset

    videos = make_videos(args)
    opts = encoder_kwargs(args)
    codecs = args.codecs or [opts["codec"]]
    opts = {k: v for k, v in opts.items() if v is not None and k != "codec"}
    failed = 0
    if args.source == "stream":  # the videos' own streams, read as they are: no QP, no encoder options
        opts = {"source": "stream", **({"fps": args.fps} if args.fps is not None else {})}
    for codec in codecs:
        for qp in (args.qp if args.source == "encode" else [args.qp[0]]):
            out = f"{args.out}/{codec}_qp{qp}" if args.source == "encode" else f"{args.out}/{codec}_stream"
            report = build_mv_dataset(videos, out, codec=codec, qp=qp, workers=args.workers,
                                      scheduler=args.scheduler, progress=not args.quiet, **opts)
            print(report)
            for name, err in report.failed[:10]:
                print(f"  failed {name}: {err}")
            failed += len(report.failed)
    return 1 if failed else 0


def register(sub) -> None:
    from mvclass.cli.encode import add_encoder_arguments

    p = sub.add_parser("build-dataset", help="encode a whole dataset into per-video MV files and a manifest",
                       description="Encode every video of a dataset; writes OUT/<codec>_qp<QP>/{videos/*.npz,"
                                   "manifest.csv,errors.csv}. Resumable: rerun the same command to finish.")
    p.add_argument("dataset", choices=("ucf101", "hmdb51", "synthetic"))
    p.add_argument("root", nargs="?", help="dataset directory (not used for synthetic)")
    p.add_argument("out", help="output directory")
    p.add_argument("--qp", type=int, nargs="+", default=[30], help="one or more QPs (default 30)")
    p.add_argument("--codecs", nargs="+", choices=("h264", "hevc"), help="several codecs (overrides --codec)")
    p.add_argument("--split", type=int, default=1, choices=(1, 2, 3))
    p.add_argument("--subset", choices=("train", "test", "both"), default="both",
                   help="which split lists to encode (synthetic: always all videos)")
    p.add_argument("--lists", help="split-list directory (default ROOT/ucfTrainTestlist or "
                                   "ROOT/testTrainMulti_7030_splits)")
    p.add_argument("--skip-missing", action="store_true", help="leave out listed videos missing on disk")
    p.add_argument("--verify", action="store_true", help="decode each video's first frame first; skip unreadable")
    p.add_argument("--workers", type=int, default=None, help="local worker processes (default: all cores)")
    p.add_argument("--source", choices=("encode", "stream"), default="encode",
                   help="encode each video (default), or read its own H.264 stream without re-encoding "
                        "(output OUT/<codec>_stream; --qp and encoder options do not apply)")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address, e.g. tcp://host:8786")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    g = p.add_argument_group("synthetic set")
    g.add_argument("--classes", type=int, default=10)
    g.add_argument("--videos-per-class", type=int, default=10)
    g.add_argument("--frames", type=int, default=32)
    g.add_argument("--size", type=int, nargs=2, default=(320, 240), metavar=("W", "H"))
    g.add_argument("--seed", type=int, default=0)
    add_encoder_arguments(p)
    p.set_defaults(func=run)
