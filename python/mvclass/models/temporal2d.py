"""The 2D temporal CNN on short stacked motion-vector volumes (ClarifaiNet-style, as modified by the paper)."""
from __future__ import annotations

import torch
from torch import nn

from ._layers import init_output_layer, he_init, pool_ceil_output


class Temporal2D(nn.Module):
    """2D CNN over a (B, 2*frames, size, size) stack of (dx, dy) planes, interleaved per frame.

    conv 3x3/96 -> pool 3/2 -> conv 5x5/256 -> pool 3/2 -> 3 x conv 3x3/512 -> pool 3/2 -> fc 4096
    -> fc 2048 -> num_classes; PReLU, dropout on the fc layers; He initialisation. Convolutions are stride 1 with
    'same' padding; pools use Caffe's ceil rounding (48 -> 24 -> 12 -> 6). The paper's input is
    frames=60, size=48."""

    def __init__(self, num_classes: int, frames: int = 60, size: int = 48, dropout: float = 0.5):
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes, self.frames, self.size = num_classes, frames, size
        pool = dict(kernel_size=3, stride=2, ceil_mode=True)
        self.features = nn.Sequential(
            nn.Conv2d(2 * frames, 96, 3, padding=1), nn.PReLU(96), nn.MaxPool2d(**pool),
            nn.Conv2d(96, 256, 5, padding=2), nn.PReLU(256), nn.MaxPool2d(**pool),
            nn.Conv2d(256, 512, 3, padding=1), nn.PReLU(512),
            nn.Conv2d(512, 512, 3, padding=1), nn.PReLU(512),
            nn.Conv2d(512, 512, 3, padding=1), nn.PReLU(512), nn.MaxPool2d(**pool),
        )
        s = size
        for _ in range(3):
            s = pool_ceil_output(s, 3, 2)
        self.feature_shape = (512, s, s)
        self.classifier = nn.Sequential(
            nn.Linear(512 * s * s, 4096), nn.PReLU(), nn.Dropout(dropout),
            nn.Linear(4096, 2048), nn.PReLU(), nn.Dropout(dropout),
            nn.Linear(2048, num_classes),
        )
        he_init(self)
        init_output_layer(self.classifier[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = (2 * self.frames, self.size, self.size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"Temporal2D expects input (B, {', '.join(map(str, expected))}), got {tuple(x.shape)}")
        return self.classifier(torch.flatten(self.features(x), 1))
