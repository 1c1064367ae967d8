"""The Multi-CNN (MCNN) rate-accuracy selector and its rate models (numpy/scipy only).

``fit_rmotion`` (Gamma model of R_motion), ``fit_rate_model`` (paper eq. 3), :class:`MCNN`
(eq. 6 / eq. 7, ``solve``, ``rate_accuracy_curve``), ``select`` / ``evaluate`` (measured
accuracy and rate on real videos), per-video input rates from frame bits (:mod:`.rates`),
loaders for the authors' per-video results (:mod:`.paper`) and the paper's figures (:mod:`.plots`).
"""
from __future__ import annotations

from .model import (MCNN, Evaluation, GammaModel, LinearRate, RateAccuracyCurve, Solution, evaluate,
                    fit_rate_model, fit_rmotion, select)
from .paper import FUSED_CLASSIFIERS, PaperData, load_paper, split_videos, video_key
from .rates import (FPS, T2D, T3D, InputRates, VideoRates, input_rates, motion_rate, rates_from_frame_bits,
                    video_rates, window_bits)

__all__ = [
    "MCNN", "Evaluation", "GammaModel", "LinearRate", "RateAccuracyCurve", "Solution",
    "evaluate", "fit_rate_model", "fit_rmotion", "select",
    "FUSED_CLASSIFIERS", "PaperData", "load_paper", "split_videos", "video_key",
    "FPS", "T2D", "T3D", "InputRates", "VideoRates", "input_rates", "motion_rate",
    "rates_from_frame_bits", "video_rates", "window_bits",
]
