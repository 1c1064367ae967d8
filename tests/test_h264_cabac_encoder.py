"""Our H.264 encoder with CABAC (entropy="cabac", cpp/jm/cabac_syntax.cpp's writer): full and
cropped streams decode bit-exactly in FFmpeg's strictest mode, the decisions (and so motion fields
and pictures) are those of CAVLC, the bit categories sum exactly to the stream, the stream reader
gives back the encoder's fields and bits, CABAC streams are smaller, and the parameter sets say
High profile with entropy_coding_mode_flag 1."""
from __future__ import annotations

import numpy as np
import pytest

import mvclass
from mvclass import _core
from _util import check_bit_exact, check_cropped, encode, load_yuv, translating_clip


@pytest.fixture(scope="module")
def boxing(boxing_clip):
    return load_yuv(boxing_clip, 12)


def planes(frames):
    return tuple(np.stack(p) for p in zip(*frames))


def check_bits(res):
    """Categories sum exactly (bin costs are multiples of 2^-16 bit, held exactly) to the NAL
    bytes; cropped P pictures carry no residual beyond Intra16x16's coded_block_flag 0 of its DC
    block (one bin, at most log2(510 / 6) < 7 bits)."""
    for r in res:
        assert sum(r["bits_full"].values()) == 8 * len(r["nal_full"])
        assert sum(r["bits_cropped"].values()) == 8 * len(r["nal_cropped"])
        if r["type"] == "P":
            intra_mbs = np.count_nonzero(r["kind"] == _core.KIND_INTRA) // 16
            assert r["bits_cropped"]["residual_chroma"] == 0
            assert r["bits_cropped"]["residual_luma"] <= 7 * intra_mbs


def same_decisions(a, b):
    for x, y in zip(a, b):
        assert x["type"] == y["type"]
        for k in ("mv", "mvd", "ref", "kind"):
            assert np.array_equal(x[k], y[k]), k
        assert all(np.array_equal(p, q) for p, q in zip(x["recon"], y["recon"]))
        assert tuple(x["sse"]) == tuple(y["sse"])


@pytest.mark.parametrize("qp,n,opts", [(30, 12, {}), (0, 4, {}), (51, 8, {}), (30, 8, {"partitions_all": False, "ref_frames": 1}),
                                       (24, 8, {"intra_period": 3, "ref_frames": 2})])
def test_boxing_bit_exact_cropped_and_same_decisions_as_cavlc(boxing, qp, n, opts):
    frames = boxing[:n]
    res = encode(frames, qp=qp, cabac=True, keep_recon=True, **opts)
    check_bit_exact(frames, res)
    check_cropped(frames, res)
    check_bits(res)
    cavlc = encode(frames, qp=qp, keep_recon=True, **opts)
    same_decisions(cavlc, res)


@pytest.mark.parametrize("h,w,opts", [(60, 100, {"qp": 28, "ref_frames": 2}), (2, 2, {}), (18, 34, {"search_range": 64}),
                                      (32, 48, {"qp": 0, "search_range": 1}), (16, 16, {"ref_frames": 4, "qp": 51})])
def test_odd_sizes_bit_exact(h, w, opts):
    frames = translating_clip(5, h, w, 9, -7, seed=2)
    res = encode(frames, cabac=True, keep_recon=True, **opts)
    dec = check_bit_exact(frames, res)
    assert (dec[0].height, dec[0].width) == (h, w)
    check_cropped(frames, res)
    check_bits(res)


@pytest.mark.parametrize("qp", [0, 30, 51])
def test_read_stream_gives_back_the_encoder_fields_and_bits(boxing, qp):
    r = mvclass.encode_cropped(planes(boxing[:6 if qp == 0 else 12]), qp=qp, entropy="cabac", intra_period=5)
    assert r.options["entropy"] == "cabac"
    s = mvclass.read_stream(r.bitstream)
    for f in ("mv4", "ref4", "kind4", "mvd4"):
        assert np.array_equal(getattr(s, f), getattr(r, f)), f
    for k in r.frame_bits.dtype.names:
        assert np.array_equal(s.frame_bits[k], r.frame_bits[k]), k
    assert s.cropped == r.cropped  # the reader's crop (the same writer, texture off) is our cropped stream
    assert mvclass.crop(r.bitstream, drop="") == r.bitstream


def test_cabac_is_smaller_than_cavlc(boxing):
    p = planes(boxing)
    for qp in (30, 51):
        a = mvclass.encode_cropped(p, qp=qp)
        b = mvclass.encode_cropped(p, qp=qp, entropy="cabac")
        assert a.options["entropy"] == "cavlc"
        assert np.array_equal(a.mv4, b.mv4) and a.psnr_y == b.psnr_y
        assert len(b.bitstream) < 0.97 * len(a.bitstream), qp
        assert len(b.cropped) < 0.97 * len(a.cropped), qp
        # motion (ref_idx + mvd) bits shrink too
        assert b.rates.motion < a.rates.motion


def test_qp0_intra_picture_carries_cabac_zero_words(boxing):
    """At QP 0 an I picture codes more bins than 7.4.2.10 allows for its bytes: cabac_zero_words
    (0x0000, i.e. 00 00 03 in the NAL unit, which must not end in 0x00) are appended, charged to
    the header; FFmpeg decodes it strictly (test above) and the reader gives back the same bits."""
    r = encode(boxing[:1], qp=0, cabac=True)[0]
    nal = r["nal_full"]
    assert nal.endswith(b"\x00\x00\x03") and nal[-1] != 0
    tail = len(nal) - len(nal.rstrip(b"\x00\x03"))
    assert tail >= 3 and r["bits_full"]["header"] >= 8 * tail
    cavlc = encode(boxing[:1], qp=30)[0]["nal_full"]
    assert not cavlc.endswith(b"\x00\x00\x03")


def nal_units(data: bytes):
    return [u for u in data.split(b"\x00\x00\x01")[1:]]


@pytest.mark.parametrize("entropy,flag", [("cavlc", 0), ("cabac", 1)])
def test_parameter_sets_signal_high_profile_and_the_entropy_mode(boxing, entropy, flag):
    r = mvclass.encode_cropped(planes(boxing[:2]), qp=30, entropy=entropy)
    units = nal_units(r.bitstream)
    sps = next(u for u in units if u[0] & 31 == 7)
    pps = next(u for u in units if u[0] & 31 == 8)
    assert sps[1] == 100  # profile_idc High (CABAC is not allowed in Baseline)
    assert pps[1] >> 6 == 3  # pic_parameter_set_id, seq_parameter_set_id: ue(0) each
    assert (pps[1] >> 5) & 1 == flag  # entropy_coding_mode_flag


def test_entropy_option_errors():
    p = planes(translating_clip(2, 16, 16, 1, 1))
    with pytest.raises(ValueError, match="HEVC always codes CABAC"):
        mvclass.encode_cropped(p, codec="hevc", entropy="cabac")
    with pytest.raises(ValueError, match="HEVC always codes CABAC"):
        mvclass.encode_cropped(p, codec="hevc", entropy="cavlc")
    with pytest.raises(ValueError, match="entropy must be 'cavlc' or 'cabac'"):
        mvclass.encode_cropped(p, entropy="CABAC!")
    with pytest.raises(ValueError, match="HEVC always codes CABAC"):
        _core.Encoder("hevc", 16, 16, {"cabac": True})
    with pytest.raises(ValueError, match="cabac"):
        _core.Encoder("h264", 16, 16, {"cabac": 1})  # a flag, not a number


def test_cli_encode_entropy(boxing_clip, tmp_path, capsys):
    from mvclass.cli import main

    assert main(["encode", str(boxing_clip), "--entropy", "cabac", "--max-frames", "3", "-q", "-o", str(tmp_path)]) == 0
    s = mvclass.read_stream(tmp_path / "v_BoxingPunchingBag_g05_c01.264")
    assert s.frames == 3
    assert main(["encode", str(boxing_clip), "--codec", "hevc", "--entropy", "cabac", "-q"]) == 2
    assert "CABAC" in capsys.readouterr().err
