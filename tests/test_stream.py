"""The streaming forms (mvclass.stream): encode_iter / read_iter frame by frame equal the
whole-result encode_cropped / read_stream field by field; the directory layout (out=) round-trips;
display order through the reorder window; errors mid-stream; closing early."""
from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

import mvclass
from mvclass.decode import decode
from mvclass.stream import Frame, encode_iter, join_frames, load_result, read_iter, write_frames
from _util import load_yuv, x264_stream, x265_stream

ARRAYS = ("mv", "mv_mask", "ref", "mvd", "mv4", "mvd4", "ref4", "kind4", "poc", "mv4_l1", "ref4_l1", "mvd4_l1")
META = ("codec", "qp", "width", "height", "fps", "frames", "name", "options", "frames_declared", "decode_errors")


def assert_same(a, b):
    """Two EncodeResults equal field by field: metadata, arrays (dtype too), stream bytes, rates."""
    for k in META:
        assert getattr(a, k) == getattr(b, k), k
    for k in ARRAYS:
        x, y = getattr(a, k), getattr(b, k)
        if x is None:
            assert y is None, k
            continue
        assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y), k
    assert np.array_equal(a.frame_bits, b.frame_bits)
    assert bytes(a.bitstream) == bytes(b.bitstream)
    assert bytes(a.cropped) == bytes(b.cropped)
    assert a.rates == b.rates and a.bits == b.bits
    assert (math.isnan(a.psnr_y) and math.isnan(b.psnr_y)) or a.psnr_y == b.psnr_y
    if a.recon is not None:
        assert len(a.recon) == len(b.recon)
        for p, q in zip(a.recon, b.recon):
            assert all(np.array_equal(x, y) for x, y in zip(p, q))


def planes(frames):
    return tuple(np.stack(p) for p in zip(*frames))


@pytest.fixture(scope="module")
def clip(boxing_clip):
    """8 frames of the Boxing clip, cropped to 96x64 (odd macroblock columns: 6 x 4)."""
    return planes([(y[40:104, 100:196], u[20:52, 50:98], v[20:52, 50:98]) for y, u, v in load_yuv(boxing_clip, 8)])


@pytest.mark.parametrize("codec", ["h264", "hevc", "h264-cabac"])
def test_encode_iter_equals_encode_cropped(clip, codec):
    opts = dict(qp=30, codec=codec, intra_period=5, keep_recon=True)
    if codec == "h264-cabac":
        codec = opts["codec"] = "h264"
        opts["entropy"] = "cabac"
    whole = mvclass.encode_cropped(clip, **opts)
    it = encode_iter(clip, **opts)
    assert (it.codec, it.width, it.height, it.fps, it.frames) == (codec, 96, 64, 25.0, 0)
    frames = list(it)
    assert [f.index for f in frames] == list(range(8)) and all(isinstance(f, Frame) for f in frames)
    assert "".join(f.type for f in frames) == "IPPPPIPP"
    f = frames[1]
    assert f.mv.shape == (8, 12, 2) and f.mv_mask.shape == (8, 12) and f.mv4.shape == (16, 24, 2)
    # the per-frame slices of the whole result, and their concatenation
    for t, f in enumerate(frames):
        for k in ("mv", "mv_mask", "ref", "mvd", "mv4", "mvd4", "ref4", "kind4"):
            assert np.array_equal(getattr(f, k), getattr(whole, k)[t]), (t, k)
        assert f.frame_bits == whole.frame_bits[t] and f.poc == whole.poc[t]
        assert f.bits["full"]["mvd"] == whole.frame_bits["full_mvd"][t]
    assert b"".join(f.nal_full for f in frames) == whole.bitstream
    assert b"".join(f.nal_cropped for f in frames) == whole.cropped
    assert np.array_equal(np.stack([f.mv for f in frames]), whole.mv)
    assert_same(join_frames(frames, **it._meta(), **it._extra()), whole)
    # running totals, and collect() on a fresh run
    assert it.frames == 8 and it.rates == pytest.approx(whole.rates, rel=1e-12)
    assert it.psnr_y == pytest.approx(whole.psnr_y, rel=1e-12)
    assert it.bits["cropped"] == pytest.approx(whole.bits["cropped"])
    assert_same(encode_iter(clip, **opts).collect(), whole)
    assert whole.options.get("entropy") == opts.get("entropy", "cavlc" if codec == "h264" else None)


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_out_directory_round_trip(clip, codec, tmp_path):
    whole = mvclass.encode_cropped(clip, qp=30, codec=codec, intra_period=5)
    r = mvclass.encode_cropped(clip, qp=30, codec=codec, intra_period=5, out=tmp_path / "run", flush_every=3)
    assert_same(r, whole)
    assert isinstance(r.mv, np.memmap)
    ext = ".264" if codec == "h264" else ".265"
    assert (tmp_path / "run" / f"full{ext}").read_bytes() == whole.bitstream
    assert (tmp_path / "run" / f"cropped{ext}").read_bytes() == whole.cropped
    assert np.array_equal(np.load(tmp_path / "run" / "mvd.npy"), whole.mvd)  # plain .npy files
    # the mapped streams (memoryviews) go where bytes go: FFmpeg decodes both, strictly
    assert len(decode(r.bitstream, codec)) == len(decode(r.cropped, codec)) == 8
    meta = json.loads((tmp_path / "run" / "meta.json").read_text())
    assert meta["complete"] and meta["frames"] == 8 and meta["rates"]["orig"] == pytest.approx(whole.rates.orig)
    assert_same(load_result(tmp_path / "run", mmap_mode=None), whole)


def test_out_directory_interrupted(clip, tmp_path):
    """A run stopped mid-way leaves a directory marked incomplete whose .npy files map the frames
    written (a killed process: those of the last flush); load_result refuses it."""
    whole = mvclass.encode_cropped(clip, qp=30)
    it = encode_iter(clip, qp=30)
    with pytest.raises(KeyboardInterrupt):
        write_frames(_Stopping(it, 5), tmp_path / "run", flush_every=2)
    assert it.closed
    meta = json.loads((tmp_path / "run" / "meta.json").read_text())
    assert not meta["complete"] and meta["frames"] == 5
    mv = np.load(tmp_path / "run" / "mv.npy", mmap_mode="r")
    assert len(mv) == 5 and np.array_equal(mv, whole.mv[:5])  # the frames written, closed on the error
    with pytest.raises(ValueError, match="incomplete"):
        load_result(tmp_path / "run")
    with pytest.raises(FileNotFoundError):
        load_result(tmp_path / "nothing")
    with pytest.raises(ValueError, match="encode_iter or read_iter"):
        write_frames([], tmp_path / "x")


class _Stopping:
    """An EncodeIter that raises KeyboardInterrupt instead of yielding frame `at`."""

    def __new__(cls, it, at):
        orig = it._gen

        def gen():
            for f in orig:
                if f.index == at:
                    raise KeyboardInterrupt
                yield f

        it._gen = gen()
        return it


def collect(it_or_src, **kw):
    return (read_iter(it_or_src, **kw) if not isinstance(it_or_src, mvclass.stream.ReadIter) else it_or_src).collect()


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_read_iter_own_streams(clip, codec, tmp_path):
    data = mvclass.encode_cropped(clip, qp=30, codec=codec, intra_period=5).bitstream
    whole = mvclass.read_stream(data)
    for chunk in (1, 100, 1 << 20):
        assert_same(collect(data, chunk_size=chunk), whole)
    # our streams declare no reordering: each frame carries its own access unit
    frames = list(read_iter(data, chunk_size=100))
    assert [8 * len(f.nal_full) for f in frames] == pytest.approx(list(whole.frame_bits["full"]), abs=1e-6)
    path = tmp_path / f"s.{'264' if codec == 'h264' else '265'}"
    path.write_bytes(data)
    assert_same(collect(path, chunk_size=50), mvclass.read_stream(path))
    r = mvclass.read_stream(path, out=tmp_path / "run")
    assert_same(r, mvclass.read_stream(path))


class CountingReader(io.BytesIO):
    """A binary file object that records how many bytes were read."""

    def read(self, n=-1):
        b = super().read(n)
        self.consumed = self.tell()
        return b


@pytest.mark.parametrize("params", ["cabac=0:bframes=2:b-adapt=0:ref=3",
                                    "cabac=1:bframes=3:b-adapt=0:b-pyramid=normal:8x8dct=1:keyint=12"])
def test_read_iter_x264_b_frames(boxing_clip, params):
    frames = [(y[:96, :128], u[:48, :64], v[:48, :64]) for y, u, v in load_yuv(boxing_clip, 40)]
    data = x264_stream(frames, params)
    whole = mvclass.read_stream(data)
    assert "B" in "".join(whole.frame_bits["type"])
    assert_same(collect(data, chunk_size=777), whole)
    src = CountingReader(data)
    it = read_iter(src, chunk_size=512)
    first = next(it)
    assert first.poc == whole.poc[0] and src.consumed < len(data) // 2  # before the stream's end
    rest = list(it)
    assert [f.index for f in [first] + rest] == list(range(40))
    assert b"".join(f.nal_full for f in [first] + rest) == data
    # display order needs the window: without it the stream's order is refused, not silently changed
    with pytest.raises(mvclass.StreamError, match="reorder"):
        list(read_iter(data, reorder=0))


def test_read_iter_x265_and_containers(boxing_clip, tmp_path):
    frames = [(y[:64, :96], u[:32, :48], v[:32, :48]) for y, u, v in load_yuv(boxing_clip, 10)]
    hevc = x265_stream(frames, "bframes=3:b-pyramid=1:ref=3:keyint=8")
    assert_same(collect(hevc, chunk_size=300), mvclass.read_stream(hevc))
    mp4 = x264_stream(frames, "cabac=1:bframes=2", fmt="mp4")
    (tmp_path / "v.mp4").write_bytes(mp4)
    for src in (mp4, tmp_path / "v.mp4"):
        assert_same(collect(src), mvclass.read_stream(src))


def test_read_iter_carphone_mp4(shared_data):
    path = shared_data / "clips" / "carphone_pristine.mp4"
    assert_same(collect(path), mvclass.read_stream(path))


def test_errors_mid_stream(boxing_clip):
    frames = [(y[:64, :96], u[:32, :48], v[:32, :48]) for y, u, v in load_yuv(boxing_clip, 10)]
    data = x264_stream(frames, "cabac=0:bframes=0")
    cut = data[: len(data) * 2 // 3]
    with pytest.raises(mvclass.StreamError) as whole_err:
        mvclass.read_stream(cut)
    it = read_iter(cut, chunk_size=64)
    got = []
    with pytest.raises(mvclass.StreamError) as stream_err:
        for f in it:
            got.append(f)
    assert got and str(stream_err.value) == str(whole_err.value)
    assert it.closed
    with pytest.warns(RuntimeWarning, match="read only up to picture") as whole_warn:
        part = mvclass.read_stream(cut, strict=False)
    with pytest.warns(RuntimeWarning, match="read only up to picture") as stream_warn:
        it = read_iter(cut, strict=False, chunk_size=64)
        sp = it.collect()
    assert sp.frames == part.frames and it.error
    assert str(stream_warn[0].message) == str(whole_warn[0].message)
    for k in ("mv4", "ref4", "kind4", "mvd4", "mv", "frame_bits"):
        assert np.array_equal(getattr(sp, k), getattr(part, k)), k
    junk = b"\x00\x00\x01" + bytes(range(256)) * 4
    with pytest.raises(ValueError) as whole_err:
        mvclass.read_stream(junk, codec="h264")
    with pytest.raises(ValueError) as stream_err:
        list(read_iter(junk, codec="h264", chunk_size=100))
    assert type(stream_err.value) is type(whole_err.value) and str(stream_err.value) == str(whole_err.value)
    with pytest.raises(ValueError, match="drop"):
        read_iter(data, drop="X")
    with pytest.raises(ValueError, match="chunk_size"):
        read_iter(data, chunk_size=0)
    with pytest.raises(ValueError, match="empty"):
        read_iter(b"")
    with pytest.raises(ValueError, match="Annex B"):
        read_iter(io.BytesIO(b"RIFF" + bytes(100)))
    with pytest.raises(ValueError, match="max_blocks|stream too large"):
        list(read_iter(data, max_blocks=3 * 16 * 24))
    with pytest.raises(ValueError, match="unknown option"):
        encode_iter(frames, qp=30, bogus=1)


def test_closing_early_frees_native_state(clip, boxing_clip):
    assert (mvclass.encode_iter, mvclass.read_iter, mvclass.load_result) == (encode_iter, read_iter, load_result)
    it = encode_iter(boxing_clip, qp=30)
    with it:
        f = next(it)
        assert f.type == "I" and it.frames == 1
    assert it.closed
    with pytest.raises(StopIteration):
        next(it)
    it.close()  # idempotent
    data = mvclass.encode_cropped(clip, qp=30).bitstream
    r = read_iter(data, chunk_size=64)
    next(r)
    reader = r._gen.gi_frame.f_locals["reader"]
    assert not reader.closed
    r.close()
    assert reader.closed and r.closed
    with pytest.raises(ValueError, match="closed"):
        reader.feed(b"")


@pytest.mark.filterwarnings("ignore:.*read only up to picture:RuntimeWarning")
def test_fuzz_streamed_equals_whole(boxing_clip):
    """Mutated and truncated streams read in random chunks: read_iter gives read_stream's result or
    its exception (same type and message); the one difference allowed is a stream that reorders
    beyond its declared bound, which read_iter refuses."""
    rng = np.random.default_rng(7)
    small = [(y[:48, :64], u[:24, :32], v[:24, :32]) for y, u, v in load_yuv(boxing_clip, 6)]
    seeds = [x264_stream(small, "cabac=0:bframes=2:b-adapt=0"), x264_stream(small, "cabac=1:bframes=1:ref=2"),
             mvclass.encode_cropped(planes(small), qp=30).bitstream,
             mvclass.encode_cropped(planes(small), qp=30, codec="hevc").bitstream]
    outcomes = {"same result": 0, "same error": 0, "reorder": 0}
    for i in range(400):
        d = bytearray(seeds[i % len(seeds)])
        for _ in range(int(rng.integers(1, 4))):
            pos = int(rng.integers(0, len(d)))
            if rng.integers(0, 3):
                d[pos] = int(rng.integers(0, 256))
            else:
                d = d[:max(pos, 1)]
        data, strict = bytes(d), bool(i % 3)
        codec = "hevc" if i % len(seeds) == 3 else "h264"
        try:
            whole, err = mvclass.read_stream(data, codec, strict=strict), None
        except (ValueError, FileNotFoundError) as e:
            whole, err = None, e
        it = read_iter(data, codec, strict=strict, chunk_size=int(rng.integers(1, 200))) if err is None else None
        try:
            if it is None:  # the same error when the iterator is made or read
                it = read_iter(data, codec, strict=strict, chunk_size=int(rng.integers(1, 200)))
            streamed = it.collect()
        except mvclass.StreamError as e:
            if "reordering bound" in str(e):
                outcomes["reorder"] += 1
                continue
            assert err is not None and (type(e), str(e)) == (type(err), str(err)), i
            outcomes["same error"] += 1
            continue
        except ValueError as e:
            assert err is not None and type(e) is type(err) and str(e) == str(err), (i, e, err)
            outcomes["same error"] += 1
            continue
        assert err is None, (i, err)
        if it.error:  # strict=False stopped early: read_stream keeps the input, drops the cropped stream;
            # the frames carry the bytes read up to the error
            assert it.error in str(whole.options) or whole.cropped == b""
            assert data.startswith(bytes(streamed.bitstream))
            whole.bitstream, whole.cropped = streamed.bitstream, streamed.cropped
        assert_same(streamed, whole)
        outcomes["same result"] += 1
    print(outcomes)
    assert outcomes["same result"] > 20 and outcomes["same error"] > 20, outcomes


def test_encode_iter_bad_source_mid_stream(tmp_path, boxing_clip):
    """A video that breaks off: strict=True raises encode_cropped's ValueError after the frames
    before it were yielded; otherwise the same warning and the same frames_declared / errors."""
    from mvclass.io import VideoDecodeWarning

    data = boxing_clip.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[:len(data) // 12])
    with pytest.raises(ValueError) as whole_err:
        mvclass.encode_cropped(cut, strict=True)
    got = []
    with pytest.raises(ValueError) as stream_err:
        for f in encode_iter(cut, strict=True):
            got.append(f.index)
    assert got and str(stream_err.value) == str(whole_err.value)
    with pytest.warns(VideoDecodeWarning):
        whole = mvclass.encode_cropped(cut)
    with pytest.warns(VideoDecodeWarning):
        streamed = encode_iter(cut).collect()
    assert streamed.frames_declared == 296 and streamed.decode_errors > 0
    assert_same(streamed, whole)


def test_cli_stream_dir(boxing_clip, tmp_path, capsys):
    from mvclass.cli import main

    assert main(["encode", str(boxing_clip), "--qp", "30", "40", "--max-frames", "3", "-q",
                 "--stream-dir", str(tmp_path / "runs")]) == 0
    for qp in (30, 40):
        r = load_result(tmp_path / "runs" / f"qp{qp}")
        assert_same(r, mvclass.encode_cropped(boxing_clip, qp=qp, max_frames=3))
    assert "Rcropped" in capsys.readouterr().out
