"""The result type shared by the encoders and the stream readers (:class:`EncodeResult`, rates,
bit categories), the encoder options' validation and the per-frame helpers. The layer below
:mod:`mvclass.stream`, :mod:`mvclass.api` and :mod:`mvclass.reader`."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from mvclass import _core

CATEGORIES: tuple[str, ...] = tuple(_core.BIT_CATEGORIES)

CODECS = {"h264": "h264", "avc": "h264", "h.264": "h264", "hevc": "hevc", "h265": "hevc", "h.265": "hevc"}
EXTENSIONS = {"h264": ".264", "hevc": ".265"}

# What each codec's reference tools count as R_motion (see shared/data/README.md):
# JM's "Motion Info" = ref_idx + mvd bits; HM's decoder statistics = mvd bins only.
MOTION_CATEGORIES = {"h264": ("ref_idx", "mvd"), "hevc": ("mvd",)}

_H264_ONLY = ("partitions", "entropy")
_HEVC_ONLY = ("ctu_size", "max_depth", "tmvp", "sao", "rdoq")


class Rates(NamedTuple):
    """Bitrates in kbit/s = bits / (frames / fps) / 1000."""

    orig: float     # full stream
    cropped: float  # I-pictures with texture, P-pictures without residual
    motion: float   # the codec's R_motion (MOTION_CATEGORIES) over P-pictures


def frame_bits_dtype() -> np.dtype:
    fields = [("type", "U1"), ("full", "f8"), ("cropped", "f8"), ("motion", "f8")]
    fields += [(f"full_{c}", "f8") for c in CATEGORIES] + [(f"cropped_{c}", "f8") for c in CATEGORIES]
    return np.dtype(fields)


@dataclass
class EncodeResult:
    """What :func:`encode_cropped` returns. Grids are (T, ceil(H/8), ceil(W/8)[, 2])."""

    codec: str
    qp: int
    width: int
    height: int
    fps: float
    frames: int
    name: str
    bitstream: bytes
    cropped: bytes
    mv: np.ndarray
    mv_mask: np.ndarray
    ref: np.ndarray
    mvd: np.ndarray
    frame_bits: np.ndarray
    psnr_y: float
    options: dict
    # The 4x4-block fields the grids are made from, (T, ceil(H/4), ceil(W/4)[, 2]).
    mv4: np.ndarray = field(repr=False)
    mvd4: np.ndarray = field(repr=False)
    ref4: np.ndarray = field(repr=False)
    kind4: np.ndarray = field(repr=False)
    recon: list | None = field(default=None, repr=False)
    # Pictures' order counts (display order) and, for streams read with B pictures, list 1.
    poc: np.ndarray | None = field(default=None, repr=False)
    mv4_l1: np.ndarray | None = field(default=None, repr=False)
    ref4_l1: np.ndarray | None = field(default=None, repr=False)
    mvd4_l1: np.ndarray | None = field(default=None, repr=False)
    # Files read through FFmpeg: the frame count their container declares (None: not said or not a
    # file) and the decoding errors seen (see mvclass.io.DecodeReport).
    frames_declared: int | None = None
    decode_errors: int = 0

    @property
    def duration(self) -> float:
        return self.frames / self.fps

    @property
    def rates(self) -> Rates:
        scale = 1.0 / (self.duration * 1000.0)
        fb = self.frame_bits
        return Rates(float(fb["full"].sum()) * scale, float(fb["cropped"].sum()) * scale,
                     float(fb["motion"].sum()) * scale)

    @property
    def bits(self) -> dict:
        fb = self.frame_bits
        return {s: {c: float(fb[f"{s}_{c}"].sum()) for c in CATEGORIES} for s in ("full", "cropped")}

    def save(self, directory, name: str | None = None) -> dict:
        """Write ``<name>.264|.265``, ``<name>.cropped.264|.265`` and ``<name>.npz``; returns the paths."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        name = name or self.name
        ext = EXTENSIONS[self.codec]
        paths = {"full": d / f"{name}{ext}", "cropped": d / f"{name}.cropped{ext}", "npz": d / f"{name}.npz"}
        paths["full"].write_bytes(self.bitstream)
        paths["cropped"].write_bytes(self.cropped)
        meta = {"codec": self.codec, "qp": self.qp, "width": self.width, "height": self.height,
                "fps": self.fps, "frames": self.frames, "psnr_y": self.psnr_y, "options": self.options}
        np.savez_compressed(paths["npz"], mv=self.mv, mv_mask=self.mv_mask, ref=self.ref, mvd=self.mvd,
                            frame_bits=self.frame_bits, rates=np.array(self.rates, np.float64),
                            meta=np.array(json.dumps(meta)))
        return paths

    def __repr__(self) -> str:
        r = self.rates
        return (f"EncodeResult(codec={self.codec!r}, qp={self.qp}, {self.width}x{self.height}, "
                f"frames={self.frames}, fps={self.fps:g}, rates=Rates(orig={r.orig:.1f}, "
                f"cropped={r.cropped:.1f}, motion={r.motion:.1f}) kbit/s, psnr_y={self.psnr_y:.2f} dB)")


ENTROPY_CODERS = ("cavlc", "cabac")  # H.264's entropy_coding_mode_flag 0 / 1; HEVC always codes CABAC

MAX_INTRA_PERIOD = 2**31 - 1  # a C int in the encoder


def _int_option(name, value, lo, hi=None):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        rng = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise ValueError(f"{name} must be in {rng}, got {value}")
    return int(value)


def _bool_option(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def encoder_options(codec: str, *, qp, search_range, ref_frames, intra_period, partitions=None, entropy=None,
                    ctu_size=None, max_depth=None, tmvp=None, sao=None, rdoq=None) -> tuple[str, dict]:
    """Validate user options; returns (canonical codec, options for ``_core.Encoder``)."""
    if not isinstance(codec, str) or codec.lower() not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; expected 'h264' or 'hevc'")
    codec = CODECS[codec.lower()]
    opts = {"qp": _int_option("qp", qp, 0, 51),
            "search_range": _int_option("search_range", search_range, 1, 256),
            "ref_frames": _int_option("ref_frames", ref_frames, 1, 4),
            "intra_period": _int_option("intra_period", intra_period, 0, MAX_INTRA_PERIOD)}
    given = {"partitions": partitions, "entropy": entropy, "ctu_size": ctu_size, "max_depth": max_depth, "tmvp": tmvp, "sao": sao,
             "rdoq": rdoq}
    if codec == "hevc" and entropy is not None:
        raise ValueError(f"entropy={entropy!r}: the entropy coder is an H.264 option; HEVC always codes CABAC")
    wrong = [k for k in (_HEVC_ONLY if codec == "h264" else _H264_ONLY) if given[k] is not None]
    if wrong:
        raise ValueError(f"option(s) {', '.join(wrong)} do not apply to codec {codec!r}")
    if codec == "h264":
        partitions = "all" if partitions is None else partitions
        if partitions not in ("all", "16x16"):
            raise ValueError(f"partitions must be 'all' or '16x16', got {partitions!r}")
        opts["partitions_all"] = partitions == "all"
        entropy = "cavlc" if entropy is None else entropy
        if entropy not in ENTROPY_CODERS:
            raise ValueError(f"entropy must be 'cavlc' or 'cabac', got {entropy!r}")
        opts["cabac"] = entropy == "cabac"
    else:
        opts["ctu_size"] = _int_option("ctu_size", 16 if ctu_size is None else ctu_size, 16, 64)
        if opts["ctu_size"] not in (16, 32, 64):
            raise ValueError(f"ctu_size must be 16, 32 or 64, got {ctu_size}")
        # max_depth counts CU sizes as HM does: ctu 16, depth 2 -> CUs 16 and 8.
        opts["max_depth"] = _int_option("max_depth", 2 if max_depth is None else max_depth, 1, 4)
        if opts["ctu_size"] >> (opts["max_depth"] - 1) < 8:
            raise ValueError(f"ctu_size {opts['ctu_size']} with max_depth {opts['max_depth']} gives CUs below 8x8")
        opts["tmvp"] = _bool_option("tmvp", True if tmvp is None else tmvp)
        opts["sao"] = _bool_option("sao", True if sao is None else sao)
        opts["rdoq"] = _bool_option("rdoq", False if rdoq is None else rdoq)
    return codec, opts


def user_options(codec: str, opts: dict) -> dict:
    """The options as the result reports them (from :func:`encoder_options`'s)."""
    user_opts = {k: v for k, v in opts.items() if k not in ("partitions_all", "cabac")}
    if codec == "h264":
        user_opts["partitions"] = "all" if opts["partitions_all"] else "16x16"
        user_opts["entropy"] = "cabac" if opts["cabac"] else "cavlc"
    return user_opts


def frame_row(out: dict, codec: str) -> tuple:
    """One frame_bits row from the native encoder's output for a frame."""
    bf, bc = out["bits_full"], out["bits_cropped"]
    motion = sum(bc[c] for c in MOTION_CATEGORIES[codec]) if out["type"] == "P" else 0.0
    return (out["type"], sum(bf.values()), sum(bc.values()), motion,
            *(bf[c] for c in CATEGORIES), *(bc[c] for c in CATEGORIES))


def frame_psnr(sse: float, npix: int) -> float:
    """PSNR-Y (dB, at most 100) of a frame from its luma SSE."""
    return 100.0 if sse == 0 else min(100.0, 10 * math.log10(255.0 ** 2 * npix / sse))


def _fps_fraction(fps: float) -> tuple[int, int]:
    for den in (1, 1001, 1000):  # exact for integer and NTSC-style rates
        num = fps * den
        if abs(num - round(num)) < 1e-6:
            return int(round(num)), den
    return int(round(fps * 1000)), 1000


_DROP_TYPES = set("IPB")


def _check_drop(drop) -> str:
    if not isinstance(drop, str) or not set(drop) <= _DROP_TYPES:
        raise ValueError(f"drop must be a string of picture types among 'I', 'P', 'B', got {drop!r}")
    return drop
