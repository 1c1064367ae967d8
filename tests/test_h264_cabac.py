"""H.264 CABAC slice data (cpp/jm/cabac_syntax.cpp) through the test-only bindings of
cpp/bindings/h264_cabac_test.cpp.

Random records prove that reader and writer agree (records, bits and bit counts); real x264
streams prove the context tables and the context selection: every slice of I, P and B pictures
(cabac_init_idc 0, 1, 2, several references, 8x8 transform, weighted prediction, temporal
direct) decodes without desync to its end and re-encodes bit for bit, and the texture-off
rewrite is decoded by FFmpeg."""
from __future__ import annotations

import io

import numpy as np
import pytest

from mvclass import _core

SLICE_P, SLICE_B, SLICE_I = 0, 1, 2
FLAGS = ("records_equal", "bits_equal", "counts_equal", "counts_sum", "crop_ok")


@pytest.mark.parametrize("cabac", [True, False], ids=["cabac", "cavlc"])
@pytest.mark.parametrize("slice_type", [SLICE_I, SLICE_P, SLICE_B])
@pytest.mark.parametrize("t8, d8, chroma", [(True, True, 1), (False, True, 1), (True, False, 1), (True, True, 0)])
def test_random_records_roundtrip(slice_type, t8, d8, chroma, cabac):
    """Random valid records (every macroblock type, I_PCM included) of both entropy modes: written,
    read back to the same records and bits, rewritten identically, and written without texture."""
    types = set()
    for seed in range(12):
        r = _core._h264_cabac_roundtrip(seed, slice_type, 7, 5, 1 + seed % 4, transform_8x8=t8,
                                        direct_8x8_inference=d8, chroma_format_idc=chroma, cabac=cabac)
        assert all(r[f] for f in FLAGS), (seed, {f: r[f] for f in FLAGS}, r["first_diff"])
        assert sum(r["counts"].values()) == pytest.approx(r["bits"], abs=1e-6)
        types |= set(r["types"])
    expected = {"I4x4", "I16x16", "IPCM"} | ({"I8x8"} if t8 else set())
    if slice_type == SLICE_P:
        expected |= {"P16x16", "P16x8", "P8x16", "P8x8", "PSkip"}
    if slice_type == SLICE_B:
        expected |= {"B16x16", "B16x8", "B8x16", "B8x8", "BDirect", "BSkip"}
    assert expected <= types


def x264_stream(frames, params, qp, bf, pix="yuv420p"):
    """x264 through PyAV; qp None leaves x264 its CRF rate control (AQ: varying mb_qp_delta)."""
    av = pytest.importorskip("av")
    buf = io.BytesIO()
    out = av.open(buf, "w", format="h264")
    h, w = frames[0][0].shape
    st = out.add_stream("libx264", rate=25)
    st.width, st.height, st.pix_fmt = w, h, pix
    st.codec_context.max_b_frames = bf
    st.options = {"x264-params": params, "preset": "medium", **({"qp": str(qp)} if qp is not None else {})}
    for y, u, v in frames:
        f = av.VideoFrame(w, h, pix)
        for plane, arr in zip(f.planes, (y,) if pix == "gray" else (y, u, v)):
            a = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
            a[:arr.shape[0], :arr.shape[1]] = arr
        for pkt in st.encode(f):
            out.mux(pkt)
    for pkt in st.encode():
        out.mux(pkt)
    out.close()
    return buf.getvalue()


@pytest.fixture(scope="module")
def boxing12(boxing_clip):
    from _util import load_yuv
    return load_yuv(boxing_clip, 12)


X264 = [  # x264 parameters, qp (None: CRF 24 with adaptive quantisation), B-frames, pixel format
    ("keyint=30:bframes=0:cabac=1:8x8dct=0", 30, 0, "yuv420p"),
    ("keyint=30:bframes=3:b-adapt=0:b-pyramid=normal:weightp=2:8x8dct=1:cabac=1", 30, 3, "yuv420p"),
    ("keyint=30:bframes=3:b-adapt=0:b-pyramid=normal:8x8dct=1:cabac=1:cabac-idc=1:ref=4", 22, 3, "yuv420p"),
    ("keyint=30:bframes=2:b-adapt=0:8x8dct=1:cabac=1:cabac-idc=2:direct=temporal", 36, 2, "yuv420p"),
    ("keyint=4:bframes=0:8x8dct=1:cabac=1", 4, 0, "yuv420p"),
    ("keyint=30:bframes=3:b-adapt=0:8x8dct=1:partitions=all:aq-mode=2:aq-strength=1.5", None, 3, "yuv420p"),
    ("keyint=30:bframes=2:b-adapt=0:8x8dct=1:constrained-intra=1:aq-mode=1:threads=1", None, 2, "yuv420p"),
    ("keyint=30:bframes=2:b-adapt=0:8x8dct=1:aq-mode=1", None, 2, "gray"),
]


@pytest.mark.parametrize("params, qp, bf, pix", X264)
def test_x264_slices_decode_and_reencode(boxing12, params, qp, bf, pix):
    data = x264_stream(boxing12, params, qp, bf, pix)
    r = _core._h264_cabac_stream(data)
    kinds = {"I", "P", "B"} if bf else {"I", "P"}
    assert r["chroma_format_idc"] == ({0} if pix == "gray" else {1})
    assert (r["qp_delta_nonzero"] > 100) == (qp is None)  # AQ varies the QP per macroblock
    h, w = boxing12[0][0].shape
    assert r["mbs"] == len(boxing12) * (h // 16) * (w // 16)  # every macroblock, no slice ran over
    assert set(r["slice_types"]) == kinds
    # the arithmetic code ends at or before the stop bit; the rewrite equals the input up to
    # there, and with x264's own flush padding (bits before its stop bit) it is the input
    assert r["within"] == r["slices"]
    assert r["identical_with_tail"] == r["slices"]
    assert r["identical"] == r["exact_end"]


def test_texture_off_rewrite_decodes_with_ffmpeg(boxing12):
    from mvclass.decode import decode_frames
    data = x264_stream(boxing12, X264[2][0], 26, 3)
    r = _core._h264_cabac_stream(data)
    assert len(r["cropped"]) < len(data) // 2
    assert len(decode_frames(r["cropped"], "h264", strict=True)) == len(boxing12)
    r2 = _core._h264_cabac_stream(r["cropped"])
    assert "IPCM" not in r["types"]  # (x264 codes none here; the random records cover I_PCM)
    assert r2["mbs"] == r["mbs"] and r2["types"] == r["types"]
    assert r2["identical"] == r2["slices"] == r2["exact_end"]  # our own flush ends on the stop bit
    c = r2["counts"]
    assert c["residual_chroma"] == 0 and c["residual_luma"] < 0.02 * sum(r["counts"].values())


def test_corrupt_slices_raise_never_crash(boxing12):
    data = bytearray(x264_stream(boxing12[:6], X264[1][0], 30, 3))
    rng = np.random.default_rng(1)
    starts = [i for i in range(len(data) - 4) if data[i:i + 3] == b"\0\0\1" and data[i + 3] & 31 in (1, 5)]
    raised = 0
    for trial in range(300):
        d = bytearray(data)
        pos = int(rng.choice(starts)) + 8 + int(rng.integers(0, 200))
        if trial % 3 == 0:
            d = d[:min(pos, len(d))]  # truncated
        else:
            for _ in range(1 + trial % 4):
                p = min(pos + int(rng.integers(0, 64)), len(d) - 1)
                d[p] ^= 1 << int(rng.integers(0, 8))
        try:
            _core._h264_cabac_stream(bytes(d))
        except (RuntimeError, ValueError, IndexError):
            raised += 1
    assert raised > 50


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("texture_off", [False, True])
def test_written_intra_picture_decodes_in_ffmpeg(seed, texture_off):
    """The writer against an independent decoder: a CABAC IDR picture of random intra records
    (DC prediction, I_PCM included, up to 3 slices) decodes strictly in FFmpeg, with every I_PCM
    macroblock's samples exact (deblocking is off); the texture-off version decodes too."""
    pytest.importorskip("av")
    from mvclass.decode import decode_frames
    from mvclass.io import av_frame_planes as planes
    mbw, mbh = 11, 9
    data, pcm = _core._h264_cabac_intra_stream(seed, mbw, mbh, 1 + seed % 3, texture_off)
    dec = decode_frames(data, "h264", strict=True)
    assert len(dec) == 1
    y, u, v = planes(dec[0])
    assert pcm  # every seed here draws I_PCM macroblocks
    if not texture_off:
        for mb, smp in pcm.items():
            s = np.frombuffer(smp, np.uint8)
            mx, my = mb % mbw, mb // mbw
            assert np.array_equal(y[16 * my:16 * my + 16, 16 * mx:16 * mx + 16], s[:256].reshape(16, 16))
            assert np.array_equal(u[8 * my:8 * my + 8, 8 * mx:8 * mx + 8], s[256:320].reshape(8, 8))
            assert np.array_equal(v[8 * my:8 * my + 8, 8 * mx:8 * mx + 8], s[320:].reshape(8, 8))
    r = _core._h264_cabac_stream(data)  # and our reader reads it back to the same bits
    assert r["identical"] == r["exact_end"] == r["slices"] >= 1
    assert ("IPCM" in r["types"]) != texture_off
