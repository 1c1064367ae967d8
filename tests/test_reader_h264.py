"""read_stream / crop on H.264: our own streams (exact fields), libx264 streams over a matrix of
tools (vectors against FFmpeg's export_mvs, byte-exact identity rewrite, cropped streams that
FFmpeg decodes strictly), containers, and bad input."""
from __future__ import annotations

import numpy as np
import pytest

import mvclass
from mvclass.decode import decode
from _util import ffmpeg_motion_blocks, load_yuv, x264_stream

FIELDS = ("mv4", "ref4", "kind4", "mvd4")


def planes(frames):
    """A list of (Y, U, V) frames as encode_cropped's (Y, U, V) tuple of stacks."""
    return tuple(np.stack(p) for p in zip(*frames))


@pytest.fixture(scope="module")
def boxing30(boxing_clip):
    return load_yuv(boxing_clip, 30)


@pytest.mark.parametrize("opts", [dict(qp=30), dict(qp=0), dict(qp=51), dict(qp=30, partitions="16x16"),
                                  dict(qp=40, ref_frames=1, intra_period=10)])
def test_own_streams_read_back_exactly(boxing30, opts):
    r = mvclass.encode_cropped(planes(boxing30), **opts)
    s = mvclass.read_stream(r.bitstream)
    assert (s.frames, s.width, s.height, s.codec) == (r.frames, r.width, r.height, "h264")
    for f in FIELDS:
        assert np.array_equal(getattr(s, f), getattr(r, f)), f
    for k in r.frame_bits.dtype.names:
        assert np.array_equal(s.frame_bits[k], r.frame_bits[k]), k
    assert s.cropped == r.cropped
    assert mvclass.crop(r.bitstream) == r.cropped
    assert mvclass.crop(r.bitstream, drop="") == r.bitstream
    assert s.rates == r.rates
    assert np.array_equal(s.poc, r.poc)
    assert (s.ref4_l1 == -1).all()
    for a, b in ((s.mv, r.mv), (s.mv_mask, r.mv_mask), (s.ref, r.ref), (s.mvd, r.mvd)):
        assert np.array_equal(a, b)


def check_against_ffmpeg(data: bytes, r) -> int:
    """Every vector FFmpeg exports equals ours at the block's top-left 4x4; returns blocks compared."""
    exported = ffmpeg_motion_blocks(data)
    assert len(exported) == r.frames
    n = 0
    for t, blocks in enumerate(exported):
        for lst, x, y, w, h, mx, my in blocks:
            mv = (r.mv4 if lst == 0 else r.mv4_l1)[t, y, x]
            ref = (r.ref4 if lst == 0 else r.ref4_l1)[t, y, x]
            if ref < 0 and (mx, my) == (0, 0):
                continue  # a partition that does not use this list, reported by FFmpeg as (0, 0)
            assert ref >= 0 and (int(mv[0]), int(mv[1])) == (mx, my), \
                f"frame {t} ({r.frame_bits['type'][t]}) list {lst} block ({x},{y}) {w}x{h}: FFmpeg {(mx, my)}, ours {tuple(mv)} ref {ref}"
            n += 1
    return n


X264_MATRIX = [
    "cabac=0:bframes=0:ref=1",
    "cabac=0:bframes=0:ref=4:partitions=all",
    "cabac=0:bframes=3:b-pyramid=normal:ref=3:direct=spatial",
    "cabac=0:bframes=3:b-pyramid=strict:direct=temporal:8x8dct=1",
    "cabac=0:bframes=3:weightp=2:8x8dct=1:partitions=all",
    "cabac=0:slices=4:bframes=2",
    "cabac=0:ref=16:bframes=3:b-pyramid=normal",
    "cabac=0:keyint=8:min-keyint=8:bframes=2",
    "cabac=1:bframes=0:ref=4",
    "cabac=1:bframes=3:b-pyramid=normal:8x8dct=1:weightp=2:direct=spatial",
    "cabac=1:bframes=3:b-pyramid=strict:direct=temporal:ref=16",
    "cabac=1:slices=4:bframes=2:partitions=all",
]


@pytest.mark.parametrize("params", X264_MATRIX)
def test_x264_streams(boxing30, params):
    data = x264_stream(boxing30, params)
    r = mvclass.read_stream(data)
    assert r.frames == 30
    assert check_against_ffmpeg(data, r) > 1000
    if "bframes=0" not in params:
        assert "B" in "".join(r.frame_bits["type"])
        assert (r.ref4_l1 >= 0).any()
    # the identity rewrite is byte-exact, the cropped stream decodes strictly to as many frames
    assert mvclass.crop(data, drop="") == data
    full, cropped = decode(data), decode(r.cropped)
    assert len(cropped) == len(full) == 30
    for t, a, b in zip(r.frame_bits["type"], full, cropped):
        if t == "I":
            assert all(np.array_equal(p, q) for p, q in zip(a, b))
    inter = r.frame_bits["type"] != "I"
    assert r.frame_bits["cropped"][inter].sum() < 0.6 * r.frame_bits["full"][inter].sum()
    assert np.array_equal(r.frame_bits["cropped"][~inter], r.frame_bits["full"][~inter])
    # bits: every byte charged once, per picture
    assert sum(r.frame_bits["full"]) == pytest.approx(8 * len(data), abs=1e-6)
    assert sum(r.frame_bits["cropped"]) == pytest.approx(8 * len(r.cropped), abs=1e-6)
    # the cropped stream carries the same motion
    rc = mvclass.read_stream(r.cropped)
    for f in FIELDS + ("mv4_l1", "ref4_l1"):
        assert np.array_equal(getattr(rc, f), getattr(r, f)), f


def test_carphone_mp4(shared_data):
    """A real third-party file: x264 High profile, CABAC, B-frames, 8x8 transform, in mp4."""
    path = shared_data / "clips" / "carphone_pristine.mp4"
    r = mvclass.read_stream(path)
    assert (r.frames, r.width, r.height, r.options["entropy"]) == (120, 176, 144, "cabac")
    assert set(r.frame_bits["type"]) == {"I", "P", "B"}
    assert check_against_ffmpeg(r.bitstream, r) > 30000
    assert mvclass.crop(path, drop="") == r.bitstream
    full, cropped = decode(r.bitstream), decode(r.cropped)
    assert len(cropped) == len(full) == 120
    assert np.array_equal(full[0][0], cropped[0][0])
    # reading the cropped stream gives its writer's per-category bits and the same motion
    rc = mvclass.read_stream(r.cropped)
    for c in mvclass.api.CATEGORIES:
        assert np.allclose(rc.frame_bits[f"full_{c}"], r.frame_bits[f"cropped_{c}"], atol=1e-6), c
    for f in FIELDS + ("mv4_l1", "ref4_l1"):
        assert np.array_equal(getattr(rc, f), getattr(r, f)), f
    assert r.rates.cropped < 0.1 * r.rates.orig  # QP 10: almost all of the stream is residual


def test_containers_and_sniffing(boxing30, tmp_path):
    annexb = x264_stream(boxing30[:12], "cabac=0:bframes=2")
    mp4 = x264_stream(boxing30[:12], "cabac=0:bframes=2", fmt="mp4")
    a = mvclass.read_stream(annexb)
    (tmp_path / "v.mp4").write_bytes(mp4)
    (tmp_path / "v.264").write_bytes(annexb)
    for src in (tmp_path / "v.mp4", str(tmp_path / "v.264"), mp4):
        b = mvclass.read_stream(src)
        for f in FIELDS + ("mv4_l1", "ref4_l1"):
            assert np.array_equal(getattr(a, f), getattr(b, f)), (src, f)
    assert mvclass.read_stream(tmp_path / "v.mp4").name == "v"


def test_errors_name_the_problem(boxing30, tmp_path):
    data = x264_stream(boxing30[:10], "cabac=0:bframes=0")
    with pytest.raises(mvclass.StreamError, match=r"picture \d+.*macroblock \d+"):
        mvclass.read_stream(data[: len(data) * 2 // 3])
    with pytest.warns(RuntimeWarning, match="read only up to picture"):
        part = mvclass.read_stream(data[: len(data) * 2 // 3], strict=False)
    assert 0 < part.frames < 10
    full = mvclass.read_stream(data)
    assert np.array_equal(part.mv4, full.mv4[: part.frames])
    with pytest.raises(ValueError):
        mvclass.read_stream(b"\x00\x00\x01" + bytes(range(256)) * 4)
    with pytest.raises(ValueError, match="drop"):
        mvclass.crop(data, drop="X")
    with pytest.raises(FileNotFoundError):
        mvclass.read_stream(tmp_path / "missing.264")
    (tmp_path / "t.txt").write_text("hello")
    with pytest.raises(ValueError):
        mvclass.read_stream(tmp_path / "t.txt")


def test_unsupported_features_raise_value_error(boxing30):
    data = x264_stream(boxing30[:3], "cabac=0", pix_fmt="yuv444p")
    with pytest.raises(ValueError, match="4:4:4|chroma"):
        mvclass.read_stream(data)
    data = x264_stream(boxing30[:3], "cabac=0:interlaced=1")
    with pytest.raises(ValueError, match="field|interlace|MBAFF|frame_mbs_only"):
        mvclass.read_stream(data)


@pytest.mark.filterwarnings("ignore:.*read only up to picture:RuntimeWarning")
def test_fuzz_mutated_and_truncated_streams(boxing30):
    """Random byte flips, insertions and cuts of real streams: a result or an exception, never a crash."""
    rng = np.random.default_rng(1)
    small = [(f[0][:64, :96], f[1][:32, :48], f[2][:32, :48]) for f in boxing30[:6]]
    seeds = [x264_stream(small, "cabac=0:bframes=2:8x8dct=1"), x264_stream(small, "cabac=0:slices=2:ref=3"),
             mvclass.encode_cropped(planes(small), qp=30).bitstream]
    outcomes = {"ok": 0, "error": 0}
    for i in range(3000):
        d = bytearray(seeds[i % len(seeds)])
        for _ in range(int(rng.integers(1, 6))):
            if len(d) < 8:
                break
            op = rng.integers(0, 3)
            pos = int(rng.integers(0, len(d)))
            if op == 0:
                d[pos] = int(rng.integers(0, 256))
            elif op == 1:
                d[pos:pos] = bytes(rng.integers(0, 256, int(rng.integers(1, 8)), dtype=np.uint8))
            else:
                d = d[:pos]
        try:
            mvclass.read_stream(bytes(d), strict=bool(i % 2))
            outcomes["ok"] += 1
        except (ValueError, FileNotFoundError):
            outcomes["error"] += 1
    assert outcomes["ok"] > 0 and outcomes["error"] > 0


def test_cli_read_and_crop(boxing30, tmp_path, capsys):
    from mvclass.cli import main

    src = tmp_path / "clip.mp4"
    src.write_bytes(x264_stream(boxing30[:10], "cabac=0:bframes=2", fmt="mp4"))
    assert main(["read", str(src), "--breakdown", "-o", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "Rorig" in out and "Rmotion" in out and "mvd" in out and "10 pictures" in out
    assert (tmp_path / "out" / "clip.cropped.264").stat().st_size > 0
    assert main(["crop", str(src), str(tmp_path / "c.264")]) == 0
    assert (tmp_path / "c.264").read_bytes() == (tmp_path / "out" / "clip.cropped.264").read_bytes()
    assert len(decode(tmp_path / "c.264")) == 10
    assert main(["crop", str(tmp_path / "missing.mp4"), str(tmp_path / "x.264")]) == 2
    assert "not found" in capsys.readouterr().err


def test_build_dataset_from_streams(boxing30, tmp_path):
    """build_mv_dataset(source="stream") reads each video's own stream: the same motion as read_stream."""
    from mvclass.datasets import Video, build_mv_dataset, load_mv_file

    videos = []
    for i, params in enumerate(["cabac=0:bframes=0", "cabac=0:bframes=2"]):
        p = tmp_path / f"v{i}.mp4"
        p.write_bytes(x264_stream(boxing30[:8], params, fmt="mp4"))
        videos.append(Video(f"v{i}", i, f"class{i}", "train", path=p))
    videos.append(Video("bad", 0, "class0", "test", path=tmp_path / "v0.mp4.missing"))
    with pytest.warns(RuntimeWarning, match="1 of 3 videos failed to read"):
        rep = build_mv_dataset(videos, tmp_path / "out", codec="h264", source="stream", workers=0, progress=False)
    assert rep.encoded == 2 and [n for n, _ in rep.failed] == ["bad"]
    for i, v in enumerate(videos[:2]):
        d = load_mv_file(tmp_path / "out" / "videos" / f"v{i}.npz")
        r = mvclass.read_stream(v.path)
        assert np.array_equal(d["mv"], r.mv) and d["qp"] == r.qp
    with pytest.raises(ValueError, match="do not apply"):
        build_mv_dataset(videos, tmp_path / "out2", source="stream", search_range=8, progress=False)
    with pytest.warns(RuntimeWarning, match="failed to read"):
        rep2 = build_mv_dataset(videos, tmp_path / "out", codec="h264", source="stream", workers=0, progress=False)
    assert rep2.reused == 2


def test_jm_reference_stream(shared_data):
    """The paper's own JM 19.0 stream (High profile, CAVLC, 8x8 transform, 3 references): the rates
    read from it are JM's own statistics (shared/data/README.md: Rorig 375.5, Rmotion 71.1 kbit/s),
    the identity rewrite is exact, and the paper's non-conforming 'cropped' stream is refused."""
    path = shared_data / "reference" / "jm_qp30.264"
    r = mvclass.read_stream(path)
    assert r.frames == 296 and r.options["entropy"] == "cavlc"
    assert r.rates.orig == pytest.approx(375.5, abs=0.05)
    assert r.rates.motion == pytest.approx(71.1, abs=0.05)
    assert mvclass.crop(path, drop="") == path.read_bytes()
    assert len(decode(r.cropped, strict=False)) == 296
    with pytest.raises(mvclass.StreamError, match="picture 0"):
        mvclass.read_stream(shared_data / "reference" / "jm_qp30_paper_cropped.264")


def test_max_blocks_bounds_the_arrays(boxing30):
    """A stream whose pictures would exceed max_blocks is refused before its arrays are made."""
    data = x264_stream(boxing30[:10], "cabac=1:bframes=0")
    per_picture = (240 // 4) * (320 // 4)
    assert mvclass.read_stream(data, max_blocks=10 * per_picture).frames == 10
    with pytest.raises(ValueError, match="max_blocks"):
        mvclass.read_stream(data, max_blocks=10 * per_picture - 1)
    hevc = mvclass.encode_cropped(planes(boxing30[:3]), codec="hevc").bitstream
    with pytest.raises(ValueError, match="max_blocks"):
        mvclass.read_stream(hevc, max_blocks=2 * per_picture)
    with pytest.raises(ValueError, match="max_blocks must be"):
        mvclass.read_stream(data, max_blocks=0)
