"""Building blocks shared by the temporal networks: TF-style 'same' convolutions and He init."""
from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F


def same_output(size: int, stride: int) -> int:
    """Output length of a 'same'-padded convolution or pooling: ceil(size / stride)."""
    return -(-size // stride)


class ConvSame3d(nn.Conv3d):
    """Conv3d with TensorFlow 'same' padding: output = ceil(input / stride), and when the total
    padding is odd the extra element goes at the end (so a 2x2x2 kernel pads only at the end)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        # F.pad takes (last dim first): W, H, T.
        for dim, k, s in zip((4, 3, 2), reversed(self.kernel_size), reversed(self.stride)):
            n = x.shape[dim]
            total = max((same_output(n, s) - 1) * s + k - n, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


def he_init(module: nn.Module, prelu_slope: float = 0.25) -> None:
    """He (MSRA) initialisation of every conv/linear weight for PReLU units, zero biases."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, a=prelu_slope, mode="fan_in", nonlinearity="leaky_relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def pool_ceil_output(size: int, kernel: int, stride: int) -> int:
    """Output length of an unpadded ceil-mode pooling (Caffe's convention, as PyTorch computes it)."""
    if size < kernel:
        raise ValueError(f"input of size {size} is smaller than the pooling window {kernel}")
    out = math.ceil((size - kernel) / stride) + 1
    if (out - 1) * stride >= size:  # the last window must start inside the input
        out -= 1
    return out


def init_output_layer(layer: nn.Linear, std: float = 0.01) -> None:
    """Small Gaussian weights on the class layer (as in Caffe's nets), so training starts at
    loss ~ ln(classes) instead of with large random logits."""
    nn.init.normal_(layer.weight, 0.0, std)
    nn.init.zeros_(layer.bias)
