"""The receiving end: motion, mvd and per-syntax bits read straight out of an existing stream,
and the stream cropped (residual removed) without re-encoding.

* :func:`read_stream` parses an H.264 or HEVC stream (Annex B bytes or file, or any container PyAV
  demuxes: mp4/mov/mkv/avi) into the same :class:`~mvclass.api.EncodeResult` that
  :func:`~mvclass.api.encode_cropped` returns, frames in display order, plus list-1 motion.
* :func:`crop` writes the conforming stream with the residual of the named picture types
  removed, in the stream's own entropy mode; ``drop=""`` reproduces the input bytes.

Nothing is decoded to samples: the native readers (cpp/jm/reader.cpp for H.264, cpp/hm/reader.cpp
for HEVC) parse the syntax and derive the vectors (H.264: median, directional, skip and direct
prediction; HEVC: merge, AMVP and temporal candidates) as a decoder would. HEVC bits follow our
encoder's accounting: headers exactly, slice data shared among the categories in proportion to
the estimated cost of their bins.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from mvclass import _core
from mvclass.decode import _BSF, _EXT, _is_annexb, sniff_codec
from mvclass.result import CATEGORIES, CODECS, MOTION_CATEGORIES, EncodeResult, _check_drop, frame_bits_dtype
from mvclass.stream import load_result, read_iter, write_frames
from mvclass.grid import KIND_INTRA, mv_grid, mvd_grid

StreamError = _core.StreamError  # corrupt or truncated stream data (a ValueError)
KIND_DIRECT = _core.KIND_DIRECT  # B_Direct_16x16 and B_8x8 direct sub-macroblocks (B_Skip is KIND_SKIP)

READ_CODECS = ("h264", "hevc")  # codecs the native readers parse


def _demux(source, name: str) -> tuple[bytes, str, float | None]:
    """Annex B bytes of the first video stream of a container (avcC / hvcC packets converted)."""
    import av

    try:
        container = av.open(source if not isinstance(source, (bytes, bytearray)) else __import__("io").BytesIO(source))
    except (av.error.FFmpegError, UnicodeDecodeError) as e:
        raise ValueError(f"{name}: neither an Annex B stream nor a container FFmpeg can open ({e})") from None
    with container:
        if not container.streams.video:
            raise ValueError(f"{name}: no video stream")
        st = container.streams.video[0]
        codec = st.codec_context.name
        if codec not in _BSF:
            raise ValueError(f"{name}: the video stream is {codec}, not H.264 or HEVC")
        fps = float(st.average_rate) if st.average_rate else None
        from av.bitstream import BitStreamFilterContext

        bsf = BitStreamFilterContext(_BSF[codec], st)
        chunks = []
        try:
            for pkt in container.demux(st):
                for out in bsf.filter(pkt if pkt.size else None):
                    chunks.append(bytes(out))
            for out in bsf.filter(None):
                chunks.append(bytes(out))
        except av.error.FFmpegError as e:
            raise ValueError(f"{name}: demuxing failed: {e}") from None
    return b"".join(chunks), codec, fps


def load_stream(source, codec: str | None = None) -> tuple[bytes, str, float | None, str]:
    """(Annex B bytes, codec, container frame rate or None, name) of a stream or container."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw, name, ext = bytes(source), "<bytes>", ""
    elif isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if not p.is_file():
            raise FileNotFoundError(f"stream not found: {p}")
        raw, name, ext = p.read_bytes(), p.stem, p.suffix.lower()
    else:
        raise ValueError(f"expected stream bytes or a path, got {type(source).__name__}")
    if not raw:
        raise ValueError(f"{name}: empty stream")
    if codec is not None:

        if not isinstance(codec, str) or codec.lower() not in CODECS:
            raise ValueError(f"unknown codec {codec!r}; expected 'h264' or 'hevc'")
        codec = CODECS[codec.lower()]
    if _is_annexb(raw):
        return raw, codec or _EXT.get(ext) or sniff_codec(raw), None, name
    data, found, fps = _demux(source if not isinstance(source, memoryview) else raw, name)
    if codec is not None and codec != found:
        raise ValueError(f"{name}: codec={codec!r} given, but the container holds {found}")
    if not data:
        raise ValueError(f"{name}: the container's video stream holds no packets")
    return data, found, fps, name


def _native(data: bytes, codec: str, name: str, **kw) -> dict:
    if codec not in READ_CODECS:
        raise ValueError(f"{name}: reading {codec} streams is not supported")
    return _core.read_h264(data, **kw) if codec == "h264" else _core.read_hevc(data, **kw)


def read_stream(source, codec: str | None = None, *, drop: str = "PB", strict: bool = True,
                fps: float | None = None, max_blocks: int | None = None, out=None,
                flush_every: int = 64) -> EncodeResult:
    """Motion, mvd, block kinds and per-category bits of an existing stream, frames in display order.

    ``source``: Annex B bytes, a ``.264``/``.h264``/``.265``/``.hevc`` file, or any container PyAV demuxes. ``codec``
    is sniffed when None. ``drop`` names the picture types whose residual the cropped stream
    (``result.cropped``, ``rates.cropped``) drops. ``strict=False`` keeps the pictures read
    before a corrupt or truncated part, and warns. ``fps``: frame rate when neither the stream
    (VUI timing) nor the container gives one (else 25). ``max_blocks``: refuse (ValueError) a
    stream whose pictures hold more 4x4 blocks in all — a bound on the returned arrays (about 19
    bytes a block) for untrusted input, where a few bytes of skipped pictures can claim gigabytes.

    Beyond :func:`~mvclass.api.encode_cropped`'s fields, the result holds ``mv4_l1``,
    ``ref4_l1``, ``mvd4_l1`` (list 1, ref -1 where unused), ``poc`` and ``kind4`` with
    ``KIND_DIRECT`` for direct-predicted blocks. The 8x8 grids follow the paper's rules on
    list 0 (blocks predicted from list 1 only have no list-0 vector).

    ``out``: a directory to write the result into picture by picture, reading the stream
    incrementally (:func:`mvclass.stream.read_iter`, the layout of :mod:`mvclass.stream`); the
    result is then memory-mapped from it and memory stays bounded in the stream's length.
    """
    if out is not None:
        it = read_iter(source, codec, drop=drop, strict=strict, fps=fps, max_blocks=max_blocks)
        return load_result(write_frames(it, out, flush_every=flush_every))
    drop = _check_drop(drop)
    data, codec, container_fps, name = load_stream(source, codec)
    if max_blocks is not None and (isinstance(max_blocks, bool) or not isinstance(max_blocks, int) or max_blocks < 1):
        raise ValueError(f"max_blocks must be a positive integer or None, got {max_blocks!r}")
    d = _native(data, codec, name, drop=drop, rewrite=True, strict=bool(strict), max_blocks=max_blocks or 0)
    if d["error"]:
        import warnings

        warnings.warn(f"{name}: stream read only up to picture {len(d['type'])}: {d['error']}", RuntimeWarning,
                      stacklevel=2)
    order = np.lexsort((d["decode_index"], d["poc"], d["segment"]))
    W, H = d["width"], d["height"]
    h4, w4 = -(-H // 4), -(-W // 4)

    def take(key):
        return np.ascontiguousarray(d[key][order][:, :h4, :w4])

    mv4, mvd4, ref4, kind4 = take("mv"), take("mvd"), take("ref"), take("kind")
    mv4_l1, mvd4_l1, ref4_l1 = take("mv_l1"), take("mvd_l1"), take("ref_l1")
    types = [d["type"][i] for i in order]
    bits, bits_out = d["bits"][order], d["bits_out"][order]
    motion_idx = [CATEGORIES.index(c) for c in MOTION_CATEGORIES[codec]]
    rows = []
    for t, b, bo in zip(types, bits, bits_out):
        motion = float(bo[motion_idx].sum()) if t != "I" else 0.0
        rows.append((t, float(b.sum()), float(bo.sum()), motion, *map(float, b), *map(float, bo)))
    if d["fps_num"] and d["fps_den"]:
        rate = d["fps_num"] / d["fps_den"]
    else:
        rate = fps or container_fps or 25.0
    if fps is not None:
        rate = float(fps)
    # list-0 grids: blocks without a list-0 vector count as empty cells
    kind_l0 = np.where(ref4 >= 0, kind4, KIND_INTRA).astype(np.uint8)
    mv, mask, ref = mv_grid(mv4, ref4, kind_l0, H, W)
    mvd = mvd_grid(mvd4, kind_l0, H, W)
    qps = d["qp"]
    return EncodeResult(
        codec=codec, qp=int(np.median(qps)) if len(qps) else 0, width=W, height=H, fps=float(rate),
        frames=len(types), name=name, bitstream=data, cropped=d["rewritten"], mv=mv, mv_mask=mask, ref=ref, mvd=mvd,
        frame_bits=np.array(rows, dtype=frame_bits_dtype()), psnr_y=math.nan,
        options={"source": "stream", "entropy": "cabac" if d["cabac"] else "cavlc", "drop": drop,
                 "profile_idc": int(d["profile_idc"])},
        mv4=mv4, mvd4=mvd4, ref4=ref4, kind4=kind4, mv4_l1=mv4_l1, ref4_l1=ref4_l1, mvd4_l1=mvd4_l1,
        poc=d["poc"][order].astype(np.int32))


def crop(source, drop: str = "PB", codec: str | None = None) -> bytes:
    """The stream with all residual of the picture types in ``drop`` removed (Annex B bytes).

    The output conforms to the standard and keeps the input's entropy mode; I pictures keep
    their texture by default. ``drop=""`` rewrites every slice from its parsed syntax and gives
    back the input's Annex B bytes exactly."""
    drop = _check_drop(drop)
    data, codec, _, name = load_stream(source, codec)
    return _native(data, codec, name, drop=drop, rewrite=True, strict=True)["rewritten"]
