"""read_stream / crop on HEVC: our own encoder's streams read back exactly (fields, per-category
bits, cropped and identity rewrites), corrupt input (result or exception, never a crash) and
features outside the reader's scope (ValueError naming them)."""
from __future__ import annotations

import numpy as np
import pytest

import mvclass
from mvclass import _core
from _util import load_yuv

FIELDS = ("mv4", "ref4", "kind4", "mvd4")


def planes(frames):
    return tuple(np.stack(p) for p in zip(*frames))


@pytest.fixture(scope="module")
def boxing12(boxing_clip):
    return planes(load_yuv(boxing_clip, 12))


OWN = [dict(qp=30), dict(qp=0), dict(qp=51), dict(qp=30, ctu_size=16), dict(qp=30, ctu_size=32, max_depth=2),
       dict(qp=22, ctu_size=64, max_depth=4), dict(qp=30, tmvp=False), dict(qp=30, sao=False),
       dict(qp=35, tmvp=False, sao=False, ref_frames=1), dict(qp=27, rdoq=True),
       dict(qp=40, ref_frames=4, intra_period=5)]


def check_exact(r, s):
    assert (s.frames, s.width, s.height, s.codec) == (r.frames, r.width, r.height, "hevc")
    for f in FIELDS:
        assert np.array_equal(getattr(s, f), getattr(r, f)), f
    assert list(s.frame_bits["type"]) == list(r.frame_bits["type"])
    for k in r.frame_bits.dtype.names:
        if k != "type":
            np.testing.assert_allclose(s.frame_bits[k], r.frame_bits[k], rtol=0, atol=1e-6, err_msg=k)
    # every byte charged once: the categories of a picture sum to its bytes x 8
    assert s.frame_bits["full"].sum() == pytest.approx(8 * len(r.bitstream), abs=1e-6)
    assert s.frame_bits["cropped"].sum() == pytest.approx(8 * len(r.cropped), abs=1e-6)
    assert s.cropped == r.cropped
    assert np.array_equal(s.poc, r.poc)
    assert (s.ref4_l1 == -1).all() and not s.mv4_l1.any() and not s.mvd4_l1.any()
    for a, b in ((s.mv, r.mv), (s.mv_mask, r.mv_mask), (s.ref, r.ref), (s.mvd, r.mvd)):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("opts", OWN, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_own_streams_read_back_exactly(boxing12, opts):
    r = mvclass.encode_cropped(boxing12, codec="hevc", **opts)
    s = mvclass.read_stream(r.bitstream)
    check_exact(r, s)
    assert mvclass.crop(r.bitstream) == r.cropped
    assert mvclass.crop(r.bitstream, drop="") == r.bitstream
    assert mvclass.crop(r.bitstream, drop="P") == r.cropped  # no B pictures: the same stream
    # the cropped stream reads back with the same motion and kinds, and is its own crop
    c = mvclass.read_stream(r.cropped)
    for f in FIELDS:
        assert np.array_equal(getattr(c, f), getattr(r, f)), f
    assert mvclass.crop(r.cropped) == r.cropped


def test_odd_size_and_partial_ctus(boxing12):
    """A picture that is not a multiple of the CTU (nor of 8): conformance window, partial CTUs."""
    y, u, v = boxing12
    src = (y[:6, :60, :84], u[:6, :30, :42], v[:6, :30, :42])
    for ctu in (16, 64):
        r = mvclass.encode_cropped(src, codec="hevc", qp=28, ctu_size=ctu)
        check_exact(r, mvclass.read_stream(r.bitstream))


def test_crop_intra_too(boxing12):
    r = mvclass.encode_cropped(boxing12, codec="hevc", qp=30)
    all_off = mvclass.crop(r.bitstream, drop="IP")
    assert len(all_off) < len(r.cropped)
    s = mvclass.read_stream(all_off)
    for f in FIELDS:  # texture changes nothing in the syntax of motion
        assert np.array_equal(getattr(s, f), getattr(r, f)), f
    assert s.frame_bits["full_residual_luma"].sum() == 0 and s.frame_bits["full_residual_chroma"].sum() == 0


def test_raw_dict(boxing12):
    r = mvclass.encode_cropped(boxing12, codec="hevc", qp=30, intra_period=6)
    d = _core.read_hevc(r.bitstream, drop="", rewrite=False)
    assert d["rewritten"] == b""
    assert d["type"] == "".join(r.frame_bits["type"])
    assert list(d["idr"]) == [t % 6 == 0 for t in range(12)]
    assert list(d["segment"]) == [t // 6 for t in range(12)]
    assert d["profile_idc"] == 1 and d["cabac"]
    assert (d["bytes"].sum(), d["bits"].sum()) == (len(r.bitstream), pytest.approx(8 * len(r.bitstream)))
    with pytest.raises(ValueError, match="drop"):
        _core.read_hevc(r.bitstream, drop="X")


def test_corrupt_and_truncated(boxing12):
    """Mutated streams: a result or a ValueError naming where, never a crash or hang."""
    rng = np.random.default_rng(15)
    y, u, v = boxing12
    streams = [mvclass.encode_cropped((y[:5, :64, :96], u[:5, :32, :48], v[:5, :32, :48]), codec="hevc", qp=q,
                                      ctu_size=c).bitstream for q, c in ((20, 16), (35, 32), (45, 64))]
    errors = ok = 0
    for i in range(1500):
        data = bytearray(streams[i % len(streams)])
        kind = rng.integers(3)
        if kind == 0:
            for _ in range(int(rng.integers(1, 4))):
                data[int(rng.integers(len(data)))] ^= 1 << int(rng.integers(8))
        elif kind == 1:
            data = data[: int(rng.integers(1, len(data)))]
        else:
            p = int(rng.integers(len(data)))
            data[p:p + int(rng.integers(1, 16))] = bytes(rng.integers(0, 256, int(rng.integers(1, 16)), dtype=np.uint8))
        try:
            d = _core.read_hevc(bytes(data), drop="PB")
            ok += 1
            assert len(d["type"]) >= 1
        except ValueError as e:
            errors += 1
            msg = str(e)
            assert msg
        try:
            _core.read_hevc(bytes(data), drop="", strict=False)
        except ValueError:
            pass
    assert errors > 100 and ok > 10
    # a damaged slice names the picture and CTU
    data = bytearray(streams[1])
    msgs = []
    for pos in range(len(data) // 3, len(data), 97):
        d2 = bytearray(data)
        d2[pos] ^= 0x5a
        try:
            _core.read_hevc(bytes(d2))
        except ValueError as e:
            msgs.append(str(e))
    assert any("picture" in m and "CTU" in m for m in msgs), msgs[:5]


def test_non_strict_keeps_complete_pictures(boxing12):
    r = mvclass.encode_cropped(boxing12, codec="hevc", qp=30)
    cut = r.bitstream[: len(r.bitstream) - 40]
    with pytest.raises(ValueError):
        mvclass.read_stream(cut)
    with pytest.warns(RuntimeWarning):
        s = mvclass.read_stream(cut, strict=False)
    assert 0 < s.frames < r.frames
    assert np.array_equal(s.mv4, r.mv4[: s.frames])


def test_not_hevc_or_empty():
    with pytest.raises(ValueError):
        _core.read_hevc(b"\x00\x00\x01")
    with pytest.raises(ValueError):
        _core.read_hevc(b"hello world")


# ------------------------------------------------------------------ x265 streams
from mvclass.decode import decode  # noqa: E402
from _util import dec265_matches_ffmpeg, x265_stream  # noqa: E402

X265_P = [
    "bframes=0:wpp=0:ref=1",
    "bframes=0:wpp=0:ref=4:ctu=64",
    "bframes=0:wpp=0:ctu=16:max-merge=1",
    "bframes=0:wpp=0:ctu=32:max-merge=5:rect=1",
    "bframes=0:wpp=0:no-tmvp=1:no-sao=1",
    "bframes=0:wpp=0:weightp=1:ref=3",
    "bframes=0:wpp=0:keyint=4:min-keyint=4",
    "bframes=0:wpp=0:limit-tu=0:tu-inter-depth=3:tu-intra-depth=3",
    "bframes=0:wpp=1",
    "bframes=0:wpp=1:ctu=16:ref=2",
    "bframes=0:wpp=1:ctu=64:max-merge=3",
    "bframes=0:wpp=0:amp=1:rect=1:ref=4",
]

X265_B = [
    "",  # x265's defaults (preset medium): B pyramid, WPP, AMP off
    "bframes=4:b-pyramid=1:ref=4:wpp=0",
    "bframes=4:b-pyramid=0:ref=1:wpp=1:no-tmvp=1",
    "bframes=4:b-pyramid=1:amp=1:rect=1:max-merge=5:ctu=32",
    "bframes=3:weightp=1:weightb=1:ref=3:ctu=16:max-merge=1",
    "bframes=4:b-pyramid=1:no-sao=1:ctu=64:keyint=6:min-keyint=6",
    "bframes=2:b-adapt=0:open-gop=1:keyint=5:min-keyint=5:ref=2",
    "bframes=4:b-pyramid=1:rect=1:amp=1:tu-inter-depth=2:tu-intra-depth=2:limit-tu=0",
    "slices=4:bframes=4:ref=4",
    "slices=3:bframes=0:ref=3:ctu=16",
    "slices=4:wpp=1:bframes=4:ctu=16:no-sao=1",
    "tskip=1:bframes=4",
    "no-signhide=1:bframes=0:wpp=0",
    "cu-lossless=1:bframes=3",
    "scaling-list=default:cbqpoffs=3:crqpoffs=-2",
]


@pytest.fixture(scope="module")
def boxing10(boxing_clip):
    return load_yuv(boxing_clip, 10)


def check_x265(frames, params, qp=30, crf=None):
    data = x265_stream(frames, params, qp=qp, crf=crf)
    s = mvclass.read_stream(data)
    assert s.frames == len(frames) and s.codec == "hevc"
    assert mvclass.crop(data, drop="") == data  # identity rewrite, byte-exact
    assert s.frame_bits["full"].sum() == pytest.approx(8 * len(data), abs=1e-6)
    cropped = s.cropped
    assert len(cropped) < len(data)
    full, dec = decode(data, "hevc"), decode(cropped, "hevc")  # strict: any syntax error raises
    assert len(full) == len(dec) == s.frames
    order = list(s.frame_bits["type"])
    for t, (a, b) in enumerate(zip(full, dec)):
        if order[t] == "I":
            assert all(np.array_equal(p, q) for p, q in zip(a, b)), f"I picture {t} differs"
    dec265_matches_ffmpeg(cropped, source=data)  # a second decoder, where libde265-examples is installed
    # the cropped stream carries the same motion; a merged 2Nx2N CU without residual is written
    # as skipped where the SPS allows no inter transform split (x265's default)
    c = mvclass.read_stream(cropped)
    for f in ("mv4", "ref4", "mvd4"):
        assert np.array_equal(getattr(c, f), getattr(s, f)), f
    changed = c.kind4 != s.kind4
    assert ((s.kind4[changed] == mvclass.grid.KIND_INTER) & (c.kind4[changed] == mvclass.grid.KIND_SKIP)).all()
    return s


@pytest.mark.parametrize("params", X265_P)
def test_x265_p_streams(boxing10, params):
    s = check_x265(boxing10, params)
    assert (s.kind4[1:] != mvclass.grid.KIND_INTRA).any()


@pytest.mark.parametrize("params", X265_B)
def test_x265_b_streams(boxing10, params):
    s = check_x265(boxing10, params)
    types = "".join(s.frame_bits["type"])
    if "bframes=0" not in params:
        assert "B" in types
        b = [t for t, c in enumerate(types) if c == "B"]
        assert (s.ref4_l1[b] >= 0).any()  # list-1 motion present
        assert ((s.ref4[b] >= 0) & (s.ref4_l1[b] >= 0)).any()  # bi-prediction present
    # display order: increasing POC within each segment
    assert (np.diff(s.poc) != 0).all()


def test_x265_corrupt_and_truncated(boxing10):
    """Mutated x265 streams (B pyramid, WPP, slices, AMP, AQ, transform skip, lossless CUs, Main 10):
    a result or a ValueError, never a crash or a hang."""
    rng = np.random.default_rng(265)
    small = [(y[:64, :128], u[:32, :64], v[:32, :64]) for y, u, v in boxing10[:6]]
    streams = [x265_stream(small, p, crf=c, pix_fmt=f) for p, c, f in (
        ("slices=2:amp=1:rect=1", None, "yuv420p"), ("aq-mode=2:tskip=1:cu-lossless=1:ctu=16", 24, "yuv420p"),
        ("bframes=0:wpp=0:max-merge=1", None, "yuv420p10le"))]
    ok = errors = 0
    for i in range(1200):
        data = bytearray(streams[i % len(streams)])
        kind = rng.integers(3)
        if kind == 0:
            for _ in range(int(rng.integers(1, 4))):
                data[int(rng.integers(len(data)))] ^= 1 << int(rng.integers(8))
        elif kind == 1:
            data = data[: int(rng.integers(1, len(data)))]
        else:
            p = int(rng.integers(len(data)))
            data[p:p + 8] = bytes(rng.integers(0, 256, 8, dtype=np.uint8))
        for strict in (True, False):
            try:
                _core.read_hevc(bytes(data), drop="PB" if strict else "", strict=strict)
                ok += 1
            except ValueError:
                errors += 1
    assert ok > 50 and errors > 100


@pytest.mark.parametrize("params", ["aq-mode=2", "aq-mode=1:qg-size=16:bframes=0", "aq-mode=3:qg-size=8:ctu=32:slices=2"])
def test_x265_crf_cu_qp_delta(boxing10, params):
    s = check_x265(boxing10, params, crf=26)
    assert s.frame_bits["full_cbp_qp"].sum() > 0


@pytest.mark.parametrize("params", ["", "bframes=0:wpp=0:ctu=16", "bframes=4:slices=2:amp=1:rect=1"])
def test_x265_main10(boxing10, params):
    data = x265_stream(boxing10, params, pix_fmt="yuv420p10le")
    s = mvclass.read_stream(data)
    assert s.options["profile_idc"] == 2  # Main 10
    assert s.frames == len(boxing10)
    assert mvclass.crop(data, drop="") == data
    cropped = s.cropped
    full, dec = decode(data, "hevc"), decode(cropped, "hevc")
    assert len(full) == len(dec) == s.frames
    dec265_matches_ffmpeg(cropped, source=data)
    for t, c in enumerate(s.frame_bits["type"]):
        if c == "I":
            assert all(np.array_equal(p, q) for p, q in zip(full[t], dec[t]))


@pytest.mark.parametrize("pix_fmt,feature", [("yuv422p", "chroma_format_idc 2"), ("yuv444p", "chroma_format_idc 3")])
def test_x265_range_extensions_named(boxing10, pix_fmt, feature):
    data = x265_stream(boxing10[:3], "bframes=0", pix_fmt=pix_fmt)
    with pytest.raises(ValueError, match=feature):
        mvclass.read_stream(data)


# ------------------------------------------------------------------ exact motion check (milestone 3)
def check_motion_exact(frames, params, weighted=False):
    """x265 without loop filters; in the cropped stream every inter block is residual-free, so its
    decoded samples equal the prediction from the decoded cropped references with the motion
    read_stream returns. Default weighting: uni-predicted blocks with mc.cpp's 8-bit interpolation
    (hevc_predict), bi-predicted blocks from the 14-bit intermediates (hevc_pred14) averaged as
    8.5.3.3.4.2 does; explicit weighting (weightp / weightb streams) as 8.5.3.3.4.3 does, with the
    weights the reader parsed. Returns (blocks checked, inter blocks, bi-predicted blocks)."""
    wopts = "weightp=1:weightb=1" if weighted else "weightp=0:weightb=0"
    data = x265_stream(frames, f"no-deblock=1:no-sao=1:{wopts}:" + params)
    s = mvclass.read_stream(data)
    d = _core.read_hevc(data, drop="PB")
    order = np.lexsort((d["decode_index"], d["poc"], d["segment"]))
    dec = decode(d["rewritten"], "hevc")
    assert len(dec) == s.frames
    segs = d["segment"][order]
    refp = [d["ref_pocs"][i] for i in order]
    wts = [d["weights"][i] for i in order]
    checked = total = nbi = nweighted = 0
    up = lambda m, k: np.repeat(np.repeat(m, k, 0), k, 1)  # noqa: E731
    for t in range(s.frames):
        if s.frame_bits["type"][t] == "I":
            continue
        inter = s.kind4[t] != mvclass.grid.KIND_INTRA
        total += int(inter.sum())
        bi = inter & (s.ref4[t] >= 0) & (s.ref4_l1[t] >= 0)
        wt = wts[t]
        # 14-bit intermediates, then weights per plane: w, o (8-bit: offsets unscaled)
        p14 = [[np.zeros(p.shape, np.int64) for p in dec[t]] for _ in range(2)]
        w = [[np.zeros(p.shape, np.int64) for p in dec[t]] for _ in range(2)]
        o = [[np.zeros(p.shape, np.int64) for p in dec[t]] for _ in range(2)]
        for X, (refs4, other, mvs) in enumerate(((s.ref4, s.ref4_l1, s.mv4), (s.ref4_l1, s.ref4, s.mv4_l1))):
            for r, poc in enumerate(refp[t][X]):
                j = [k for k in range(s.frames) if s.poc[k] == poc and segs[k] == segs[t]]
                assert len(j) == 1
                uni = inter & (refs4[t] == r) & (other[t] < 0)
                if uni.any() and wt is None:
                    pred = _core.hevc_predict(*dec[j[0]], mvs[t], uni)
                    for c, (a, b) in enumerate(zip(pred, dec[t])):
                        m = up(uni, 4 if c == 0 else 2)
                        assert np.array_equal(a[m], b[m]), f"picture {t} list {X} ref {r} plane {c}: uni-prediction differs"
                    checked += int(uni.sum())
                sel = (bi | uni) if wt is not None else bi
                both = sel & (refs4[t] == r)
                if both.any():
                    for c, a in enumerate(_core.hevc_pred14(*dec[j[0]], mvs[t], both)):
                        m = up(both, 4 if c == 0 else 2)
                        p14[X][c][m] = a[m]
                        if wt is not None:
                            row = wt[2 + X][r]
                            w[X][c][m], o[X][c][m] = row[2 * c], row[2 * c + 1]
        if wt is not None:  # 8.5.3.3.4.3, 8-bit: shift1 = 6
            nweighted += 1
            for X, other in ((0, s.ref4_l1[t]), (1, s.ref4[t])):
                uni = inter & ((s.ref4[t] if X == 0 else s.ref4_l1[t]) >= 0) & (other < 0)
                for c in range(3):
                    m = up(uni, 4 if c == 0 else 2)
                    lwd = wt[0 if c == 0 else 1] + 6
                    pred = np.clip(((p14[X][c] * w[X][c] + (1 << (lwd - 1))) >> lwd) + o[X][c], 0, 255)
                    assert np.array_equal(pred[m], dec[t][c][m]), f"picture {t} plane {c}: weighted uni-prediction differs"
                checked += int(uni.sum())
        if bi.any():
            for c in range(3):
                m = up(bi, 4 if c == 0 else 2)
                if wt is None:
                    pred = np.clip((p14[0][c] + p14[1][c] + 64) >> 7, 0, 255)
                else:
                    lwd = wt[0 if c == 0 else 1] + 6
                    pred = np.clip((p14[0][c] * w[0][c] + p14[1][c] * w[1][c] + ((o[0][c] + o[1][c] + 1) << lwd))
                                   >> (lwd + 1), 0, 255)
                assert np.array_equal(pred[m], dec[t][c][m]), f"picture {t} plane {c}: bi-prediction differs"
            checked += int(bi.sum())
            nbi += int(bi.sum())
    if weighted:
        assert nweighted > 0
    return checked, total, nbi


@pytest.mark.parametrize("params", ["bframes=0:ref=1", "bframes=0:ref=4:wpp=0:amp=1:rect=1",
                                    "bframes=4:b-pyramid=1:ref=3", "bframes=3:slices=2:max-merge=2:ctu=16"])
def test_x265_motion_exact(boxing12, params):
    frames = list(zip(*boxing12))
    checked, total, nbi = check_motion_exact(frames, params)
    assert checked == total > 1000  # every inter block of every P and B picture
    assert (nbi > 100) == ("bframes=0" not in params)


@pytest.mark.parametrize("params", ["bframes=0:ref=2", "bframes=4:ref=3"])
def test_x265_motion_exact_weighted(boxing_clip, params):
    """A fade, so that x265 sends weights: explicit weighted prediction with the parsed tables."""
    frames = [(np.clip(y.astype(int) * (1.0 - 0.07 * i), 0, 255).astype(np.uint8), u, v)
              for i, (y, u, v) in enumerate(load_yuv(boxing_clip, 10))]
    checked, total, _ = check_motion_exact(frames, params, weighted=True)
    assert checked == total > 1000


def test_x265_containers(boxing10, tmp_path):
    """HEVC in mp4 / mkv: demuxed (hvcC -> Annex B) and read as the raw stream is."""
    raw = x265_stream(boxing10, "bframes=2")
    a = mvclass.read_stream(raw)
    for fmt in ("mp4", "matroska"):
        data = x265_stream(boxing10, "bframes=2", fmt=fmt)
        path = tmp_path / ("v.mp4" if fmt == "mp4" else "v.mkv")
        path.write_bytes(data)
        b = mvclass.read_stream(path)
        assert b.codec == "hevc" and b.frames == a.frames
        for f in FIELDS + ("mv4_l1", "ref4_l1"):
            assert np.array_equal(getattr(a, f), getattr(b, f)), (fmt, f)
        assert len(mvclass.crop(path)) < len(data)


from _util import DEC265  # noqa: E402


@pytest.mark.skipif(DEC265 is None, reason="libde265's dec265 not installed (apt-get install libde265-examples)")
@pytest.mark.parametrize("source", ["own", "x265-B", "x265-wpp-slices"])
def test_libde265_decodes_cropped_streams_like_ffmpeg(boxing10, source):
    """A second decoder: cropped streams (ours and of x265 streams) decode in libde265 to the
    same pictures as in FFmpeg; our own stream's full decode equals our encoder's reconstruction."""
    if source == "own":
        r = mvclass.encode_cropped(boxing10, codec="hevc", qp=30)
        full, cropped = r.bitstream, r.cropped
    else:
        full = x265_stream(boxing10, "bframes=3:b-pyramid=1:ref=3" if source == "x265-B" else
                           "bframes=0:wpp=1:slices=3:amp=1:no-sao=1")  # libde265 and FFmpeg differ on SAO at x265 slice edges
        cropped = mvclass.crop(full)
    for data in (full, cropped):
        assert len(decode(data, "hevc")) == len(boxing10)
        assert dec265_matches_ffmpeg(data)
