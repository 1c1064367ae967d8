"""The classification pipeline of the service, without HTTP: stream bytes -> motion and rates
(:func:`mvclass.read_stream`) -> the classifier the MCNN rule picks from R_motion -> the test
views :mod:`mvclass.train.data` builds for evaluation -> softmax averaged over the views.

:class:`Pipeline` runs it synchronously (``classify``); the ASGI app (:mod:`.app`) runs the same
steps in worker threads and batches the network calls of concurrent requests.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CLASSIFIERS = ("3d", "2d", "spatial")


class BadStream(ValueError):
    """The body is not a stream the service can read (422)."""


class UnsupportedStream(ValueError):
    """The body is a stream of a codec the reader does not parse yet (415)."""


@dataclass(frozen=True)
class Thresholds:
    """The MCNN rule's {R_L, R_H} in kbit/s (``inf`` allowed)."""
    r_l: float
    r_h: float

    def select(self, r_motion: float) -> str:
        from mvclass.mcnn import select

        return str(select(r_motion, self.r_l, self.r_h)[0])

    def reachable(self) -> set:
        """The classifiers this rule can choose."""
        out = set()
        if self.r_l > 0:
            out.add("3d")
        if self.r_h > self.r_l:
            out.add("2d")
        if math.isfinite(self.r_h):
            out.add("spatial")
        return out

    def as_json(self) -> dict:
        return {"r_l": _json_rate(self.r_l), "r_h": _json_rate(self.r_h)}


def _json_rate(v: float):
    return None if math.isinf(v) else float(v)


def _threshold_value(d: dict, key: str, path) -> float:
    if key not in d:
        raise ValueError(f"{path}: MCNN parameters lack {key!r} (expected {{\"r_l\": kbit/s, \"r_h\": kbit/s}})")
    v = d[key]
    if v is None or (isinstance(v, str) and v.strip().lower() in ("inf", "infinity")):
        return math.inf
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"{path}: {key} must be a number of kbit/s, null or \"inf\" (got {v!r})")
    v = float(v)
    if math.isnan(v) or v < 0:
        raise ValueError(f"{path}: {key} must be >= 0 (got {v!r})")
    return v


def load_thresholds(path: str | Path) -> Thresholds:
    """MCNN thresholds from a JSON file ``{"r_l": 12.5, "r_h": 40.0}`` (kbit/s; ``null`` or
    ``"inf"`` for infinity), e.g. the ``r_l`` / ``r_h`` of :meth:`mvclass.mcnn.MCNN.solve`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MCNN parameters not found: {path}")
    try:
        d = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a JSON file ({e})") from None
    if not isinstance(d, dict):
        raise ValueError(f"{path}: expected a JSON object with r_l and r_h")
    t = Thresholds(_threshold_value(d, "r_l", path), _threshold_value(d, "r_h", path))
    if t.r_l > t.r_h:
        raise ValueError(f"{path}: r_l ({t.r_l:g}) must be <= r_h ({t.r_h:g})")
    return t


@dataclass
class LoadedModel:
    name: str
    model: object  # torch.nn.Module in eval mode, on ``device``
    config: dict
    device: object

    @property
    def frames(self) -> int:
        return int(self.config.get("frames") or 1)

    @property
    def size(self) -> int:
        return int(self.config["size"])


@dataclass
class ParsedStream:
    """What the service measures of a stream before any network runs."""
    codec: str
    width: int
    height: int
    frames: int
    fps: float
    rates: dict  # kbit/s: orig, cropped, motion
    motion: np.ndarray  # int16 (P, H8, W8, 2) quarter-pel, P/B frames only
    mvd: np.ndarray  # the same for motion-vector differences
    bitstream: bytes  # Annex B (what FFmpeg decodes for the spatial net)
    seconds: float


# The most 4x4 blocks a body's pictures may hold (about 1.2 GB of motion arrays): the body-size
# limit alone does not bound them, since a few bytes of skipped pictures can claim a large size.
MAX_BLOCKS = 64 * 2**20


def parse_stream(body: bytes) -> ParsedStream:
    """Read the motion and rates of an H.264 or HEVC (Annex B or container) body. Raises
    :class:`UnsupportedStream` for codecs the readers do not parse and
    :class:`BadStream` for anything unreadable; never returns partial results."""
    import warnings

    from mvclass import reader
    from mvclass.train.data import p_frame_motion

    t0 = time.perf_counter()
    if not body:
        raise BadStream("empty body: expected an H.264 or HEVC stream (Annex B or mp4)")
    try:
        _, codec, _, _ = reader.load_stream(bytes(body))
    except ValueError as e:
        raise BadStream(f"not a readable video stream: {_short(e)}") from None
    if codec not in reader.READ_CODECS:
        raise UnsupportedStream(f"{codec} streams cannot be read yet (readable: {', '.join(reader.READ_CODECS)})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = reader.read_stream(bytes(body), codec, strict=True, max_blocks=MAX_BLOCKS)
        if r.frames < 1:
            raise ValueError("no picture in the stream")
        types = r.frame_bits["type"]
        if str(types[0]) != "I":
            raise ValueError(f"the stream does not start with an I picture (got {types[0]!r})")
        motion, mvd = p_frame_motion(r.mv, types), p_frame_motion(r.mvd, types)
    except (ValueError, RuntimeError, MemoryError, OverflowError) as e:  # StreamError is a ValueError
        raise BadStream(f"unreadable {codec} stream: {_short(e)}") from None
    rates = {"orig": float(r.rates.orig), "cropped": float(r.rates.cropped), "motion": float(r.rates.motion)}
    return ParsedStream(codec, int(r.width), int(r.height), int(r.frames), float(r.fps), rates, motion, mvd,
                        r.bitstream, time.perf_counter() - t0)


def _finite(x):
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _short(e: Exception) -> str:
    text = " ".join(str(e).split())
    return (text[:300] + "...") if len(text) > 300 else (text or type(e).__name__)


def first_picture(parsed: ParsedStream) -> np.ndarray:
    """The stream's first picture, RGB uint8 (H, W, 3), decoded by FFmpeg."""
    from mvclass.datasets.build import decode_first_frame

    try:
        return decode_first_frame(parsed.bitstream, parsed.codec)
    except Exception as e:  # av errors on data that parsed but does not decode
        raise BadStream(f"FFmpeg cannot decode the first picture: {_short(e)}") from None


def model_inputs(m: LoadedModel, parsed: ParsedStream, volumes: int = 10) -> np.ndarray:
    """The test views the network ``m`` gets, built exactly as :func:`mvclass.train.evaluate` does
    for a stored video (:func:`~mvclass.train.data.motion_test_views` /
    :func:`~mvclass.train.data.idr_test_views`, with the checkpoint's geometry, mean MV and flips)."""
    from mvclass.train.data import idr_test_views, motion_test_views

    flip = bool(m.config.get("flip", True))
    if m.name == "spatial":
        return idr_test_views(first_picture(parsed), size=m.size, flip=flip)
    raw = parsed.mvd if m.config.get("use_mvd") else parsed.motion
    return motion_test_views(raw, frames=m.frames, size=m.size, layout=m.name, mean_mv=m.config.get("mean_mv"),
                             test_volumes=volumes, flip=flip)


def predict(m: LoadedModel, batches: list, max_views: int = 256) -> list:
    """Video-level probabilities for each array of views in ``batches`` (one forward pass over all
    of them, in chunks of ``max_views``): the softmax of every view, averaged per array."""
    import torch

    counts = [len(b) for b in batches]
    x = torch.from_numpy(np.concatenate(batches) if len(batches) > 1 else batches[0])
    with torch.inference_mode():
        p = torch.cat([torch.softmax(m.model(c.to(m.device, non_blocking=True)).float(), dim=1).cpu()
                       for c in x.split(max_views)])
    return [part.mean(dim=0).numpy().astype(np.float64) for part in p.split(counts)]


def load_models(specs: dict, device=None) -> dict:
    """``{"3d": path, ...}`` -> ``{"3d": LoadedModel}``; checks that each checkpoint holds the
    network it is named for and that all of them share one class list."""
    import torch

    from mvclass.train.loop import load_model

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    out = {}
    for name, path in specs.items():
        if name not in CLASSIFIERS:
            raise ValueError(f"unknown classifier {name!r}; expected one of {CLASSIFIERS}")
        model, cfg = load_model(path, device=device)
        if cfg.get("model") != name:
            raise ValueError(f"{path} holds a {cfg.get('model')!r} network, not {name!r}")
        out[name] = LoadedModel(name, model, cfg, device)
    classes = {n: tuple(class_names(m)) for n, m in out.items()}
    if len(set(classes.values())) > 1:
        raise ValueError(f"the checkpoints disagree on the classes: {classes}")
    return out


def class_names(m: LoadedModel) -> list:
    names = m.config.get("class_names")
    n = int(m.config["num_classes"])
    return [str(c) for c in names] if names and len(names) == n else [str(i) for i in range(n)]


def top_k(probs: np.ndarray, names: list, k: int) -> list:
    order = np.argsort(-probs, kind="stable")[:k]
    return [{"label": int(i), "class": names[i], "probability": float(probs[i])} for i in order]


class Pipeline:
    """Models + MCNN rule, run synchronously in the calling thread."""

    def __init__(self, models: dict, thresholds: Thresholds | None = None, *, volumes: int = 10):
        if not models:
            raise ValueError("at least one model is needed")
        if thresholds is None:
            if len(models) != 1:
                raise ValueError(f"{len(models)} models need MCNN thresholds (--mcnn) to choose among them")
            only = next(iter(models))
            thresholds = {"3d": Thresholds(math.inf, math.inf), "2d": Thresholds(0.0, math.inf),
                          "spatial": Thresholds(0.0, 0.0)}[only]
        missing = sorted(thresholds.reachable() - set(models))
        if missing:
            raise ValueError(f"the MCNN thresholds {thresholds.as_json()} can choose {missing}, "
                             f"but no such model is loaded (--model {missing[0]}=CHECKPOINT)")
        if volumes < 1:
            raise ValueError(f"volumes must be >= 1, got {volumes}")
        self.models, self.thresholds, self.volumes = models, thresholds, int(volumes)
        self.class_names = class_names(next(iter(models.values())))

    def choose(self, parsed: ParsedStream, requested: str | None = None) -> tuple[str, str]:
        """(classifier, 'request' | 'mcnn')."""
        if requested is not None:
            if requested not in self.models:
                raise KeyError(requested)
            return requested, "request"
        return self.thresholds.select(parsed.rates["motion"]), "mcnn"

    def describe(self, parsed: ParsedStream, name: str, how: str, probs: np.ndarray, k: int, timings: dict) -> dict:
        """The JSON answer (non-finite numbers, which JSON cannot hold, become null)."""
        return _finite({"classifier": name, "selected_by": how, "thresholds": self.thresholds.as_json(),
                "rates": parsed.rates, "codec": parsed.codec, "width": parsed.width, "height": parsed.height,
                "frames": parsed.frames, "fps": parsed.fps, "top": top_k(probs, self.class_names, k),
                "timings_ms": {key: round(1000 * v, 3) for key, v in timings.items()}})

    def classify(self, body: bytes, *, classifier: str | None = None, k: int = 5) -> dict:
        t0 = time.perf_counter()
        parsed = parse_stream(body)
        name, how = self.choose(parsed, classifier)
        t1 = time.perf_counter()
        views = model_inputs(self.models[name], parsed, self.volumes)
        t2 = time.perf_counter()
        (probs,) = predict(self.models[name], [views])
        t3 = time.perf_counter()
        return self.describe(parsed, name, how, probs, k, {"parse": parsed.seconds, "preprocess": t2 - t1,
                                                           "inference": t3 - t2, "total": t3 - t0})
