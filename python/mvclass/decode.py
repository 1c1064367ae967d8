"""Decoding through FFmpeg (PyAV): our streams, or anyone's.

* :func:`decode` turns an Annex-B H.264/HEVC stream into YUV 4:2:0 planes, optionally in
  FFmpeg's strictest error-detection mode (how the tests prove our streams conform).
* :func:`exported_motion` reads the motion vectors FFmpeg's H.264 decoder exports
  (``flags2=+export_mvs``) onto the same 4x4-block field the encoders report, so MV grids can
  be taken from existing H.264 files without re-encoding. (FFmpeg exports none for HEVC.)
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mvclass.io import av_frame_planes

DECODERS = {"h264": "h264", "hevc": "hevc"}
STRICT = "careful+bitstream+explode"


_BSF = {"h264": "h264_mp4toannexb", "hevc": "hevc_mp4toannexb"}


def _is_annexb(raw: bytes) -> bool:
    i = 0
    while i < len(raw) and i < 64 and raw[i] == 0:
        i += 1
    return i >= 2 and i < len(raw) and raw[i] == 1


def _read(data) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, (str, os.PathLike)):
        p = Path(data)
        if not p.exists():
            raise FileNotFoundError(f"stream not found: {p}")
        return p.read_bytes()
    raise ValueError(f"expected stream bytes or a path, got {type(data).__name__}")


_EXT = {".264": "h264", ".h264": "h264", ".avc": "h264", ".265": "hevc", ".h265": "hevc", ".hevc": "hevc"}


def sniff_codec(raw: bytes) -> str:
    """'h264' or 'hevc' from the first NAL unit header of an Annex-B stream."""
    i = raw.find(b"\x00\x00\x01")
    if i < 0 or i + 4 >= len(raw):
        raise ValueError("not an Annex-B stream (no start code)")
    h0, h1 = raw[i + 3], raw[i + 4]
    if h0 & 0x81 == 0 and (h0 >> 1) in (32, 33, 34, 35, 39) and h1 & 0x07:  # VPS/SPS/PPS/AUD/SEI, tid >= 1
        return "hevc"
    if h0 & 0x80 == 0 and h0 & 0x1F in (1, 5, 6, 7, 8, 9):
        return "h264"
    raise ValueError("cannot tell the codec from the first NAL unit; pass codec='h264' or 'hevc'")


def decode_frames(data, codec: str | None = None, *, strict: bool = True, export_mvs: bool = False):
    """Decode an Annex-B stream into PyAV frames (with their side data); see :func:`decode`."""
    options = {}
    if strict:
        options["err_detect"] = STRICT
    if export_mvs:
        options["flags2"] = "+export_mvs"
    return _decode_frames(data, codec, options)


def _decode_frames(data, codec: str | None, options: dict):
    import av

    raw = _read(data)
    if not raw:
        raise ValueError("empty stream")
    if codec is None:
        ext = Path(data).suffix.lower() if isinstance(data, (str, os.PathLike)) else ""
        codec = _EXT.get(ext) or sniff_codec(raw)
    if codec not in DECODERS:
        raise ValueError(f"unknown codec {codec!r}; expected 'h264' or 'hevc'")
    ctx = av.codec.CodecContext.create(DECODERS[codec], "r")
    ctx.options = options
    ctx.thread_count = 1  # frame threading would reorder error reports and side data
    frames = []
    try:
        for pkt in ctx.parse(raw):
            frames.extend(ctx.decode(pkt))
        for pkt in ctx.parse(None):
            frames.extend(ctx.decode(pkt))
        frames.extend(ctx.decode(None))
    except av.error.FFmpegError as e:
        raise ValueError(f"FFmpeg could not decode the {codec} stream: {e}") from None
    return frames


def decode(data, codec: str | None = None, *, strict: bool = True) -> list[tuple]:
    """Decode an Annex-B stream (bytes or path) into a list of (Y, U, V) uint8 planes.

    ``codec`` ('h264' or 'hevc') is taken from the file extension or the first NAL unit when None.

    ``strict`` turns on FFmpeg's ``err_detect=careful+bitstream+explode``: any syntax error
    raises ``ValueError`` instead of being concealed.
    """
    return [av_frame_planes(f) for f in decode_frames(data, codec, strict=strict)]


def exported_motion(data, *, strict: bool = True):
    """Motion of an H.264 stream as FFmpeg's decoder exports it, on the 4x4-block grid.

    Returns ``(mv, valid)``: ``mv`` int16 (T, ceil(H/4), ceil(W/4), 2) in quarter-pel with the
    bitstream's sign (reference position = block position + mv) and ``valid`` bool, True on
    blocks that FFmpeg reported a forward MV for (inter and skip blocks; intra blocks have none).
    """
    frames = decode_frames(data, "h264", strict=strict, export_mvs=True)
    if not frames:
        raise ValueError("stream decoded to no frames")
    h4, w4 = -(-frames[0].height // 4), -(-frames[0].width // 4)
    mv = np.zeros((len(frames), h4, w4, 2), np.int16)
    valid = np.zeros((len(frames), h4, w4), bool)
    for i, f in enumerate(frames):
        sd = f.side_data.get("MOTION_VECTORS")
        if sd is None:
            continue
        a = sd.to_ndarray()
        a = a[a["source"] < 0]  # forward (list 0) references only
        for blk in a:
            bw, bh = int(blk["w"]), int(blk["h"])
            x0, y0 = (int(blk["dst_x"]) - bw // 2) // 4, (int(blk["dst_y"]) - bh // 2) // 4
            scale = int(blk["motion_scale"])
            q = (int(blk["motion_x"]) * 4 // scale, int(blk["motion_y"]) * 4 // scale)
            mv[i, y0:y0 + bh // 4, x0:x0 + bw // 4] = q
            valid[i, y0:y0 + bh // 4, x0:x0 + bw // 4] = True
    return mv, valid
