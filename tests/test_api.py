"""The encode_cropped contract on both codecs: shapes, accounting, rates, save(), errors."""
import numpy as np
import pytest

import mvclass
from mvclass.api import CATEGORIES, MOTION_CATEGORIES
from mvclass.io import sample_clip
from _util import translating_clip

CODECS = ["h264", "hevc"]


@pytest.fixture(scope="module", params=CODECS)
def result(request):
    return mvclass.encode_cropped(sample_clip(frames=6, width=96, height=64), qp=30, codec=request.param)


def test_result_contract(result):
    t, rows, cols = 6, 8, 12
    assert (result.frames, result.width, result.height, result.fps, result.qp) == (t, 96, 64, 25.0, 30)
    assert result.mv.shape == (t, rows, cols, 2) and result.mv.dtype == np.int16
    assert result.mvd.shape == result.mv.shape and result.mvd.dtype == np.int16
    assert result.mv_mask.shape == (t, rows, cols) and result.mv_mask.dtype == bool
    assert result.ref.shape == (t, rows, cols) and result.ref.dtype == np.int8
    assert not result.mv_mask[0].any() and (result.mv[0] == 0).all() and (result.ref[0] == -1).all()
    assert result.mv_mask[1:].any()
    assert (result.ref[result.mv_mask] >= 0).all() and (result.ref[result.mv_mask] < 3).all()
    assert list(result.frame_bits["type"]) == ["I"] + ["P"] * (t - 1)


def test_accounting_adds_up(result):
    fb = result.frame_bits
    assert fb["full"].sum() == pytest.approx(8 * len(result.bitstream), rel=1e-9)
    assert fb["cropped"].sum() == pytest.approx(8 * len(result.cropped), rel=1e-9)
    for s in ("full", "cropped"):
        assert sum(result.bits[s].values()) == pytest.approx(fb[s].sum())
        assert set(result.bits[s]) == set(CATEGORIES)
    # I-pictures are identical in both streams; P-pictures lose their residual.
    assert fb["full"][0] == fb["cropped"][0]
    p = fb["type"] == "P"
    assert fb["cropped_residual_chroma"][p].sum() == 0
    # H.264 Intra16x16 syntax always carries the luma DC block: in a cropped P-picture an empty
    # one, 1 bit per intra MB. HEVC P-pictures carry no residual at all.
    intra_mbs = (result.kind4[1:] == 0).sum() / 16
    bound = intra_mbs if result.codec == "h264" else 0
    assert fb["cropped_residual_luma"][p].sum() <= bound
    motion = sum(fb[f"cropped_{c}"][1:].sum() for c in MOTION_CATEGORIES[result.codec])
    assert fb["motion"].sum() == pytest.approx(motion)


def test_rates(result):
    r = result.rates
    assert 0 < r.motion <= r.cropped < r.orig
    assert r.orig == pytest.approx(len(result.bitstream) * 8 / (6 / 25) / 1000)


def test_save(result, tmp_path):
    paths = result.save(tmp_path, "clip")
    ext = ".264" if result.codec == "h264" else ".265"
    assert paths["full"].name == f"clip{ext}" and paths["cropped"].name == f"clip.cropped{ext}"
    assert paths["full"].read_bytes() == result.bitstream
    with np.load(paths["npz"]) as z:
        np.testing.assert_array_equal(z["mv"], result.mv)
        np.testing.assert_array_equal(z["mv_mask"], result.mv_mask)
        assert tuple(z["rates"]) == pytest.approx(tuple(result.rates))
        assert z["frame_bits"].dtype.names == result.frame_bits.dtype.names


@pytest.mark.parametrize("codec", CODECS)
def test_known_translation_recovered(codec):
    frames = translating_clip(8, 64, 96, dx4=8, dy4=-4)  # content moves (+2, -1) px per frame
    clip = tuple(np.stack([f[k] for f in frames]) for k in range(3))
    r = mvclass.encode_cropped(clip, qp=22, codec=codec, ref_frames=1)
    mv = r.mv[1:][r.mv_mask[1:]]
    # Content moving (+2, -1) px/frame is predicted from (-2, +1) px back: quarter-pel (-8, +4).
    assert np.median(mv[:, 0]) == -8 and np.median(mv[:, 1]) == 4
    assert (np.abs(mv - np.array([-8, 4])) <= 1).all(axis=1).mean() > 0.9


@pytest.mark.parametrize("codec", CODECS)
def test_deterministic(codec):
    clip = sample_clip(frames=4, width=64, height=48)
    a = mvclass.encode_cropped(clip, qp=35, codec=codec)
    b = mvclass.encode_cropped(clip, qp=35, codec=codec)
    assert a.bitstream == b.bitstream and a.cropped == b.cropped


def test_real_clip_rates_order(boxing_clip):
    r = mvclass.encode_cropped(boxing_clip, qp=30, max_frames=12)
    assert r.frames == 12 and (r.width, r.height) == (320, 240) and r.mv.shape[1:3] == (30, 40)
    assert r.rates.motion < r.rates.cropped < r.rates.orig


CLIP = np.zeros((2, 32, 32, 3), np.uint8)


@pytest.mark.parametrize("kwargs,words", [
    ({"qp": -1}, "qp"), ({"qp": 52}, "qp"), ({"qp": "30"}, "qp"), ({"qp": True}, "qp"),
    ({"codec": "vp9"}, "codec"), ({"codec": "hevc", "partitions": "all"}, "partitions"),
    ({"ctu_size": 32}, "ctu_size"), ({"sao": False}, "sao"), ({"rdoq": True}, "rdoq"),
    ({"codec": "hevc", "ctu_size": 24}, "ctu_size"), ({"codec": "hevc", "ctu_size": 16, "max_depth": 2, "tmvp": 1}, "tmvp"),
    ({"codec": "hevc", "ctu_size": 16, "max_depth": 3}, "8x8"),
    ({"partitions": "8x8"}, "partitions"), ({"ref_frames": 0}, "ref_frames"), ({"ref_frames": 5}, "ref_frames"),
    ({"search_range": 0}, "search_range"), ({"intra_period": -1}, "intra_period"),
    ({"max_frames": 0}, "max_frames"), ({"fps": -25}, "fps"), ({"keep_recon": "yes"}, "keep_recon"),
    ({"bogus": 1}, "bogus"), ({"intra_period": 10**12}, "intra_period"), ({"fps": 1e10}, "fps"),
    ({"fps": 1e-9}, "fps"), ({"fps": 10**400}, "fps"),
])
def test_bad_options_raise_value_error(kwargs, words):
    with pytest.raises(ValueError, match=words):
        mvclass.encode_cropped(CLIP, **kwargs)


def test_bad_sources():
    with pytest.raises(FileNotFoundError):
        mvclass.encode_cropped("/no/such/video.avi")
    with pytest.raises(ValueError, match="no frames"):
        mvclass.encode_cropped(np.zeros((0, 32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="zero size"):
        mvclass.encode_cropped(np.zeros((3, 0, 32, 3), np.uint8))


def test_cli_encode(tmp_path, boxing_clip, capsys):
    from mvclass.cli import main

    assert main(["encode", str(boxing_clip), "--qp", "30", "--max-frames", "5", "-q", "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Rorig" in out and "Rcropped" in out and "Rmotion" in out
    assert (tmp_path / "v_BoxingPunchingBag_g05_c01.264").stat().st_size > 0
    assert (tmp_path / "v_BoxingPunchingBag_g05_c01.cropped.264").stat().st_size > 0
    assert main(["encode", str(tmp_path / "missing.avi")]) == 2
    assert "not found" in capsys.readouterr().err


@pytest.mark.parametrize("opts,words", [
    ({"intra_period": 10**12}, "'intra_period' is out of range"), ({"qp": 30.5}, "'qp' must be an integer"),
    ({"qp": "30"}, "'qp' must be an integer"), ({"search_range": True}, "'search_range' must be an integer"),
    ({"sao": 1}, "'sao' must be True or False"), ({"fps_num": 2**31}, "'fps_num' is out of range"),
    ({"fps_num": 2**30 + 1}, "fps_num must be at most"),
])
def test_native_encoder_names_the_bad_option(opts, words):
    from mvclass import _core

    with pytest.raises(ValueError, match=words):
        _core.Encoder("h264", 32, 32, opts)
    _core.Encoder("hevc", 32, 32, {"sao": np.bool_(False), "qp": np.int64(30), "intra_period": 2**31 - 1})
