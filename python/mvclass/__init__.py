"""mvclass: compressed-domain video classification.

Encode a video into a full and a *cropped* H.264/HEVC bitstream (I-frame texture, P-frame
modes and motion vectors only), read the motion field, and classify from it.

Layers (each imports only the ones above it):
  _core        native encoders (cpp/jm H.264, cpp/hm HEVC)
  io           any video -> 8-bit YUV 4:2:0 frames
  grid         4x4 motion fields -> the paper's 8x8 MV grids
  decode       FFmpeg decoding of any H.264/HEVC stream, exported H.264 MVs, Annex B sniffing
  result       EncodeResult, Rates, bit categories, encoder options (shared by encoders and readers)
  stream       encode_iter() / read_iter(): frame by frame; write_frames() / load_result()
  api          encode_cropped(), whole results (out=: through stream)
  reader       read_stream() / crop(): motion, bits and cropped streams of existing streams
  mcnn         rate models and the Multi-CNN selector (numpy/scipy only)
  datasets     UCF-101 / HMDB-51 indexes, synthetic motion set, dataset builder
  flow, viz    optical-flow cross-check, pictures and plots
  models/train temporal and spatial CNNs (torch), training and evaluation
  serve        the classification service (Starlette app, batching, limits)
  cli          the `mvclass` command
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "encode_cropped": ("mvclass.api", "encode_cropped"),
    "EncodeResult": ("mvclass.result", "EncodeResult"),
    "Rates": ("mvclass.result", "Rates"),
    "read_video": ("mvclass.io", "read_video"),
    "decode_stream": ("mvclass.decode", "decode"),
    "read_stream": ("mvclass.reader", "read_stream"),
    "crop": ("mvclass.reader", "crop"),
    "StreamError": ("mvclass.reader", "StreamError"),
    "encode_iter": ("mvclass.stream", "encode_iter"),
    "read_iter": ("mvclass.stream", "read_iter"),
    "write_frames": ("mvclass.stream", "write_frames"),
    "load_result": ("mvclass.stream", "load_result"),
    "Frame": ("mvclass.stream", "Frame"),
}
_SUBMODULES = {"io", "grid", "api", "result", "decode", "mcnn", "datasets", "flow", "viz", "models", "train", "cli", "synthetic", "reader", "serve", "stream"}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str):
    # Lazy so that `import mvclass` stays cheap and torch/cv2 load only when used.
    if name in _LAZY:
        mod, attr = _LAZY[name]
        return getattr(importlib.import_module(mod), attr)
    if name in _SUBMODULES:
        return importlib.import_module(f"mvclass.{name}")
    raise AttributeError(f"module 'mvclass' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)
