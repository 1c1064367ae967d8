"""Temporal (motion-vector) and spatial (IDR frame) CNNs and their fusion."""
from __future__ import annotations

from .fusion import TwoStream, fuse_probabilities, routed_predict
from .spatial import SpatialVGG16, load_pretrained
from .temporal2d import Temporal2D
from .temporal3d import Temporal3D

MODEL_NAMES = ("3d", "2d", "spatial")
# The paper's input geometry per network: frames per volume and crop side.
DEFAULT_GEOMETRY = {"3d": (160, 24), "2d": (60, 48), "spatial": (1, 224)}


def build_model(name: str, num_classes: int, frames: int | None = None, size: int | None = None,
                dropout: float = 0.5):
    """Construct a network by its CLI name ("3d", "2d" or "spatial") with the paper's geometry
    unless ``frames``/``size`` are given."""
    if name not in DEFAULT_GEOMETRY:
        raise ValueError(f"unknown model {name!r}; expected one of {MODEL_NAMES}")
    f0, s0 = DEFAULT_GEOMETRY[name]
    frames, size = frames or f0, size or s0
    if name == "3d":
        return Temporal3D(num_classes, frames=frames, size=size, dropout=dropout)
    if name == "2d":
        return Temporal2D(num_classes, frames=frames, size=size, dropout=dropout)
    return SpatialVGG16(num_classes, dropout=dropout)


__all__ = ["Temporal3D", "Temporal2D", "SpatialVGG16", "load_pretrained", "TwoStream",
           "fuse_probabilities", "routed_predict", "build_model", "MODEL_NAMES", "DEFAULT_GEOMETRY"]
