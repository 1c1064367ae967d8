"""Motion vectors: FFmpeg's exported MVs (flags2=+export_mvs) equal our 4x4 motion field on
every inter block, in the full and in the cropped stream."""
import numpy as np
import pytest

from mvclass import _core
from _util import decode, encode, load_yuv, translating_clip


def check_exported_mvs(res, dec):
    checked = 0
    for r, d in zip(res, dec):
        kind, mv = r["kind"], r["mv"]
        inter = kind != _core.KIND_INTRA
        sd = d.side_data.get("MOTION_VECTORS")
        if r["type"] == "I":
            assert sd is None or len(sd.to_ndarray()) == 0
            continue
        a = sd.to_ndarray() if sd is not None else np.zeros(0)
        covered = np.zeros_like(inter)
        for e in a:
            assert e["source"] == -1 and e["motion_scale"] == 4
            x0, y0 = (e["dst_x"] - e["w"] // 2) // 4, (e["dst_y"] - e["h"] // 2) // 4
            bw, bh = e["w"] // 4, e["h"] // 4
            blk = (slice(y0, y0 + bh), slice(x0, x0 + bw))
            assert inter[blk].all(), "FFmpeg reports motion for a block we coded intra"
            covered[blk] = True
            # FFmpeg exports one vector per 8x8 of a P_8x8 macroblock: the top-left 4x4's
            ours = mv[y0, x0] if (bw, bh) == (2, 2) else mv[blk].reshape(-1, 2)
            assert np.all(ours == (e["motion_x"], e["motion_y"])), (r["poc"], e)
            checked += 1
        assert np.array_equal(covered, inter), "inter blocks without an exported vector"
    return checked


@pytest.mark.parametrize("parts,refs,qp", [(True, 3, 30), (False, 1, 30), (True, 2, 8)])
def test_exported_mvs_match_boxing(boxing_clip, parts, refs, qp):
    frames = load_yuv(boxing_clip, 16)
    res = encode(frames, qp=qp, partitions_all=parts, ref_frames=refs)
    for key in ("nal_full", "nal_cropped"):
        dec = decode(b"".join(r[key] for r in res), export_mvs=True)
        assert len(dec) == len(frames)
        assert check_exported_mvs(res, dec) > 100


def test_exported_mvs_match_translation():
    frames = translating_clip(5, 64, 96, -7, 5, seed=1)
    res = encode(frames, qp=26, ref_frames=3)
    for key in ("nal_full", "nal_cropped"):
        dec = decode(b"".join(r[key] for r in res), export_mvs=True)
        check_exported_mvs(res, dec)
