"""Streaming forms of :func:`~mvclass.api.encode_cropped` and :func:`~mvclass.reader.read_stream`:
results frame by frame, memory bounded in the video's length.

* :func:`encode_iter` encodes frame by frame and yields a :class:`Frame` per picture.
* :func:`read_iter` feeds a stream (Annex B file or bytes, a binary file object, or container
  packets demuxed one at a time) to the native reader in chunks and yields a :class:`Frame` per
  picture in display order, as soon as no later picture can precede it (the stream's own bound on
  reordering: H.264 VUI ``max_num_reorder_frames``, HEVC ``sps_max_num_reorder_pics``; 16, the
  largest DPB, when the stream does not say).
* :func:`write_frames` writes such frames into a directory chunk by chunk; :func:`load_result`
  opens that directory as an :class:`~mvclass.api.EncodeResult` whose arrays are memory-mapped.

Both iterators are context managers; ``close()`` (or leaving the ``with`` block, or dropping the
iterator) frees the native encoder / reader state. ``collect()`` gathers the rest into the
:class:`~mvclass.api.EncodeResult` that the whole-result function returns, equal to it field by
field.

Directory layout (``write_frames``, ``encode_cropped(..., out=dir)``, ``read_stream(..., out=dir)``):

``meta.json``
    codec, qp, width, height, fps, frames, name, options, psnr_y, rates, frames_declared,
    decode_errors, ``complete`` (false while writing or after an interrupted run) and the file
    names below.
``full.264`` / ``full.265``, ``cropped.264`` / ``cropped.265``
    the full and the cropped stream (Annex B), appended picture by picture.
``<field>.npy``
    ``mv``, ``mv_mask``, ``ref``, ``mvd`` (8x8 grids), ``mv4``, ``mvd4``, ``ref4``, ``kind4`` (4x4
    fields), ``poc``, ``frame_bits`` (structured, :func:`~mvclass.api.frame_bits_dtype`), read
    streams also ``mv4_l1``, ``ref4_l1``, ``mvd4_l1``, and with ``keep_recon`` ``recon_y``,
    ``recon_u``, ``recon_v``: standard ``.npy`` files, frame-major, whose header (padded to a
    fixed size) is rewritten with the frame count every ``flush_every`` frames and at the end, so
    ``np.load(path, mmap_mode="r")`` maps the frames written so far.
"""
from __future__ import annotations

import heapq
from array import array
from collections import Counter
import io as _io
import json
import math
import mmap
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mvclass import _core
from mvclass.decode import _EXT, _BSF, _is_annexb, sniff_codec
from mvclass.result import (CATEGORIES, CODECS, EXTENSIONS, MOTION_CATEGORIES, EncodeResult, Rates, _bool_option,
                            _check_drop, _fps_fraction, _int_option, encoder_options, frame_bits_dtype, frame_psnr,
                            frame_row, user_options)
from mvclass.grid import KIND_INTRA, frame_grid, mvd_grid
from mvclass.io import _check_fps, read_video

StreamError = _core.StreamError

DEFAULT_CHUNK = 1 << 16   # bytes read from a file at a time
_BATCH = 4                # pictures the native reader returns per call at most
MAX_REORDER = 16          # the largest DPB (H.264 MaxDpbFrames, HEVC MaxDpbSize): the default window


@dataclass(eq=False)
class Frame:
    """One picture of a streamed run: :class:`~mvclass.api.EncodeResult`'s fields for that picture.

    ``nal_full`` / ``nal_cropped``: the stream bytes that come with this frame. For
    :func:`encode_iter` and for streams without reordering, the picture's own access unit
    (parameter sets included); for a read stream whose pictures are reordered, the access units
    (decoding order) completed since the previous frame was yielded. Either way the frames'
    bytes concatenate to the whole stream."""

    index: int                 # position in display order
    type: str                  # 'I', 'P' or 'B'
    poc: int
    mv: np.ndarray             # (rows, cols, 2) int16, the 8x8 grid
    mv_mask: np.ndarray        # (rows, cols) bool
    ref: np.ndarray            # (rows, cols) int8
    mvd: np.ndarray            # (rows, cols, 2) int16
    mv4: np.ndarray = field(repr=False)   # (h4, w4, 2) the 4x4-block fields
    mvd4: np.ndarray = field(repr=False)
    ref4: np.ndarray = field(repr=False)
    kind4: np.ndarray = field(repr=False)
    frame_bits: np.void = field(repr=False)  # one record of frame_bits_dtype()
    nal_full: bytes = field(repr=False)
    nal_cropped: bytes = field(repr=False)
    psnr_y: float = math.nan   # encoder only
    recon: tuple | None = field(default=None, repr=False)
    mv4_l1: np.ndarray | None = field(default=None, repr=False)   # read streams: list 1
    ref4_l1: np.ndarray | None = field(default=None, repr=False)
    mvd4_l1: np.ndarray | None = field(default=None, repr=False)
    decode_index: int | None = None  # read streams: position in decoding order

    @property
    def bits(self) -> dict:
        """{'full': {category: bits}, 'cropped': {...}} of this picture."""
        return {s: {c: float(self.frame_bits[f"{s}_{c}"]) for c in CATEGORIES} for s in ("full", "cropped")}


class _FrameIter:
    """Shared by :class:`EncodeIter` and :class:`ReadIter`: iteration, closing, running totals."""

    codec: str
    qp: int
    width: int
    height: int
    fps: float
    name: str
    options: dict

    def __init__(self):
        self._gen = None
        self.frames = 0  # frames yielded so far
        self._sum = np.zeros(3 + 2 * len(CATEGORIES))
        self._psnr = array("d")  # 8 bytes a frame: psnr_y as np.mean of them gives it

    def __iter__(self):
        return self

    def __next__(self) -> Frame:
        if self._gen is None:
            raise StopIteration
        try:
            f = next(self._gen)
        except BaseException:
            self.close()
            raise
        self.frames += 1
        fb = f.frame_bits
        self._sum += [fb["full"], fb["cropped"], fb["motion"], *(fb[f"full_{c}"] for c in CATEGORIES),
                      *(fb[f"cropped_{c}"] for c in CATEGORIES)]
        self._psnr.append(f.psnr_y)
        return f

    def close(self) -> None:
        """Stop and free the native state (idempotent)."""
        gen, self._gen = self._gen, None
        if gen is not None:
            gen.close()

    @property
    def closed(self) -> bool:
        return self._gen is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    @property
    def rates(self) -> Rates:
        """Rates of the frames yielded so far (kbit/s; running sums, equal to the whole result's
        up to float rounding)."""
        if not self.frames:
            return Rates(math.nan, math.nan, math.nan)
        scale = self.fps / (self.frames * 1000.0)
        return Rates(*(float(x) * scale for x in self._sum[:3]))

    @property
    def bits(self) -> dict:
        n = len(CATEGORIES)
        return {"full": dict(zip(CATEGORIES, map(float, self._sum[3:3 + n]))),
                "cropped": dict(zip(CATEGORIES, map(float, self._sum[3 + n:])))}

    def _meta(self) -> dict:
        return {"codec": self.codec, "qp": self.qp, "width": self.width, "height": self.height, "fps": self.fps,
                "name": self.name, "options": self.options}

    def collect(self) -> EncodeResult:
        """The remaining frames gathered into one :class:`~mvclass.api.EncodeResult` (all of them
        when nothing was consumed yet: then equal to the whole-result function's)."""
        frames = list(self)
        if not frames:
            raise ValueError(f"{self.name}: no frames left to collect")
        return join_frames(frames, **self._meta(), **self._extra())

    def _extra(self) -> dict:
        return {}


def join_frames(frames, *, codec: str, qp: int, width: int, height: int, fps: float, name: str,
                options: dict, frames_declared=None, decode_errors: int = 0) -> EncodeResult:
    """Frames of a streamed run -> the :class:`~mvclass.api.EncodeResult` of the whole run."""
    frames = list(frames)

    def stack(key):
        return np.stack([getattr(f, key) for f in frames])

    recon = [f.recon for f in frames] if frames[0].recon is not None else None
    l1 = frames[0].mv4_l1 is not None
    psnr = [f.psnr_y for f in frames]
    return EncodeResult(
        codec=codec, qp=qp, width=width, height=height, fps=fps, frames=len(frames), name=name,
        bitstream=b"".join(f.nal_full for f in frames), cropped=b"".join(f.nal_cropped for f in frames),
        mv=stack("mv"), mv_mask=stack("mv_mask"), ref=stack("ref"), mvd=stack("mvd"),
        frame_bits=np.array([f.frame_bits for f in frames], dtype=frame_bits_dtype()),
        psnr_y=float(np.mean(psnr)) if not math.isnan(psnr[0]) else math.nan, options=dict(options),
        mv4=stack("mv4"), mvd4=stack("mvd4"), ref4=stack("ref4"), kind4=stack("kind4"), recon=recon,
        poc=np.array([f.poc for f in frames], np.int32),
        mv4_l1=stack("mv4_l1") if l1 else None, ref4_l1=stack("ref4_l1") if l1 else None,
        mvd4_l1=stack("mvd4_l1") if l1 else None,
        frames_declared=frames_declared, decode_errors=decode_errors)


# --------------------------------------------------------------------------------------------
# encoding

class EncodeIter(_FrameIter):
    """What :func:`encode_iter` returns: an iterator of :class:`Frame` (coding order = display
    order), with the run's ``codec``, ``qp``, ``width``, ``height``, ``fps``, ``name``, ``options``
    known before the first frame, and ``frames``, ``rates``, ``bits``, ``psnr_y`` of the frames
    yielded so far."""

    def __init__(self, src, codec: str, opts: dict, keep_recon: bool, progress: bool):
        super().__init__()
        self.codec, self.qp, self.width, self.height = codec, opts["qp"], src.width, src.height
        self.fps, self.name, self.options = src.fps, src.name, user_options(codec, opts)
        self._src = src
        fps_num, fps_den = _fps_fraction(_check_fps(src.fps))
        enc = _core.Encoder(codec, src.width, src.height,
                            dict(opts, keep_recon=keep_recon, fps_num=fps_num, fps_den=fps_den))
        self._gen = self._run(enc, keep_recon, progress)

    @property
    def psnr_y(self) -> float:
        return float(np.mean(np.frombuffer(self._psnr))) if self._psnr else math.nan

    @property
    def frames_declared(self):
        return self._src.report.declared if self._src.report is not None else None

    @property
    def decode_errors(self) -> int:
        return self._src.report.errors if self._src.report is not None else 0

    def _extra(self) -> dict:
        return {"frames_declared": self.frames_declared, "decode_errors": self.decode_errors}

    def _run(self, enc, keep_recon: bool, progress: bool):
        src, codec = self._src, self.codec
        frames_iter = src.frames()
        if progress:
            from tqdm import tqdm

            total = len(src) if src.num_frames is not None else None
            frames_iter = tqdm(frames_iter, total=total, unit="frame", desc=f"{codec} qp{self.qp} {src.name}")
        h4, w4 = -(-src.height // 4), -(-src.width // 4)
        rows, cols = -(-src.height // 8), -(-src.width // 8)
        npix = src.width * src.height
        dtype = frame_bits_dtype()
        index = 0
        try:
            for y, u, v in frames_iter:
                out = enc.encode(y, u, v)
                mv4, mvd4, ref4, kind4 = (np.ascontiguousarray(out[k][:h4, :w4]) for k in ("mv", "mvd", "ref", "kind"))
                mv, mask, ref = frame_grid(mv4, ref4, kind4, rows, cols)
                mvd = mvd_grid(mvd4, kind4, src.height, src.width)
                yield Frame(index=index, type=out["type"], poc=int(out["poc"]), mv=mv, mv_mask=mask, ref=ref, mvd=mvd,
                            mv4=mv4, mvd4=mvd4, ref4=ref4, kind4=kind4,
                            frame_bits=np.array([frame_row(out, codec)], dtype)[0],
                            nal_full=out["nal_full"], nal_cropped=out["nal_cropped"],
                            psnr_y=frame_psnr(out["sse"][0], npix), recon=out["recon"] if keep_recon else None)
                index += 1
        finally:
            close = getattr(frames_iter, "close", None)
            if close is not None:
                close()
            del enc  # the native encoder's pictures go with the generator
        if index == 0:
            raise ValueError(f"{src.name}: video has no frames")


def encode_iter(source, qp: int = 30, codec: str = "h264", *, partitions: str | None = None,
                entropy: str | None = None, search_range: int = 16, ref_frames: int = 3, intra_period: int = 0,
                fps: float | None = None, max_frames: int | None = None, keep_recon: bool = False,
                ctu_size: int | None = None, max_depth: int | None = None, tmvp: bool | None = None,
                sao: bool | None = None, rdoq: bool | None = None, width: int | None = None,
                height: int | None = None, strict: bool = False, progress: bool = False, **unknown) -> EncodeIter:
    """:func:`~mvclass.api.encode_cropped` frame by frame: same arguments, an :class:`EncodeIter`
    of :class:`Frame` whose concatenation (``collect()``, :func:`join_frames`) equals
    ``encode_cropped``'s result. Memory: the source's decoder, the encoder's reference pictures and
    the frame being yielded, whatever the video's length. Options are checked and the source opened
    at the call; frames are decoded and encoded as they are asked for."""
    if unknown:
        raise ValueError(f"unknown option(s) for encode_iter: {', '.join(sorted(unknown))}")
    codec, opts = encoder_options(codec, qp=qp, search_range=search_range, ref_frames=ref_frames,
                                  intra_period=intra_period, partitions=partitions, entropy=entropy, ctu_size=ctu_size,
                                  max_depth=max_depth, tmvp=tmvp, sao=sao, rdoq=rdoq)
    keep_recon = _bool_option("keep_recon", keep_recon)
    src = read_video(source, fps=fps, max_frames=max_frames, width=width, height=height, strict=strict)
    return EncodeIter(src, codec, opts, keep_recon, bool(progress))


# --------------------------------------------------------------------------------------------
# reading

class _Input:
    """A stream's bytes in chunks: Annex B from bytes, a file or a binary file object, or a
    container's video packets converted to Annex B one at a time."""

    def __init__(self, source, codec, chunk_size: int):

        if codec is not None:
            if not isinstance(codec, str) or codec.lower() not in CODECS:
                raise ValueError(f"unknown codec {codec!r}; expected 'h264' or 'hevc'")
            codec = CODECS[codec.lower()]
        self.container_fps = None
        self._file = None
        self._container = None
        ext = ""
        if isinstance(source, (bytes, bytearray, memoryview)):
            mv = memoryview(source).cast("B")
            self.name = "<bytes>"
            head = bytes(mv[:chunk_size])
            rest = (bytes(mv[i:i + chunk_size]) for i in range(chunk_size, len(mv), chunk_size))
            container_src = _io.BytesIO(bytes(mv)) if not _is_annexb(head) and head else None
        elif isinstance(source, (str, os.PathLike)):
            p = Path(source)
            if not p.is_file():
                raise FileNotFoundError(f"stream not found: {p}")
            self.name, ext = p.stem, p.suffix.lower()
            self._file = open(p, "rb")
            head = self._file.read(chunk_size)
            rest = iter(lambda: self._file.read(chunk_size), b"")
            container_src = str(p)
        elif hasattr(source, "read"):
            self.name = str(getattr(source, "name", "<file>"))
            head = source.read(chunk_size)
            if not isinstance(head, (bytes, bytearray)):
                raise ValueError(f"{self.name}: the file object must be opened in binary mode")
            head = bytes(head)
            rest = iter(lambda: source.read(chunk_size), b"")
            container_src = None
        else:
            raise ValueError(f"expected stream bytes, a path or a binary file object, got {type(source).__name__}")
        if not head:
            self.close()
            raise ValueError(f"{self.name}: empty stream")
        if _is_annexb(head):
            try:
                self.codec = codec or _EXT.get(ext) or sniff_codec(head)
            except ValueError:
                self.close()
                raise
            self._chunks = self._annexb(head, rest)
            return
        if container_src is None:
            self.close()
            raise ValueError(f"{self.name}: not an Annex B stream (containers are read from a path or bytes)")
        if self._file is not None:
            self._file.close()
            self._file = None
        self._open_container(container_src, codec)

    def _annexb(self, head, rest):
        yield head
        for chunk in rest:
            yield bytes(chunk)

    def _open_container(self, source, codec):
        import av

        try:
            container = av.open(source)
        except (av.error.FFmpegError, UnicodeDecodeError) as e:
            raise ValueError(f"{self.name}: neither an Annex B stream nor a container FFmpeg can open ({e})") from None
        self._container = container
        if not container.streams.video:
            self.close()
            raise ValueError(f"{self.name}: no video stream")
        st = container.streams.video[0]
        found = st.codec_context.name

        if found not in _BSF:
            self.close()
            raise ValueError(f"{self.name}: the video stream is {found}, not H.264 or HEVC")
        if codec is not None and codec != found:
            self.close()
            raise ValueError(f"{self.name}: codec={codec!r} given, but the container holds {found}")
        self.codec = found
        self.container_fps = float(st.average_rate) if st.average_rate else None
        self._chunks = self._demux(container, st)

    def _demux(self, container, st):
        import av
        from av.bitstream import BitStreamFilterContext


        bsf = BitStreamFilterContext(_BSF[self.codec], st)
        n = 0
        try:
            for pkt in container.demux(st):
                for out in bsf.filter(pkt if pkt.size else None):
                    n += 1
                    yield bytes(out)
            for out in bsf.filter(None):
                n += 1
                yield bytes(out)
        except av.error.FFmpegError as e:
            raise ValueError(f"{self.name}: demuxing failed: {e}") from None
        if n == 0:
            raise ValueError(f"{self.name}: the container's video stream holds no packets")

    def chunks(self):
        return self._chunks

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._container is not None:
            self._container.close()
            self._container = None


class ReadIter(_FrameIter):
    """What :func:`read_iter` returns: an iterator of :class:`Frame` in display order. ``codec``
    and ``name`` are known at once; ``width``, ``height``, ``fps``, ``qp`` (the first picture's),
    ``options`` once the first picture is read (None before)."""

    def __init__(self, inp: _Input, drop: str, strict: bool, fps, max_blocks: int, reorder):
        super().__init__()
        self.codec, self.name = inp.codec, inp.name
        self.width = self.height = self.qp = self.fps = self.options = None
        self.error = None  # strict=False: why reading stopped early
        self._inp, self._drop, self._fps_arg = inp, drop, fps
        self._reorder = reorder
        self._qps: Counter = Counter()  # the pictures' slice QPs (at most 52 values, whatever the length)
        self._decoded = 0  # pictures read (decoding order)
        try:
            reader = _core.StreamReader(inp.codec, drop=drop, strict=bool(strict), max_blocks=max_blocks)
        except BaseException:
            inp.close()
            raise
        self._gen = self._run(reader)

    @property
    def psnr_y(self) -> float:
        return math.nan

    def _meta(self) -> dict:
        m = super()._meta()
        # read_stream's qp: the median of the pictures' slice QPs
        m["qp"] = _median_int(self._qps)
        return m

    def _start(self, d: dict) -> None:
        self.width, self.height = d["width"], d["height"]
        if d["fps_num"] and d["fps_den"]:
            rate = d["fps_num"] / d["fps_den"]
        else:
            rate = self._fps_arg or self._inp.container_fps or 25.0
        if self._fps_arg is not None:
            rate = float(self._fps_arg)
        self.fps = float(rate)
        self.qp = int(d["qp"][0])
        self.options = {"source": "stream", "entropy": "cabac" if d["cabac"] else "cavlc", "drop": self._drop,
                        "profile_idc": int(d["profile_idc"])}

    def _run(self, reader):
        import warnings

        pending: list = []       # heap of (segment, poc, decode index, picture)
        state = {"index": 0, "last": None, "full": [], "cropped": []}
        try:
            def pictures(d):
                if len(d["type"]) and self.width is None:
                    self._start(d)
                for i in range(len(d["type"])):
                    yield self._picture(d, i)

            def emit_ready(p, final=False):
                # a new segment (IDR / IRAP starting a coded video sequence) outputs all of the last one
                out = []
                if p is not None:
                    if pending and p["segment"] != pending[0][3]["segment"]:
                        while pending:
                            out.append(heapq.heappop(pending)[3])
                    heapq.heappush(pending, (p["segment"], p["poc"], p["decode_index"], p))
                    state["full"].append(p.pop("au_data"))
                    state["cropped"].append(p.pop("au_rewritten"))
                while pending and (final or len(pending) > self._window_of(pending)):
                    out.append(heapq.heappop(pending)[3])
                return out

            def frames(pics):
                for p in pics:
                    key = (p["segment"], p["poc"], p["decode_index"])
                    if state["last"] is not None and key < state["last"]:
                        raise StreamError(
                            f"{self.name}: picture {p['decode_index']} (POC {p['poc']}) follows a picture shown after "
                            f"it in more than the stream's reordering bound ({p['reorder']}); pass reorder= a "
                            f"larger window")
                    state["last"] = key
                    full, cropped = b"".join(state["full"]), b"".join(state["cropped"])
                    state["full"].clear()
                    state["cropped"].clear()
                    yield self._frame(p, state["index"], full, cropped)
                    state["index"] += 1

            d = None
            for chunk in self._inp.chunks():
                d = reader.feed(chunk, _BATCH)
                while True:  # at most _BATCH pictures a call: drain what this chunk completed
                    self._warn_error(d, warnings)
                    for p in pictures(d):
                        yield from frames(emit_ready(p))
                    if d["error"] or not len(d["type"]):
                        break
                    d = reader.feed(b"", _BATCH)
                if d["error"]:
                    break
            if d is None or not d["error"]:
                d = reader.finish()
                self._warn_error(d, warnings)
                for p in pictures(d):
                    yield from frames(emit_ready(p))
            yield from frames(emit_ready(None, final=True))
        finally:
            reader.close()
            self._inp.close()

    def _warn_error(self, d, warnings):
        if d["error"]:
            self.error = d["error"]
            warnings.warn(f"{self.name}: stream read only up to picture {self._decoded + len(d['type'])}: "
                          f"{d['error']}", RuntimeWarning, stacklevel=4)

    def _window_of(self, pending) -> int:
        if self._reorder is not None:
            return self._reorder
        return max(p[3]["reorder"] for p in pending)

    def _picture(self, d: dict, i: int) -> dict:
        """Picture i of a native batch, its arrays copied out of the batch."""
        H, W = d["height"], d["width"]
        h4, w4 = -(-H // 4), -(-W // 4)
        p = {k: np.ascontiguousarray(d[k][i, :h4, :w4]) for k in ("mv", "mvd", "ref", "kind", "mv_l1", "mvd_l1",
                                                                   "ref_l1")}
        p.update(type=d["type"][i], poc=int(d["poc"][i]), segment=int(d["segment"][i]),
                 decode_index=int(d["decode_index"][i]), reorder=min(int(d["reorder"][i]), MAX_REORDER),
                 bits=d["bits"][i].copy(), bits_out=d["bits_out"][i].copy(), au_data=d["au_data"][i],
                 au_rewritten=d["au_rewritten"][i])
        self._qps[int(d["qp"][i])] += 1
        self._decoded += 1
        return p

    def _frame(self, p: dict, index: int, full: bytes, cropped: bytes) -> Frame:
        H, W = self.height, self.width
        rows, cols = -(-H // 8), -(-W // 8)
        # list-0 grids: blocks without a list-0 vector count as empty cells (as read_stream)
        kind_l0 = np.where(p["ref"] >= 0, p["kind"], KIND_INTRA).astype(np.uint8)
        mv, mask, ref = frame_grid(p["mv"], p["ref"], kind_l0, rows, cols)
        mvd = mvd_grid(p["mvd"], kind_l0, H, W)
        t, b, bo = p["type"], p["bits"], p["bits_out"]
        motion_idx = [CATEGORIES.index(c) for c in MOTION_CATEGORIES[self.codec]]
        motion = float(bo[motion_idx].sum()) if t != "I" else 0.0
        row = (t, float(b.sum()), float(bo.sum()), motion, *map(float, b), *map(float, bo))
        return Frame(index=index, type=t, poc=p["poc"], mv=mv, mv_mask=mask, ref=ref, mvd=mvd, mv4=p["mv"],
                     mvd4=p["mvd"], ref4=p["ref"], kind4=p["kind"],
                     frame_bits=np.array([row], frame_bits_dtype())[0], nal_full=full, nal_cropped=cropped,
                     mv4_l1=p["mv_l1"], ref4_l1=p["ref_l1"], mvd4_l1=p["mvd_l1"], decode_index=p["decode_index"])


def _median_int(counts: Counter) -> int:
    """int(np.median(values)) from the values' counts (0 when there are none)."""
    n = sum(counts.values())
    if n == 0:
        return 0
    mid = []
    seen = 0
    for v in sorted(counts):
        for k in ((n - 1) // 2, n // 2):
            if seen <= k < seen + counts[v]:
                mid.append(v)
        seen += counts[v]
    return int(np.mean(np.array(mid[:2], dtype=np.float64)))


def read_iter(source, codec: str | None = None, *, drop: str = "PB", strict: bool = True,
              fps: float | None = None, max_blocks: int | None = None, reorder: int | None = None,
              chunk_size: int = DEFAULT_CHUNK) -> ReadIter:
    """:func:`~mvclass.reader.read_stream` picture by picture: a :class:`ReadIter` of
    :class:`Frame` in display order whose concatenation (``collect()``) equals ``read_stream``'s
    result (with ``strict=False`` after an error, ``read_stream`` returns no cropped stream; the
    frames keep the bytes they came with).

    ``source``: Annex B bytes, a path (an Annex B file is read ``chunk_size`` bytes at a time; a
    container is demuxed packet by packet), or a binary file object holding an Annex B stream
    (a pipe, a socket's file). A picture is yielded once no picture still to come can precede it:
    ``reorder`` pictures wait at most (default: the stream's declared bound, at most 16). A picture
    that arrives after one shown later raises :class:`StreamError` (the stream reorders beyond its
    own bound; a larger ``reorder`` reads it). ``max_blocks`` bounds the 4x4 blocks of all the
    pictures, as in ``read_stream``. Memory: the NAL unit being received, the decoder state and
    the reorder window, whatever the stream's length."""

    drop = _check_drop(drop)
    if max_blocks is not None and (isinstance(max_blocks, bool) or not isinstance(max_blocks, int) or max_blocks < 1):
        raise ValueError(f"max_blocks must be a positive integer or None, got {max_blocks!r}")
    if reorder is not None:
        reorder = _int_option("reorder", reorder, 0, 1 << 16)
    chunk_size = _int_option("chunk_size", chunk_size, 1)
    if fps is not None:
        fps = _check_fps(fps)
    inp = _Input(source, codec, chunk_size)
    if inp.codec not in ("h264", "hevc"):
        inp.close()
        raise ValueError(f"{inp.name}: reading {inp.codec} streams is not supported")
    return ReadIter(inp, drop, strict, fps, max_blocks or 0, reorder)


# --------------------------------------------------------------------------------------------
# the directory layout

_FIELDS = ("mv", "mv_mask", "ref", "mvd", "mv4", "mvd4", "ref4", "kind4")
_L1 = ("mv4_l1", "ref4_l1", "mvd4_l1")
_RECON = ("recon_y", "recon_u", "recon_v")


class _NpyAppender:
    """A .npy file written frame by frame; the header's shape is rewritten at each flush."""

    HEADER = 256  # bytes: room for any shape of these fields and frame_bits' dtype... checked below

    def __init__(self, path: Path, dtype: np.dtype, frame_shape: tuple):
        self.path, self.dtype, self.frame_shape = path, np.dtype(dtype), tuple(frame_shape)
        self.count = 0
        self.header_len = max(self.HEADER, 64 * -(-len(self._header(10 ** 15)) // 64))
        self.f = open(path, "wb")
        self._write_header()

    def _header(self, n: int) -> bytes:
        d = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
             "shape": (n,) + self.frame_shape}
        return repr(d).encode("latin1")

    def _write_header(self):
        body = self._header(self.count)
        pad = self.header_len - 10 - len(body) - 1
        if pad < 0:
            raise ValueError(f"{self.path.name}: header too long")
        hdr = b"\x93NUMPY\x01\x00" + (self.header_len - 10).to_bytes(2, "little") + body + b" " * pad + b"\n"
        pos = self.f.tell()
        self.f.seek(0)
        self.f.write(hdr)
        self.f.seek(max(pos, self.header_len))

    def append(self, a) -> None:
        a = np.asarray(a, dtype=self.dtype)  # tobytes() is C order
        if a.shape != self.frame_shape:
            raise ValueError(f"{self.path.name}: frame of shape {a.shape}, expected {self.frame_shape}")
        self.f.write(a.tobytes())
        self.count += 1

    def flush(self) -> None:
        self._write_header()
        self.f.flush()

    def close(self) -> None:
        if not self.f.closed:
            self.flush()
            self.f.close()


def write_frames(frames, directory, *, flush_every: int = 64) -> Path:
    """Write an :class:`EncodeIter` / :class:`ReadIter` (or any iterable of :class:`Frame` with
    their run's attributes given by ``frames``) into ``directory`` (the layout in this module's
    doc), frame by frame; returns the directory. The iterator is closed at the end, also on error
    (``meta.json`` then says ``"complete": false`` and the files hold the frames written)."""
    if not isinstance(frames, _FrameIter):
        raise ValueError("write_frames needs the iterator encode_iter or read_iter returns")
    flush_every = _int_option("flush_every", flush_every, 1)
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    ext = EXTENSIONS[frames.codec]
    files = {"full": f"full{ext}", "cropped": f"cropped{ext}"}
    npy: dict[str, _NpyAppender] = {}
    streams = {k: open(d / v, "wb") for k, v in files.items()}
    meta_path = d / "meta.json"

    def write_meta(complete: bool):
        m = {"layout": 1, "complete": complete, "frames": frames.frames, "files": files,
             "fields": sorted(npy)}
        m.update({k: v for k, v in frames._meta().items()})
        m.update(frames._extra())
        m["psnr_y"] = None if math.isnan(frames.psnr_y) else frames.psnr_y
        r = frames.rates
        m["rates"] = None if math.isnan(r.orig) else r._asdict()
        tmp = meta_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(m, indent=1))
        os.replace(tmp, meta_path)

    def open_fields(f: Frame):
        arrays = {k: getattr(f, k) for k in _FIELDS}
        arrays["poc"] = np.int32(f.poc)
        arrays["frame_bits"] = f.frame_bits
        if f.mv4_l1 is not None:
            arrays.update({k: getattr(f, k) for k in _L1})
        if f.recon is not None:
            arrays.update(zip(_RECON, f.recon))
        for k, a in arrays.items():
            a = np.asarray(a)
            npy[k] = _NpyAppender(d / f"{k}.npy", a.dtype, a.shape)
        return arrays

    write_meta(False)
    try:
        for f in frames:
            if not npy:
                arrays = open_fields(f)
            else:
                arrays = {k: getattr(f, k) for k in _FIELDS}
                arrays["poc"] = np.int32(f.poc)
                arrays["frame_bits"] = f.frame_bits
                if "mv4_l1" in npy:
                    arrays.update({k: getattr(f, k) for k in _L1})
                if "recon_y" in npy:
                    arrays.update(zip(_RECON, f.recon))
            for k, a in arrays.items():
                npy[k].append(a)
            streams["full"].write(f.nal_full)
            streams["cropped"].write(f.nal_cropped)
            if frames.frames % flush_every == 0:
                for a in npy.values():
                    a.flush()
                for s in streams.values():
                    s.flush()
                write_meta(False)
        complete = True
    except BaseException:
        complete = False
        raise
    finally:
        frames.close()
        for a in npy.values():
            a.close()
        for s in streams.values():
            s.close()
        write_meta(complete)
    return d


def load_result(directory, mmap_mode: str | None = "r") -> EncodeResult:
    """The :class:`~mvclass.api.EncodeResult` written by :func:`write_frames` (or
    ``encode_cropped(..., out=dir)``); arrays memory-mapped (``mmap_mode=None``: read into memory)
    and the streams as read-only memoryviews of mapped files (bytes when ``mmap_mode`` is None).
    An incomplete directory (``meta["complete"]`` false) raises ``ValueError``."""
    d = Path(directory)
    meta_path = d / "meta.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{d}: no meta.json (not a directory written by write_frames)")
    m = json.loads(meta_path.read_text())
    if m.get("layout") != 1:
        raise ValueError(f"{d}: unknown layout {m.get('layout')!r}")
    if not m["complete"]:
        raise ValueError(f"{d}: incomplete ({m['frames']} frames written; the run was interrupted)")
    T = m["frames"]

    def arr(k):
        a = np.load(d / f"{k}.npy", mmap_mode=mmap_mode if T else None)
        if len(a) != T:
            raise ValueError(f"{d}: {k}.npy holds {len(a)} frames, meta.json says {T}")
        return a

    def stream(k):
        p = d / m["files"][k]
        if mmap_mode is None or p.stat().st_size == 0:
            return p.read_bytes()
        with open(p, "rb") as fh:
            return memoryview(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ))

    fields = set(m["fields"])
    recon = None
    if "recon_y" in fields:
        ys, us, vs = arr("recon_y"), arr("recon_u"), arr("recon_v")
        recon = [(ys[t], us[t], vs[t]) for t in range(T)]
    l1 = {k: arr(k) for k in _L1} if "mv4_l1" in fields else {}
    return EncodeResult(
        codec=m["codec"], qp=m["qp"], width=m["width"], height=m["height"], fps=m["fps"], frames=T, name=m["name"],
        bitstream=stream("full"), cropped=stream("cropped"), mv=arr("mv"), mv_mask=arr("mv_mask"), ref=arr("ref"),
        mvd=arr("mvd"), frame_bits=arr("frame_bits"),
        psnr_y=math.nan if m["psnr_y"] is None else m["psnr_y"], options=m["options"],
        mv4=arr("mv4"), mvd4=arr("mvd4"), ref4=arr("ref4"), kind4=arr("kind4"), recon=recon, poc=arr("poc"),
        frames_declared=m.get("frames_declared"), decode_errors=m.get("decode_errors", 0), **l1)
