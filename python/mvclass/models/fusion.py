"""Two-stream fusion (mean of softmax scores) and the MCNN-routed prediction."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

CHOICES = ("3d", "2d", "spatial")


def fuse_probabilities(*probs):
    """Mean of per-classifier probability arrays (numpy or torch, same shape)."""
    if not probs:
        raise ValueError("fuse_probabilities needs at least one array")
    shapes = {tuple(p.shape) for p in probs}
    if len(shapes) != 1:
        raise ValueError(f"probability arrays differ in shape: {sorted(shapes)}")
    return sum(probs) / len(probs)


class TwoStream(nn.Module):
    """Temporal + spatial network; ``forward(volume, frame)`` returns the mean of both softmaxes."""

    def __init__(self, temporal: nn.Module, spatial: nn.Module):
        super().__init__()
        self.temporal, self.spatial = temporal, spatial

    def forward(self, volume: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
        pt = torch.softmax(self.temporal(volume), dim=1)
        ps = torch.softmax(self.spatial(frame), dim=1)
        if pt.shape != ps.shape:
            raise ValueError(f"temporal scores {tuple(pt.shape)} and spatial scores {tuple(ps.shape)} differ")
        return (pt + ps) / 2

    @torch.no_grad()
    def predict(self, volume: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
        """Class index of the fused score per sample."""
        return self(volume, frame).argmax(dim=1)


def routed_predict(choices: Sequence[str], probs_3d, probs_2d, probs_spatial, fuse: bool = True) -> np.ndarray:
    """MCNN-routed class per video: each video is classified by the network its choice names.

    ``probs_*`` are (videos, classes) video-level scores. With ``fuse`` (the paper's 3D-CNN-F and
    2D-CNN-F), "3d" and "2d" use the temporal score averaged with the spatial one; "spatial" uses
    the spatial score alone."""
    p3, p2, ps = (np.asarray(p, dtype=np.float64) for p in (probs_3d, probs_2d, probs_spatial))
    choices = np.asarray(choices)
    if not (p3.shape == p2.shape == ps.shape) or p3.ndim != 2 or len(choices) != len(p3):
        raise ValueError(f"routed_predict: {len(choices)} choices and score arrays of shapes "
                         f"{p3.shape}, {p2.shape}, {ps.shape} do not line up")
    unknown = sorted(set(choices.tolist()) - set(CHOICES))
    if unknown:
        raise ValueError(f"unknown classifier choices {unknown}; expected one of {CHOICES}")
    if fuse:
        p3, p2 = (p3 + ps) / 2, (p2 + ps) / 2
    scores = np.where((choices == "3d")[:, None], p3, np.where((choices == "2d")[:, None], p2, ps))
    return scores.argmax(axis=1)
