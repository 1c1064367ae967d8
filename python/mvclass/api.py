"""``encode_cropped``: one call from a video to its full and cropped bitstreams, MV grids and
rates. The native encoders make every decision once and write two streams from them."""
from __future__ import annotations

import numpy as np

from mvclass import _core
from mvclass.grid import mv_grid, mvd_grid
from mvclass.io import _check_fps, read_video
from mvclass.result import (CATEGORIES, CODECS, ENTROPY_CODERS, EXTENSIONS, MAX_INTRA_PERIOD,
                            MOTION_CATEGORIES, EncodeResult, Rates, _bool_option, _fps_fraction,
                            encoder_options, frame_bits_dtype, frame_psnr, frame_row, user_options)
from mvclass.stream import encode_iter, load_result, write_frames

# the result type and options live in mvclass.result (the layer below mvclass.stream); they stay
# importable from here
__all__ = ["encode_cropped", "CATEGORIES", "CODECS", "ENTROPY_CODERS", "EXTENSIONS", "MAX_INTRA_PERIOD",
           "MOTION_CATEGORIES", "EncodeResult", "Rates", "encoder_options", "frame_bits_dtype"]


def encode_cropped(source, qp: int = 30, codec: str = "h264", *, partitions: str | None = None,
                   entropy: str | None = None,
                   search_range: int = 16, ref_frames: int = 3, intra_period: int = 0,
                   fps: float | None = None, max_frames: int | None = None, keep_recon: bool = False,
                   ctu_size: int | None = None, max_depth: int | None = None, tmvp: bool | None = None,
                   sao: bool | None = None, rdoq: bool | None = None, width: int | None = None,
                   height: int | None = None, strict: bool = False,
                   progress: bool = False, out=None, flush_every: int = 64, **unknown) -> EncodeResult:
    """Encode ``source`` into a full and a cropped bitstream and return MV grids and rates.

    ``source``: a video path (anything FFmpeg reads, ``.y4m``, raw ``.yuv`` with ``width``/
    ``height``), a uint8 array (T,H,W,3) RGB, a (Y,U,V) tuple of plane stacks, or a
    :class:`mvclass.io.VideoSource`. H.264 options: ``partitions`` ('all' or '16x16'), ``entropy``
    ('cavlc', the default as in the paper's JM configuration, or 'cabac': the same decisions, hence
    the same motion fields and pictures, in a smaller stream; HEVC always codes CABAC and refuses
    the option).
    HEVC options: ``ctu_size``, ``max_depth``, ``tmvp``, ``sao``, ``rdoq`` (rate-distortion optimised
    quantisation: about 4% less rate at QP 30 for about a fifth more encoding time; off by default). Options of the other codec
    raise ``ValueError``. The cropped stream keeps I-picture texture and drops all P-picture
    residual, written normatively so any decoder reads it.

    A file that FFmpeg decodes with errors, or to another frame count than its container declares,
    gives a :class:`mvclass.io.VideoDecodeWarning`; ``strict=True`` raises ``ValueError`` instead.

    ``out``: a directory to write the streams, grids and rates into frame by frame (the layout of
    :mod:`mvclass.stream`; ``flush_every`` frames between header updates); the result is then
    :func:`mvclass.stream.load_result`'s, memory-mapped, and memory stays bounded in the video's
    length. Without ``out`` every frame's fields are held: :func:`mvclass.stream.encode_iter` yields
    them frame by frame instead.
    """
    if unknown:
        raise ValueError(f"unknown option(s) for encode_cropped: {', '.join(sorted(unknown))}")
    if out is not None:
        it = encode_iter(source, qp, codec, partitions=partitions, entropy=entropy, search_range=search_range,
                         ref_frames=ref_frames,
                         intra_period=intra_period, fps=fps, max_frames=max_frames, keep_recon=keep_recon,
                         ctu_size=ctu_size, max_depth=max_depth, tmvp=tmvp, sao=sao, rdoq=rdoq, width=width,
                         height=height, strict=strict, progress=progress)
        return load_result(write_frames(it, out, flush_every=flush_every))
    codec, opts = encoder_options(codec, qp=qp, search_range=search_range, ref_frames=ref_frames,
                                  intra_period=intra_period, partitions=partitions, entropy=entropy, ctu_size=ctu_size,
                                  max_depth=max_depth, tmvp=tmvp, sao=sao, rdoq=rdoq)
    keep_recon = _bool_option("keep_recon", keep_recon)
    src = read_video(source, fps=fps, max_frames=max_frames, width=width, height=height, strict=strict)
    fps_num, fps_den = _fps_fraction(_check_fps(src.fps))
    enc = _core.Encoder(codec, src.width, src.height, dict(opts, keep_recon=keep_recon, fps_num=fps_num, fps_den=fps_den))

    frames_iter = src.frames()
    if progress:
        from tqdm import tqdm

        total = len(src) if src.num_frames is not None else None
        frames_iter = tqdm(frames_iter, total=total, unit="frame", desc=f"{codec} qp{qp} {src.name}")

    full, cropped, rows, recon, pocs = [], [], [], [], []
    mv4, mvd4, ref4, kind4, sse_y = [], [], [], [], []
    h4, w4 = -(-src.height // 4), -(-src.width // 4)
    for y, u, v in frames_iter:
        out = enc.encode(y, u, v)
        full.append(out["nal_full"])
        cropped.append(out["nal_cropped"])
        rows.append(frame_row(out, codec))
        mv4.append(out["mv"][:h4, :w4])
        mvd4.append(out["mvd"][:h4, :w4])
        ref4.append(out["ref"][:h4, :w4])
        kind4.append(out["kind"][:h4, :w4])
        sse_y.append(out["sse"][0])
        pocs.append(out["poc"])
        if keep_recon:
            recon.append(out["recon"])
    if not rows:
        raise ValueError(f"{src.name}: video has no frames")

    mv4a, mvd4a, ref4a, kind4a = (np.stack(a) for a in (mv4, mvd4, ref4, kind4))
    # Intra pictures carry no motion: their fields are already intra; the grid stays empty.
    mv, mask, ref = mv_grid(mv4a, ref4a, kind4a, src.height, src.width)
    mvd = mvd_grid(mvd4a, kind4a, src.height, src.width)
    npix = src.width * src.height
    psnr = [frame_psnr(s, npix) for s in sse_y]
    user_opts = user_options(codec, opts)
    return EncodeResult(
        codec=codec, qp=opts["qp"], width=src.width, height=src.height, fps=src.fps, frames=len(rows),
        name=src.name, bitstream=b"".join(full), cropped=b"".join(cropped), mv=mv, mv_mask=mask, ref=ref,
        mvd=mvd, frame_bits=np.array(rows, dtype=frame_bits_dtype()), psnr_y=float(np.mean(psnr)),
        options=user_opts, mv4=mv4a, mvd4=mvd4a, ref4=ref4a, kind4=kind4a, recon=recon if keep_recon else None,
        poc=np.array(pocs, np.int32),
        frames_declared=src.report.declared if src.report is not None else None,
        decode_errors=src.report.errors if src.report is not None else 0)

