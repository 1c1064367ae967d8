"""``mvclass serve``: the classification service (cropped stream in, class out).

:mod:`.pipeline` is the synchronous pipeline (parse, MCNN choice, views, network); :mod:`.app`
the Starlette application that runs it in worker threads with dynamic batching and limits.
Starlette and uvicorn are imported only when the app is built (``pip install "mvclass[serve]"``).
"""
from __future__ import annotations

from .pipeline import (CLASSIFIERS, BadStream, LoadedModel, ParsedStream, Pipeline, Thresholds, UnsupportedStream,
                       load_models, load_thresholds, model_inputs, parse_stream, predict)

__all__ = ["CLASSIFIERS", "BadStream", "LoadedModel", "ParsedStream", "Pipeline", "Thresholds", "UnsupportedStream",
           "load_models", "load_thresholds", "model_inputs", "parse_stream", "predict"]
