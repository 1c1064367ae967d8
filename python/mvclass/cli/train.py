"""`mvclass train`: train the 3D / 2D temporal CNN or the spatial VGG-16 on a dataset manifest."""
from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train a temporal (3d, 2d) or spatial CNN on a build-dataset manifest",
        description="Train with the paper's recipe (SGD momentum 0.9, batch 64, lr 1e-2 / 10 every 30k "
                    "iterations, 90k iterations). Writes DIR/last.pt (resumable) and DIR/metrics.csv. "
                    "Under torchrun the same command trains with DistributedDataParallel.")
    p.add_argument("--model", required=True, choices=("3d", "2d", "spatial"))
    p.add_argument("--data", required=True, metavar="MANIFEST", help="manifest.csv written by build-dataset")
    p.add_argument("--out", metavar="DIR", help="output folder (default runs/<model>)")
    p.add_argument("--iters", type=int, default=90_000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--lr-step", type=int, default=30_000, help="divide the lr by 10 every this many iterations")
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--clip-grad", type=float, default=None, metavar="NORM", help="clip the gradient norm")
    p.add_argument("--frames", type=int, help="frames per volume (default 160 for 3d, 60 for 2d)")
    p.add_argument("--size", type=int, help="crop side after resizing (default 24 for 3d, 48 for 2d, 224 spatial)")
    p.add_argument("--use-mvd", action="store_true", help="train on motion-vector differences (the authors' tools)")
    p.add_argument("--no-flip", action="store_true", help="no mirroring (label sets that are not mirror-symmetric)")
    p.add_argument("--pretrained", metavar="VGG16_PTH", help="torchvision-layout VGG-16 weights for --model spatial")
    p.add_argument("--resume", action="store_true", help="continue from DIR/last.pt if it exists")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda when available)")
    p.add_argument("--workers", type=int, default=4, help="data-loading worker processes")
    p.add_argument("--motion-cache", metavar="DIR",
                   help="3d/2d: keep uncompressed, memory-mapped copies of the videos' motion in DIR "
                        "(inflated once; volumes then read only their frames: a faster loader on big datasets)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-every", type=int, default=1000)
    p.add_argument("--log-every", type=int, default=20)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from mvclass.models import DEFAULT_GEOMETRY, build_model
    from mvclass.train.data import class_names_of, dataset_for_model, num_classes_of
    from mvclass.train.loop import CHECKPOINT_NAME, distributed_context, fit, load_checkpoint

    out = Path(args.out or Path("runs") / args.model)
    frames, size = args.frames, args.size
    mean_mv = "train"
    use_mvd, flip = args.use_mvd, not args.no_flip
    if args.resume and (out / CHECKPOINT_NAME).exists():
        cfg = load_checkpoint(out / CHECKPOINT_NAME).get("config", {})
        if cfg.get("model") != args.model:
            raise ValueError(f"{out / CHECKPOINT_NAME} holds a {cfg.get('model')!r} model, not {args.model!r}")
        frames, size, use_mvd, flip = cfg["frames"], cfg["size"], cfg["use_mvd"], cfg["flip"]
        mean_mv = cfg.get("mean_mv")
    f0, s0 = DEFAULT_GEOMETRY[args.model]
    frames, size = frames or f0, size or s0
    extra = {}
    if args.motion_cache:
        if args.model == "spatial":
            raise ValueError("--motion-cache applies to the temporal models (3d, 2d), not spatial")
        extra["motion_cache"] = args.motion_cache
    dataset = dataset_for_model(args.model, args.data, "train", frames=frames, size=size, use_mvd=use_mvd,
                                mean_mv=mean_mv, seed=args.seed, flip=flip, **extra)
    num_classes = num_classes_of(args.data)
    torch.manual_seed(args.seed)
    model = build_model(args.model, num_classes, frames=frames, size=size)
    if args.pretrained:
        if args.model != "spatial":
            raise ValueError("--pretrained applies to --model spatial (VGG-16) only")
        model.load_pretrained(args.pretrained)
    config = {"model": args.model, "num_classes": num_classes, "frames": frames, "size": size,
              "use_mvd": use_mvd, "flip": flip, "class_names": class_names_of(args.data),
              "mean_mv": [float(v) for v in dataset.mean_mv] if hasattr(dataset, "mean_mv") else None,
              "manifest": str(Path(args.data).resolve())}
    result = fit(model, dataset, iters=args.iters, batch_size=args.batch_size, lr=args.lr, lr_step=args.lr_step,
                 weight_decay=args.weight_decay, clip_grad_norm=args.clip_grad, out_dir=out, resume=args.resume,
                 device=args.device, workers=args.workers, seed=args.seed, checkpoint_every=args.checkpoint_every,
                 log_every=args.log_every, progress=not args.no_progress, config=config)
    if distributed_context()[0] == 0:
        last = f"{result.losses[-1]:.4f}" if result.losses else "n/a"
        print(f"trained {args.model} from iteration {result.start_iteration} to {result.iteration} "
              f"({result.samples_per_second:.1f} volumes/s, last loss {last}); checkpoint {result.checkpoint}")
    return 0
