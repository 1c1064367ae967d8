"""The training loop: SGD with momentum and step decay, checkpoints with exact resume, CSV /
TensorBoard metrics, progress bar, CPU/CUDA and DistributedDataParallel under ``torchrun``."""
from __future__ import annotations

import csv
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CHECKPOINT_NAME = "last.pt"
METRICS_NAME = "metrics.csv"


@dataclass
class FitResult:
    """What a call to :func:`fit` did: iterations reached, the loss of every iteration run in this
    call (this process's batch share), and where the last checkpoint is."""
    start_iteration: int
    iteration: int
    losses: list = field(default_factory=list)
    checkpoint: Path | None = None
    seconds: float = 0.0
    samples_per_second: float = 0.0


def distributed_context():
    """(rank, world_size, local_rank) from torchrun's environment; (0, 1, 0) otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


def _rng_state():
    """The RNG states as plain types only (tensors, ints, floats, lists), so that checkpoints load
    with ``torch.load(weights_only=True)``."""
    import torch

    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = {"torch": torch.get_rng_state(),
             "numpy": {"kind": str(kind), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
                       "pos": int(pos), "has_gauss": int(has_gauss), "gauss": float(gauss)},
             "python": {"version": int(version), "state": [int(v) for v in internal], "gauss_next": gauss_next}}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    n, p = state["numpy"], state["python"]
    if isinstance(n, dict):
        n = (n["kind"], np.asarray(n["keys"].numpy(), dtype=np.uint32), n["pos"], n["has_gauss"], n["gauss"])
    np.random.set_state(n)
    if isinstance(p, dict):
        p = (p["version"], tuple(p["state"]), p["gauss_next"])
    random.setstate(p)
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"][:torch.cuda.device_count()])


def _numpy_safe_globals() -> list:
    """numpy's array reconstruction (plain numeric arrays only; anything else inside still goes
    through the weights-only unpickler)."""
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    extra = [np.ndarray, np.dtype, _reconstruct]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        extra += [getattr(dtypes, n) for n in ("UInt32DType", "Int64DType", "Float64DType", "Float32DType")
                  if hasattr(dtypes, n)]
    return extra


_NUMPY_SAFE_GLOBALS = _numpy_safe_globals()


def save_checkpoint(path: Path, payload: dict) -> Path:
    """Write atomically: a crash mid-write leaves the previous checkpoint intact."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint written by :func:`fit`."""
    import torch

    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        # weights_only: a checkpoint is data, never code (a pickle could run anything on load).
        # Checkpoints hold only tensors and plain Python values; numpy arrays (the RNG state of
        # checkpoints written before mvclass stored it as a tensor) are allow-listed explicitly.
        with torch.serialization.safe_globals(_NUMPY_SAFE_GLOBALS):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle.UnpicklingError, RuntimeError (not a zip), EOFError, ...
        why = str(e).strip().splitlines()
        detail = next((line.strip() for line in why if "WeightsUnpickler error" in line), why[0] if why else "")
        detail = detail.replace("WeightsUnpickler error: ", "").split(". Please use")[0]
        raise ValueError(f"{path}: not a loadable mvclass checkpoint ({type(e).__name__}: {detail[:300]}); "
                         "checkpoints are loaded with torch.load(weights_only=True) and may hold only "
                         "tensors and plain values") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "iteration" not in ckpt:
        raise ValueError(f"{path}: not an mvclass training checkpoint")
    return ckpt


def load_model(checkpoint: str | Path, device=None):
    """Rebuild the network saved in a checkpoint; returns (model in eval mode, config dict)."""
    from mvclass.models import build_model

    ckpt = load_checkpoint(checkpoint)
    cfg = ckpt.get("config") or {}
    if "model" not in cfg or "num_classes" not in cfg:
        raise ValueError(f"{checkpoint}: checkpoint has no model config (model name, num_classes)")
    model = build_model(cfg["model"], cfg["num_classes"], frames=cfg.get("frames"), size=cfg.get("size"))
    model.load_state_dict(ckpt["model"])
    if device is not None:
        model.to(device)
    return model.eval(), cfg


def _worker_init(_):
    import torch

    torch.set_num_threads(1)  # workers only slice and resize; leave the cores to the model


def fit(model, dataset, *, iters: int = 90_000, batch_size: int = 64, lr: float = 1e-2, momentum: float = 0.9,
        weight_decay: float = 5e-4, lr_step: int = 30_000, lr_gamma: float = 0.1, out_dir: str | Path | None = None,
        resume: bool | str | Path = False, device=None, workers: int = 4, seed: int = 0,
        checkpoint_every: int = 1000, log_every: int = 20, progress: bool = True, config: dict | None = None,
        deterministic: bool = False, clip_grad_norm: float | None = None) -> FitResult:
    """Train ``model`` on ``dataset`` (items ``dataset[(index, position)] -> (input, label)``, e.g.
    :class:`~mvclass.train.data.MotionVolumes`) with the paper's recipe: SGD momentum 0.9, batch 64,
    lr 1e-2 divided by 10 every 30k iterations, 90k iterations (all configurable).

    ``out_dir`` receives ``last.pt`` (model, optimiser, scheduler, iteration, RNG states, ``config``)
    every ``checkpoint_every`` iterations and at the end, and ``metrics.csv`` (plus TensorBoard
    events when tensorboard is installed). ``resume=True`` continues from ``out_dir/last.pt`` when
    it exists; a path resumes from that checkpoint. Sampling depends only on (seed, position), so a
    resumed run draws the same batches and, with the RNG states restored, reproduces the
    uninterrupted run. ``clip_grad_norm`` caps the global gradient norm (off by default, as in the
    paper). Under ``torchrun`` (WORLD_SIZE > 1) the model is wrapped in
    DistributedDataParallel and each process takes batch_size / world_size of every batch."""
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader

    from .data import IterationSampler

    if iters < 0 or batch_size < 1 or lr <= 0 or lr_step < 1:
        raise ValueError(f"bad schedule: iters={iters}, batch_size={batch_size}, lr={lr}, lr_step={lr_step}")
    rank, world, local_rank = distributed_context()
    distributed = world > 1
    if device is None:
        device = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if distributed:
        import torch.distributed as dist

        if not dist.is_initialized():  # the backend follows the device asked for, not the machine
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        if device.index is None:  # set_device needs an explicit index
            device = torch.device("cuda", local_rank if distributed else torch.cuda.current_device())
        torch.cuda.set_device(device)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    model.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=lr_step, gamma=lr_gamma)
    out_dir = Path(out_dir) if out_dir is not None else None
    config = dict(config or {})
    config.update(seed=seed, batch_size=batch_size, lr=lr, momentum=momentum, weight_decay=weight_decay,
                  lr_step=lr_step, lr_gamma=lr_gamma, clip_grad_norm=clip_grad_norm)

    start_iter = 0
    ckpt_path = None
    if resume:
        ckpt_path = Path(resume) if not isinstance(resume, bool) else (out_dir / CHECKPOINT_NAME if out_dir else None)
        if ckpt_path is None:
            raise ValueError("resume=True needs out_dir (or pass the checkpoint path)")
        if not isinstance(resume, bool) and not ckpt_path.exists():
            raise FileNotFoundError(f"checkpoint to resume not found: {ckpt_path}")
    if ckpt_path is not None and ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        start_iter = int(ckpt["iteration"])
        rngs = ckpt.get("rng") or []
        if rank < len(rngs):
            _set_rng_state(rngs[rank])
        else:
            torch.manual_seed(seed + 1000 * rank + start_iter)
    else:
        torch.manual_seed(seed + 1000 * rank)
        np.random.seed((seed + rank) & 0xFFFFFFFF)
        random.seed(seed + rank)

    train_model = model
    if distributed:
        from torch.nn.parallel import DistributedDataParallel

        train_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    sampler = IterationSampler(len(dataset), batch_size, iters=iters, start_iter=start_iter, seed=seed,
                               rank=rank, world_size=world)
    loader = DataLoader(dataset, batch_sampler=sampler, num_workers=workers, pin_memory=device.type == "cuda",
                        worker_init_fn=_worker_init if workers else None,
                        generator=torch.Generator().manual_seed(seed),  # keeps the global RNG for dropout
                        persistent_workers=False, prefetch_factor=4 if workers else None)

    is_main = rank == 0
    writer, metrics_file, metrics = None, None, None
    if is_main and out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        metrics_path = out_dir / METRICS_NAME
        kept = []
        if start_iter > 0 and metrics_path.exists():
            # Rows logged after the checkpoint belong to the lost part of the run: drop them.
            with open(metrics_path, newline="") as f:
                kept = [r for r in csv.reader(f)][1:]
            kept = [r for r in kept if r and int(float(r[0])) <= start_iter]
        metrics_file = open(metrics_path, "w", newline="")
        metrics = csv.writer(metrics_file)
        metrics.writerow(["iteration", "loss", "accuracy", "lr", "samples_per_s", "elapsed_s"])
        metrics.writerows(kept)
        try:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(out_dir / "tensorboard"), purge_step=start_iter or None)
        except ImportError:  # tensorboard is optional
            writer = None

    bar = None
    if is_main and progress:
        from tqdm import tqdm

        bar = tqdm(total=iters, initial=start_iter, unit="it", dynamic_ncols=True, desc="train")

    def checkpoint(iteration: int):
        rng = [_rng_state()]
        if distributed:
            import torch.distributed as dist

            rng = [None] * world
            dist.all_gather_object(rng, _rng_state())
        path = None
        if is_main and out_dir is not None:
            path = save_checkpoint(out_dir / CHECKPOINT_NAME, {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "iteration": iteration, "rng": rng, "config": config})
        if distributed:
            torch.distributed.barrier()
        return path

    result = FitResult(start_iteration=start_iter, iteration=start_iter)
    t0 = time.perf_counter()
    window_loss, window_correct, window_n, window_t = 0.0, 0, 0, time.perf_counter()
    train_model.train()
    iteration = start_iter
    try:
        for x, y in loader:
            x = x.to(device, non_blocking=True)
            y = y.to(device, non_blocking=True)
            logits = train_model(x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip_grad_norm:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
            optimizer.step()
            scheduler.step()
            iteration += 1
            loss_value = float(loss.detach())
            if not np.isfinite(loss_value):
                raise FloatingPointError(f"loss became {loss_value} at iteration {iteration}; lower the learning rate")
            result.losses.append(loss_value)
            window_loss += loss_value * len(y)
            window_correct += int((logits.detach().argmax(1) == y).sum())
            window_n += len(y)
            if bar is not None:
                bar.update(1)
            if iteration % log_every == 0 or iteration == iters:
                now = time.perf_counter()
                rate = window_n * world / max(now - window_t, 1e-9)
                row = [iteration, window_loss / window_n, window_correct / window_n,
                       optimizer.param_groups[0]["lr"], rate, now - t0]
                if metrics is not None:
                    metrics.writerow([f"{v:.6g}" if isinstance(v, float) else v for v in row])
                    metrics_file.flush()
                if writer is not None:
                    writer.add_scalar("train/loss", row[1], iteration)
                    writer.add_scalar("train/accuracy", row[2], iteration)
                    writer.add_scalar("train/lr", row[3], iteration)
                    writer.add_scalar("train/samples_per_s", rate, iteration)
                if bar is not None:
                    bar.set_postfix(loss=f"{row[1]:.3f}", acc=f"{row[2]:.2f}", lr=f"{row[3]:.0e}")
                window_loss, window_correct, window_n, window_t = 0.0, 0, 0, now
            if iteration % checkpoint_every == 0 and iteration != iters:
                result.checkpoint = checkpoint(iteration) or result.checkpoint
        if iteration > start_iter or (out_dir is not None and not (out_dir / CHECKPOINT_NAME).exists()):
            result.checkpoint = checkpoint(iteration) or result.checkpoint
        elif out_dir is not None:
            result.checkpoint = out_dir / CHECKPOINT_NAME
    finally:
        if bar is not None:
            bar.close()
        if metrics_file is not None:
            metrics_file.close()
        if writer is not None:
            writer.close()
    result.iteration = iteration
    result.seconds = time.perf_counter() - t0
    done = (iteration - start_iter) * batch_size
    result.samples_per_second = done / result.seconds if result.seconds > 0 else 0.0
    return result
