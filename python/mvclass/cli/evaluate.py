"""`mvclass evaluate`: the paper's 10x10-view test of a trained network on a manifest's test split."""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

_TAG_NAMES = {"3d": "3D", "2d": "2D", "spatial": "Spatial"}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate", help="test a trained network (10 volumes x 10 crops per video) and write correctness vectors",
        description="Averages the softmax of every view per video, prints top-1 accuracy and writes "
                    "correct_vec_<TAG> / filenames_<TAG> (the authors' format), scores_<TAG>.npz and a "
                    "confusion-matrix PNG. --fuse-with averages with another network's scores_*.npz "
                    "(two-stream fusion) and writes the fused vectors too.")
    p.add_argument("--checkpoint", required=True, help="last.pt written by mvclass train (or its folder)")
    p.add_argument("--data", required=True, metavar="MANIFEST")
    p.add_argument("--model", choices=("3d", "2d", "spatial"), help="check that the checkpoint holds this network")
    p.add_argument("--split", default="test", choices=("train", "test"))
    p.add_argument("--out", metavar="DIR", help="output folder (default: the checkpoint's folder)")
    p.add_argument("--tag", help="suffix of the output files (default e.g. 3D_QP30)")
    p.add_argument("--fuse-with", metavar="SCORES_NPZ", help="scores file of the other stream to fuse with")
    p.add_argument("--device")
    p.add_argument("--volumes", type=int, default=10, help="temporal volumes per video (the paper: 10)")
    p.add_argument("--batch-size", type=int, default=50, help="views per forward pass")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def _default_tag(model: str, manifest: Path) -> str:
    with open(manifest, newline="") as f:
        qps = {row.get("qp") for row in csv.DictReader(f)}
    qp = next(iter(qps)) if len(qps) == 1 else None
    return _TAG_NAMES[model] + (f"_QP{int(float(qp))}" if qp not in (None, "") else "")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from mvclass.train.data import dataset_for_model
    from mvclass.train.evaluate import EvalResult, evaluate
    from mvclass.train.loop import load_model

    model, cfg = load_model(args.checkpoint)
    if args.model and cfg["model"] != args.model:
        raise ValueError(f"{args.checkpoint} holds a {cfg['model']!r} model, not {args.model!r}")
    dataset = dataset_for_model(cfg["model"], args.data, args.split, frames=cfg.get("frames"), size=cfg.get("size"),
                                use_mvd=cfg.get("use_mvd", False), mean_mv=cfg.get("mean_mv"),
                                flip=cfg.get("flip", True),
                                **({"test_volumes": args.volumes} if cfg["model"] != "spatial" else {}))
    if dataset.num_classes != cfg["num_classes"]:
        raise ValueError(f"{args.data} has {dataset.num_classes} classes, the checkpoint {cfg['num_classes']}")
    result = evaluate(model, dataset, device=args.device, batch_size=args.batch_size, workers=args.workers,
                      progress=not args.no_progress)
    ckpt = Path(args.checkpoint)
    out = Path(args.out) if args.out else (ckpt if ckpt.is_dir() else ckpt.parent)
    tag = args.tag or _default_tag(cfg["model"], Path(args.data))
    result.write(out, tag, cfg.get("class_names"))
    print(f"{tag}: top-1 {result.accuracy:.4f} on {len(result.labels)} videos "
          f"({result.views_per_video} views each); files in {out}")
    if args.fuse_with:
        other_path = Path(args.fuse_with)
        if not other_path.is_file():
            raise FileNotFoundError(f"scores file not found: {other_path}")
        with np.load(other_path, allow_pickle=False) as z:
            other = dict(zip(z["names"].tolist(), z["probs"]))
        missing = [n for n in result.names if n not in other]
        if missing:
            raise ValueError(f"{other_path} lacks scores for {len(missing)} videos, e.g. {missing[:3]}")
        fused = EvalResult(result.names, result.labels,
                           (result.probs + np.stack([other[n] for n in result.names])) / 2, result.views_per_video)
        fused_tag = tag.replace(_TAG_NAMES[cfg["model"]], _TAG_NAMES[cfg["model"]] + "_Fusion", 1)
        fused.write(out, fused_tag, cfg.get("class_names"))
        print(f"{fused_tag}: top-1 {fused.accuracy:.4f} (fused with {other_path.name})")
    return 0
