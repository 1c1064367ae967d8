"""Behaviour both encoders must share, on the real Boxing clip."""
import numpy as np
import pytest

from mvclass import _core
from _util import decode, encode, load_yuv


@pytest.fixture(scope="module")
def boxing8(boxing_clip):
    return load_yuv(boxing_clip, 8)


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_qp_controls_motion_field_sparsity(boxing8, codec):
    # Lagrangian decisions: at QP 51 MVs cost more than residual saves, so the field goes skip.
    stats = {}
    for qp in (0, 51):
        res = encode(boxing8, codec, qp=qp, ref_frames=1)
        kind = np.stack([r["kind"] for r in res[1:]])
        mvd = np.stack([r["mvd"] for r in res[1:]])
        stats[qp] = ((kind == _core.KIND_SKIP).mean(), np.mean(np.any(mvd != 0, axis=-1)))
    assert stats[51][0] > 0.8 and stats[51][0] > stats[0][0] + 0.3
    assert stats[0][1] > 3 * stats[51][1]


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_intra_period_and_determinism(boxing8, codec):
    a = encode(boxing8[:7], codec, qp=30, intra_period=3)
    b = encode(boxing8[:7], codec, qp=30, intra_period=3)
    assert [r["type"] for r in a] == list("IPPIPPI")
    assert all(x["nal_full"] == y["nal_full"] and x["nal_cropped"] == y["nal_cropped"] for x, y in zip(a, b))
    assert all(np.array_equal(x["mv"], y["mv"]) for x, y in zip(a, b))
    assert len(decode(b"".join(r["nal_full"] for r in a), codec)) == 7
    assert len(decode(b"".join(r["nal_cropped"] for r in a), codec)) == 7


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_reported_sse_matches_the_reconstruction(boxing8, codec):
    # per-plane SSE against the source, as the PSNR in results is computed from it; a width that
    # is no multiple of 16 exercises the vector rows and the tail
    frames = [tuple(np.ascontiguousarray(p[: p.shape[0] * 7 // 8, : p.shape[1] * 23 // 40]) for p in f) for f in boxing8[:3]]
    for f, r in zip(frames, encode(frames, codec, qp=30, keep_recon=True)):
        for k in range(3):
            want = int(((r["recon"][k].astype(np.int64) - f[k].astype(np.int64)) ** 2).sum())
            assert r["sse"][k] == want
