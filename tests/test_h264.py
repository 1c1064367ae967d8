"""H.264 encoder (cpp/jm) conformance: FFmpeg decodes our full stream to exactly our
reconstruction, reads the cropped stream without error, and the bit accounting is exact."""
import numpy as np
import pytest

from mvclass import _core
from _util import check_bit_exact, check_cropped, check_rate_order, encode, load_yuv, translating_clip

CASES = [  # (qp, partitions_all, ref_frames, frames)
    (30, True, 3, 40),
    (0, True, 3, 8),
    (51, True, 3, 20),
    (30, False, 1, 20),
    (30, True, 1, 12),
    (40, False, 3, 12),
]


@pytest.fixture(scope="module")
def boxing(boxing_clip):
    return load_yuv(boxing_clip, 40)


def check_bits(res):
    for r in res:
        assert sum(r["bits_full"].values()) == 8 * len(r["nal_full"])
        assert sum(r["bits_cropped"].values()) == 8 * len(r["nal_cropped"])
        # decisions identical in both streams (mb_type differs: Intra16x16 types carry the cbp)
        for cat in ("intra_mode", "ref_idx", "mvd", "skip"):
            assert r["bits_full"][cat] == r["bits_cropped"][cat]
        if r["type"] == "P":
            # only the empty Intra16x16 DC block remains: one 1-bit coeff_token per intra macroblock
            intra_mbs = np.count_nonzero(r["kind"] == _core.KIND_INTRA) // 16
            assert r["bits_cropped"]["residual_chroma"] == 0
            assert r["bits_cropped"]["residual_luma"] <= intra_mbs


@pytest.mark.parametrize("qp,parts,refs,n", CASES)
def test_boxing_bit_exact_and_cropped_decodes(boxing, qp, parts, refs, n):
    frames = boxing[:n]
    res = encode(frames, qp=qp, partitions_all=parts, ref_frames=refs, keep_recon=True)
    assert [r["type"] for r in res] == ["I"] + ["P"] * (n - 1)
    check_bit_exact(frames, res)
    check_cropped(frames, res)
    check_bits(res)
    check_rate_order(res, ("mvd", "ref_idx"))
    sse = sum(r["sse"][0] for r in res)
    psnr = 10 * np.log10(255 ** 2 * n * frames[0][0].size / max(sse, 1))
    assert psnr > {0: 50, 30: 33, 40: 28, 51: 20}[qp]


def test_cropped_p_pictures_carry_no_residual(boxing):
    res = encode(boxing[:6], qp=20, keep_recon=True)
    for r in res[1:]:
        b = r["bits_cropped"]
        assert b["residual_chroma"] == 0 and b["residual_luma"] <= 300  # only empty Intra16x16 DC tokens
        assert r["bits_full"]["residual_luma"] > 0


@pytest.mark.parametrize("h,w", [(60, 100), (48, 64)])
def test_non_multiple_of_16_is_cropped(h, w):
    frames = translating_clip(6, h, w, 5, -3)
    res = encode(frames, qp=28, ref_frames=2, keep_recon=True)
    dec = check_bit_exact(frames, res)
    assert (dec[0].height, dec[0].width) == (h, w)
    check_cropped(frames, res)
    check_bits(res)


def test_known_translation_recovered():
    dx4, dy4 = 6, -3  # 1.5 px right, 0.75 px up per frame
    frames = translating_clip(6, 96, 128, dx4, dy4, seed=3)
    res = encode(frames, qp=22, ref_frames=1, keep_recon=True)
    check_bit_exact(frames, res)
    for r in res[1:]:
        inner = (slice(4, -4), slice(4, -4))
        mv = r["mv"][inner]
        kind = r["kind"][inner]
        sel = kind != _core.KIND_INTRA
        assert sel.mean() > 0.9
        # content moved by +d, so the block came from -d in the previous picture
        frac = np.mean((mv[sel][:, 0] == -dx4) & (mv[sel][:, 1] == -dy4))
        assert frac > 0.9, frac


@pytest.mark.parametrize("w,h,opts,msg", [
    (101, 60, {}, "even"),
    (100, 61, {}, "even"),
    (64, 64, {"qp": 52}, "qp"),
    (64, 64, {"ref_frames": 5}, "ref_frames"),
    (64, 64, {"search_range": 0}, "search_range"),
    (0, 64, {}, "size"),
])
def test_bad_config_raises_value_error(w, h, opts, msg):
    with pytest.raises(ValueError, match=msg):
        _core.Encoder("h264", w, h, opts)


@pytest.mark.parametrize("h,w,opts", [
    (2, 2, {}),
    (16, 16, {"ref_frames": 4}),
    (18, 34, {"search_range": 64}),
    (64, 64, {"intra_period": 1}),
    (32, 48, {"search_range": 1, "qp": 0}),
])
def test_edge_configurations_decode_exactly(h, w, opts):
    frames = translating_clip(5, h, w, 9, -7, seed=2)
    res = encode(frames, keep_recon=True, **opts)
    check_bit_exact(frames, res)
    check_cropped(frames, res)
    check_bits(res)


def _jm_motion_ratio_qp0_qp30(paper_dir):
    """JM's R_motion at QP 0 over QP 30 on the Boxing clip's sibling videos (g05_c02..c07: same
    actor and scene; the paper's files lack g05_c01 itself), from the paper's per-video stats."""
    def motion(qp):
        rows = {}
        with open(paper_dir / f"Stats_Orig_NOTexture_Test01_QP{qp}_MVSR16_MVRes8_A.dat") as f:
            next(f)
            for line in f:
                p = line.split()
                if "v_BoxingPunchingBag_g05_" in p[-1]:
                    rows[p[-1]] = int(p[3])  # Size_Motion_Orig
        return rows
    m0, m30 = motion(0), motion(30)
    assert len(m0) >= 5 and m0.keys() == m30.keys()
    return float(np.mean([m0[k] / m30[k] for k in m0]))


def test_motion_rate_at_qp0_follows_jm(boxing, shared_data):
    # JM with RDO off uses one lambda, 2^((QP-12)/6) rounded and never below 1; with
    # sqrt(0.85 * 2^((QP-12)/3)) (0.23 at QP 0) our motion bits grew 3.8x from QP 30 to QP 0 on
    # these frames (JM: about 2.6x), mostly 4x4 sub-partitions; with JM's rule 2.7x.
    jm = _jm_motion_ratio_qp0_qp30(shared_data / "paper_results")
    frames = boxing[:20]

    def motion_bits(qp):
        res = encode(frames, qp=qp, ref_frames=3)
        return sum(r["bits_full"]["mvd"] + r["bits_full"]["ref_idx"] for r in res if r["type"] == "P")
    ratio = motion_bits(0) / motion_bits(30)
    assert 2.0 < jm < 3.5
    assert ratio < 1.2 * jm, (ratio, jm)
