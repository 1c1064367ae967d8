"""The paper's test protocol: per video, 10 temporal volumes x 10 crops (4 corners + centre,
unflipped and flipped) for the temporal nets, 10 crops/flips of the IDR frame for VGG-16; softmax
scores averaged over the views; per-video correctness written in the authors' format."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class EvalResult:
    """Video-level results: names, labels, averaged probabilities (videos, classes), predictions."""
    names: list
    labels: np.ndarray
    probs: np.ndarray
    views_per_video: int

    @property
    def predictions(self) -> np.ndarray:
        return self.probs.argmax(axis=1)

    @property
    def correct(self) -> np.ndarray:
        return self.predictions == self.labels

    @property
    def accuracy(self) -> float:
        """Top-1 accuracy over videos."""
        return float(self.correct.mean()) if len(self.labels) else float("nan")

    def confusion(self) -> np.ndarray:
        """(classes, classes) counts: row = true label, column = predicted."""
        c = self.probs.shape[1]
        m = np.zeros((c, c), dtype=np.int64)
        np.add.at(m, (self.labels, self.predictions), 1)
        return m

    def write(self, out_dir: str | Path, tag: str, class_names=None) -> dict:
        """Write ``correct_vec_<tag>`` (one 0/1 per line) and ``filenames_<tag>`` (``rgb24_<name>.bin``
        per line, same order: the authors' released format), ``scores_<tag>.npz``,
        ``confusion_<tag>.png`` and ``summary_<tag>.json``. Returns the paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"correct": out / f"correct_vec_{tag}", "filenames": out / f"filenames_{tag}",
                 "scores": out / f"scores_{tag}.npz", "confusion": out / f"confusion_{tag}.png",
                 "summary": out / f"summary_{tag}.json"}
        paths["correct"].write_text("".join(f"{int(c)}\n" for c in self.correct))
        paths["filenames"].write_text("".join(f"rgb24_{n}.bin\n" for n in self.names))
        np.savez_compressed(paths["scores"], names=np.array(self.names), labels=self.labels, probs=self.probs)
        plot_confusion(self.confusion(), paths["confusion"], class_names, title=f"{tag}: top-1 {self.accuracy:.3f}")
        paths["summary"].write_text(json.dumps({"tag": tag, "videos": len(self.names), "accuracy": self.accuracy,
                                                "views_per_video": self.views_per_video}, indent=2) + "\n")
        return paths


def plot_confusion(matrix: np.ndarray, path: str | Path, class_names=None, title: str = "") -> Path:
    """Row-normalised confusion matrix as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = matrix.shape[0]
    norm = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    side = min(max(4.0, 0.12 * c + 3), 24)
    fig, ax = plt.subplots(figsize=(side, side))
    im = ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if class_names is not None and c <= 40:
        ax.set_xticks(range(c), class_names, rotation=90, fontsize=7)
        ax.set_yticks(range(c), class_names, fontsize=7)
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


class _VideoViews:
    """Map-style dataset: item i = (views of video i, label) so loader workers build the views."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        return self.dataset.test_views(i), self.dataset.records[i].label


def _worker_init(_):
    import torch

    torch.set_num_threads(1)


def evaluate(model, dataset, *, device=None, batch_size: int = 50, workers: int = 2, progress: bool = True) -> EvalResult:
    """Score every video of ``dataset`` (``MotionVolumes`` or ``IDRFrames``, test split) with the
    view protocol: the softmax of each view, averaged over all of the video's views."""
    import torch
    from torch.utils.data import DataLoader

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    model = model.to(device).eval()
    loader = DataLoader(_VideoViews(dataset), batch_size=None, shuffle=False, num_workers=workers,
                        worker_init_fn=_worker_init if workers else None, pin_memory=device.type == "cuda")
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(dataset), unit="video", desc="evaluate", dynamic_ncols=True)
    probs, labels, n_views = [], [], 0
    with torch.no_grad():
        for views, label in loader:
            views = torch.as_tensor(views)
            n_views = len(views)
            p = torch.cat([torch.softmax(model(chunk.to(device, non_blocking=True)).float(), dim=1).cpu()
                           for chunk in views.split(batch_size)])
            probs.append(p.mean(dim=0).numpy())
            labels.append(int(label))
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return EvalResult(names=[r.name for r in dataset.records], labels=np.array(labels, dtype=np.int64),
                      probs=np.stack(probs) if probs else np.zeros((0, dataset.num_classes)),
                      views_per_video=n_views)
