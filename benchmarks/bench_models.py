"""Throughput of the mvclass CNNs at the paper's input sizes: training (forward + backward + SGD
step) and inference volumes/s, on CPU and on CUDA when available, side by side in one run with
the peer that must keep up with them: the MotionVolumes / IDRFrames data loader (worker
processes) reading UCF-101-sized per-video files (30x40 MV grid, 296 frames, 320x240 IDR frame).
Loader >= train throughput means the accelerator is not starved; the "mmap" rows read the motion
through memory-mapped uncompressed copies (``MotionVolumes(motion_cache=...)``, ``mvclass train
--motion-cache``) instead of inflating each video's .npz per volume.

    python benchmarks/bench_models.py [--models 3d 2d spatial] [--device cpu cuda] [--batch 64]
                                      [--steps 5] [--workers 4] [--amp]
"""
from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import numpy as np


def write_fake_set(root: Path, videos: int, frames: int = 296) -> Path:
    """UCF-101-sized per-video files in build_mv_dataset's format (random motion, random IDR)."""
    rng = np.random.default_rng(0)
    (root / "videos").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(videos):
        mv = rng.normal(0, 6, (frames, 30, 40, 2)).round().astype(np.int16)
        ft = np.array(["I" if t % 100 == 0 else "P" for t in range(frames)])
        np.savez_compressed(root / "videos" / f"v{i}.npz", mv=mv, mv_mask=np.ones(mv.shape[:3], bool), mvd=mv,
                            ref=np.zeros(mv.shape[:3], np.int8), frame_type=ft, bits_full=np.ones(frames),
                            bits_cropped=np.ones(frames), bits_motion=np.ones(frames),
                            idr=rng.integers(0, 256, (240, 320, 3), dtype=np.uint8), fps=np.float64(25),
                            label=np.int64(i % 101), codec=np.str_("h264"), qp=np.int64(30))
        rows.append({"name": f"v{i}", "path": f"videos/v{i}.npz", "label": i % 101, "label_name": str(i % 101),
                     "split": "train", "frames": frames})
    rows[0]["label"] = 100  # 101 classes
    with open(root / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return root / "manifest.csv"


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def model_throughput(name: str, device, batch: int, steps: int, amp: bool):
    """(train volumes/s, inference volumes/s) on random inputs of the paper's shape."""
    import torch
    import torch.nn.functional as F

    from mvclass.models import DEFAULT_GEOMETRY, build_model

    frames, size = DEFAULT_GEOMETRY[name]
    model = build_model(name, 101).to(device)
    shape = {"3d": (2, frames, size, size), "2d": (2 * frames, size, size), "spatial": (3, size, size)}[name]
    x = torch.randn(batch, *shape, device=device)
    y = torch.randint(0, 101, (batch,), device=device)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    ctx = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if amp else (lambda: torch.autocast(device.type, enabled=False))

    def train_step():
        with ctx():
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    model.train()
    train_step()  # warm-up (allocations, cuDNN autotune)
    _sync(device)
    t = time.perf_counter()
    for _ in range(steps):
        train_step()
    _sync(device)
    train = steps * batch / (time.perf_counter() - t)
    model.eval()
    with torch.no_grad():
        with ctx():
            model(x)
        _sync(device)
        t = time.perf_counter()
        for _ in range(steps):
            with ctx():
                model(x)
        _sync(device)
    infer = steps * batch / (time.perf_counter() - t)
    return train, infer


def loader_throughput(name: str, manifest: Path, batch: int, workers: int, batches: int,
                      motion_cache: Path | None = None) -> float:
    """Training volumes/s delivered by the DataLoader over the per-video files (with
    ``motion_cache``: through memory-mapped uncompressed copies, filled before timing)."""
    import torch
    from torch.utils.data import DataLoader

    from mvclass.train.data import IterationSampler, dataset_for_model
    from mvclass.train.loop import _worker_init

    kw = {} if motion_cache is None else {"motion_cache": motion_cache}
    ds = dataset_for_model(name, manifest, "train", mean_mv=None, cache=0, **kw)  # cold reads, as on a big dataset
    if motion_cache is not None:
        for i in range(len(ds)):
            ds.raw_motion(i)  # the one-time inflation, not what a training run keeps paying
    sampler = IterationSampler(len(ds), batch, iters=batches + 1)
    loader = DataLoader(ds, batch_sampler=sampler, num_workers=workers, worker_init_fn=_worker_init if workers else None,
                        prefetch_factor=4 if workers else None, generator=torch.Generator().manual_seed(0))
    it = iter(loader)
    next(it)  # workers started
    t = time.perf_counter()
    n = sum(len(xb) for xb, _ in it)
    return n / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["3d", "2d", "spatial"], choices=["3d", "2d", "spatial"])
    ap.add_argument("--device", nargs="+", default=None, help="default: cpu, plus cuda when available")
    ap.add_argument("--batch", type=int, default=None, help="default 64 on CUDA, 8 on CPU")
    ap.add_argument("--steps", type=int, default=None, help="timed steps (default 20 on CUDA, 2 on CPU)")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--loader-batches", type=int, default=8)
    ap.add_argument("--amp", action="store_true", help="also time bf16 autocast")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = ap.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
          + (f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        manifest = write_fake_set(Path(tmp), videos=max(16, args.workers * 4))
        for name in args.models:
            for dev in devices:
                device = torch.device(dev)
                batch = args.batch or (64 if device.type == "cuda" else 8)
                steps = args.steps or (20 if device.type == "cuda" else 2)
                for amp in ([False, True] if args.amp else [False]):
                    tr, inf = model_throughput(name, device, batch, steps, amp)
                    rows.append((name, dev + (" bf16" if amp else ""), batch, tr, inf))
                    print(f"  {rows[-1][0]:8s} {rows[-1][1]:10s} batch {batch:3d}: train {tr:9.1f}/s  infer {inf:9.1f}/s",
                          flush=True)
            lb = args.batch or (64 if "cuda" in devices else 8)
            lt = loader_throughput(name, manifest, lb, args.workers, args.loader_batches)
            rows.append((name, f"loader x{args.workers}", lb, lt, float("nan")))
            print(f"  {name:8s} loader x{args.workers}: {lt:9.1f} volumes/s", flush=True)
            if name != "spatial":  # the same loader over memory-mapped motion (--motion-cache)
                lt = loader_throughput(name, manifest, lb, args.workers, args.loader_batches, Path(tmp) / "mvcache")
                rows.append((name, f"loader x{args.workers} mmap", lb, lt, float("nan")))
                print(f"  {name:8s} loader x{args.workers} mmap: {lt:9.1f} volumes/s", flush=True)
    print()
    print(f"{'model':8s} {'device / peer':19s} {'batch':>5s} {'train vol/s':>12s} {'infer vol/s':>12s}")
    for name, dev, batch, tr, inf in rows:
        print(f"{name:8s} {dev:19s} {batch:5d} {tr:12.1f} {inf:12.1f}")


if __name__ == "__main__":
    main()
