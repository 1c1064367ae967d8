"""`mvclass serve`: the classification service (ASGI app under uvicorn)."""
from __future__ import annotations

import argparse


def _model_spec(text: str):
    name, sep, path = text.partition("=")
    if not sep or name not in ("3d", "2d", "spatial") or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=CHECKPOINT with NAME 3d, 2d or spatial, got {text!r}")
    return name, path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "serve", help="HTTP classification service: POST a (cropped) H.264 stream to /classify",
        description="Loads the checkpoints, then serves POST /classify (body: an H.264 Annex B stream or an "
                    "mp4; answer: top-k classes, the classifier the MCNN rule chose from R_motion, the rates "
                    "and timings), GET /health and GET /models. Requests beyond --max-concurrent get 503, "
                    "bodies over --max-body-mb 413, requests slower than --timeout 504.")
    p.add_argument("--model", action="append", type=_model_spec, required=True, metavar="NAME=CHECKPOINT",
                   help="a classifier: 3d=runs/3d/last.pt, 2d=..., spatial=... (repeat)")
    p.add_argument("--mcnn", metavar="PARAMS_JSON",
                   help='MCNN thresholds {"r_l": kbit/s, "r_h": kbit/s} (null = inf); needed with several models')
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda when available)")
    p.add_argument("--volumes", type=int, default=10, help="temporal volumes per video (x 10 crops; the paper: 10)")
    p.add_argument("--workers", type=int, default=None,
                   help="threads that parse streams and build the views (default: one per CPU, 2..16)")
    p.add_argument("--max-body-mb", type=float, default=64.0, help="largest accepted body, MiB (413 above)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per request (504 after)")
    p.add_argument("--max-concurrent", type=int, default=8, help="requests handled at once (503 beyond)")
    p.add_argument("--batch-window-ms", type=float, default=5.0, help="how long a batch waits for more requests")
    p.add_argument("--max-batch-views", type=int, default=256, help="views per forward pass")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    p.add_argument("--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mvclass.serve.app import Limits, check_limits, create_app, default_workers
    from mvclass.serve.pipeline import Pipeline, load_models, load_thresholds

    try:
        import uvicorn
    except ImportError:
        raise ValueError('mvclass serve needs uvicorn and starlette: pip install "mvclass[serve]"') from None
    specs = dict()
    for name, path in args.model:
        if name in specs:
            raise ValueError(f"--model {name}= given twice")
        specs[name] = path
    if not 0 < args.port < 65536 and args.port != 0:
        raise ValueError(f"--port must be 0..65535, got {args.port}")
    limits = check_limits(Limits(max_body=int(args.max_body_mb * 1024 * 1024), timeout=args.timeout,
                                 max_concurrent=args.max_concurrent,
                                 workers=default_workers() if args.workers is None else args.workers,
                                 batch_window=args.batch_window_ms / 1000.0, max_batch_views=args.max_batch_views))
    thresholds = load_thresholds(args.mcnn) if args.mcnn else None
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    pipeline = Pipeline(load_models(specs, args.device), thresholds, volumes=args.volumes)
    app = create_app(pipeline, limits)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
    return 0
