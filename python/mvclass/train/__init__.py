"""Training and evaluation of the temporal and spatial CNNs (torch)."""
from __future__ import annotations

from .data import (IDRFrames, IterationSampler, MotionVolumes, dataset_for_model, read_manifest,
                   VideoRecord, MANIFEST_COLUMNS)
from .evaluate import EvalResult, evaluate
from .loop import FitResult, fit, load_checkpoint, load_model

__all__ = ["MotionVolumes", "IDRFrames", "IterationSampler", "dataset_for_model", "read_manifest",
           "VideoRecord", "MANIFEST_COLUMNS", "fit", "FitResult", "load_checkpoint", "load_model",
           "evaluate", "EvalResult"]
