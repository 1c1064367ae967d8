"""The 3D temporal CNN on long motion-vector volumes (MVCNN 3D network of Chadha et al.)."""
from __future__ import annotations

import torch
from torch import nn

from ._layers import init_output_layer, ConvSame3d, he_init, same_output


class Temporal3D(nn.Module):
    """3D CNN over a (B, 2, frames, size, size) volume of (dx, dy) motion vectors.

    conv3d 3x3x3/64 stride (2,1,1) -> maxpool 2x2x2 -> conv3d 3x3x3/128 stride (2,1,1) -> maxpool
    -> 3 x conv3d 2x2x2/256 -> maxpool -> fc 2048 -> fc 2048 -> num_classes; PReLU after every
    conv/fc, dropout on both fc layers, 'same' padding. The paper's input is frames=160, size=24
    (about 29.5M parameters for 101 classes); shorter volumes and smaller crops only change the
    fc input size (handy for CPU tests)."""

    def __init__(self, num_classes: int, frames: int = 160, size: int = 24, in_channels: int = 2,
                 dropout: float = 0.5):
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes, self.frames, self.size, self.in_channels = num_classes, frames, size, in_channels
        pool = dict(kernel_size=2, stride=2, ceil_mode=True)
        self.features = nn.Sequential(
            ConvSame3d(in_channels, 64, 3, stride=(2, 1, 1)), nn.PReLU(64), nn.MaxPool3d(**pool),
            ConvSame3d(64, 128, 3, stride=(2, 1, 1)), nn.PReLU(128), nn.MaxPool3d(**pool),
            ConvSame3d(128, 256, 2), nn.PReLU(256),
            ConvSame3d(256, 256, 2), nn.PReLU(256),
            ConvSame3d(256, 256, 2), nn.PReLU(256), nn.MaxPool3d(**pool),
        )
        t, s = frames, size
        for _ in range(2):  # strided conv then pool
            t = same_output(same_output(t, 2), 2)
            s = same_output(s, 2)
        t, s = same_output(t, 2), same_output(s, 2)
        if frames < 1 or size < 1:
            raise ValueError(f"frames and size must be positive, got {frames}, {size}")
        self.feature_shape = (256, t, s, s)
        self.classifier = nn.Sequential(
            nn.Linear(256 * t * s * s, 2048), nn.PReLU(), nn.Dropout(dropout),
            nn.Linear(2048, 2048), nn.PReLU(), nn.Dropout(dropout),
            nn.Linear(2048, num_classes),
        )
        he_init(self)
        init_output_layer(self.classifier[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = (self.in_channels, self.frames, self.size, self.size)
        if x.dim() != 5 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"Temporal3D expects input (B, {', '.join(map(str, expected))}), got {tuple(x.shape)}")
        return self.classifier(torch.flatten(self.features(x), 1))
