import numpy as np
import pytest

import av
from mvclass.io import read_frames, read_video, rgb_to_yuv420, sample_clip, yuv420_to_rgb


def _write_y4m(path, planes, fps="25:1"):
    t, h, w = planes[0].shape
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps} Ip A1:1 C420jpeg\n".encode())
        for i in range(t):
            f.write(b"FRAME\n")
            for p in planes:
                f.write(p[i].tobytes())


def _planes(t=3, h=32, w=48, seed=1):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (t, h, w), np.uint8), rng.integers(0, 256, (t, h // 2, w // 2), np.uint8),
            rng.integers(0, 256, (t, h // 2, w // 2), np.uint8))


def test_real_clip_through_pyav(boxing_clip):
    src = read_video(boxing_clip, max_frames=5)
    assert (src.width, src.height, src.fps) == (320, 240, 25.0)
    frames = list(src.frames())
    assert len(frames) == 5
    y, u, v = frames[0]
    assert y.shape == (240, 320) and u.shape == (120, 160) and v.shape == (120, 160)
    # Independent check against PyAV's own ndarray conversion of the first frame.
    with av.open(str(boxing_clip)) as c:
        ref = next(c.decode(video=0)).to_ndarray(format="yuv420p")
    np.testing.assert_array_equal(ref[:240], y)
    assert y[:16].max() < 40  # the letterbox rows are black


def test_full_clip_frame_count(boxing_clip):
    assert sum(1 for _ in read_video(boxing_clip).frames()) == 296


def test_fps_override_and_default(tmp_path):
    planes = _planes()
    p = tmp_path / "a.y4m"
    _write_y4m(p, planes, fps="30000:1001")
    assert read_video(p).fps == pytest.approx(29.97, abs=1e-2)
    assert read_video(p, fps=25).fps == 25.0
    assert read_video(np.zeros((2, 16, 16, 3), np.uint8)).fps == 25.0


def test_y4m_and_yuv_round_trip(tmp_path):
    planes = _planes()
    _write_y4m(tmp_path / "a.y4m", planes)
    with open(tmp_path / "a.yuv", "wb") as f:
        for i in range(3):
            for p in planes:
                f.write(p[i].tobytes())
    for frames in (read_frames(tmp_path / "a.y4m"), read_frames(tmp_path / "a.yuv", width=48, height=32)):
        assert len(frames) == 3
        for i, fr in enumerate(frames):
            for k in range(3):
                np.testing.assert_array_equal(fr[k], planes[k][i])
    assert len(read_frames(tmp_path / "a.y4m", max_frames=2)) == 2


def test_yuv_tuple_source():
    planes = _planes(t=2)
    frames = read_frames(planes)
    np.testing.assert_array_equal(frames[1][2], planes[2][1])


def test_yuv_planes_must_be_uint8():
    y, u, v = _planes(t=2)
    for bad in ((y.astype(np.float32), u, v), (y, u.astype(np.int16) + 300, v), (y, u, v.astype(np.uint16))):
        with pytest.raises(ValueError, match="YUV planes must be uint8.*(float32|int16|uint16)"):
            read_frames(bad)


def test_list_of_frames_is_never_taken_for_planes():
    rgb = sample_clip(frames=3, width=32, height=16)
    # three RGB frames as a list: frames, exactly like the stacked array
    a, b = read_frames(list(rgb)), read_frames(rgb)
    assert len(a) == 3 and all(np.array_equal(p, q) for fa, fb in zip(a, b) for p, q in zip(fa, fb))
    # the same frames as a tuple would be read as (Y, U, V) planes: refused, with the way out
    with pytest.raises(ValueError, match="same shape.*list"):
        read_frames(tuple(rgb))
    # a list of (Y, U, V) frames (what read_frames returns) round-trips
    c = read_frames(a)
    assert all(np.array_equal(p, q) for fa, fc in zip(a, c) for p, q in zip(fa, fc))
    with pytest.raises(ValueError, match="same shape"):
        read_frames([rgb[0], rgb[1][:8]])
    with pytest.raises(ValueError, match="uint8"):
        read_frames([f.astype(np.float64) for f in rgb])


def test_rgb_conversion_matches_ffmpeg():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (64, 96, 3), np.uint8)
    rgb = (rgb.astype(np.int32) // 4 * 4).astype(np.uint8)
    y, u, v = rgb_to_yuv420(rgb)
    ref = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p").to_ndarray()
    assert np.abs(y.astype(int) - ref[:64]).max() <= 1
    # Chroma: FFmpeg's default scaler filters differently; means must agree closely.
    ref_u = ref[64:80].reshape(32, 48)
    assert abs(u.astype(float).mean() - ref_u.astype(float).mean()) < 1.5
    # Colour constant over each 2x2 block survives 4:2:0 almost exactly.
    blocky = np.repeat(np.repeat(rgb[::2, ::2], 2, 0), 2, 1)
    back = yuv420_to_rgb(*rgb_to_yuv420(blocky))
    assert np.abs(back.astype(int) - blocky).max() <= 4


def test_sample_clip_is_deterministic_and_moving():
    a, b = sample_clip(frames=6), sample_clip(frames=6)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (6, 240, 320, 3)
    assert np.abs(a[1].astype(int) - a[0]).mean() > 5


@pytest.mark.parametrize("name,content,exc,words", [
    ("missing.avi", None, FileNotFoundError, "not found"),
    ("x.avi", b"hello, not a video", ValueError, "not a readable video"),
    ("e.mp4", b"", ValueError, "empty"),
    pytest.param("notes.txt", b"hello, this is a text file and not a video at all\n" * 40, ValueError,
                 "not a video.*text", id="text-file"),
    pytest.param("readme.ans", b"x" * 3000, ValueError, "not a video.*text", id="ansi-file"),
    ("", None, ValueError, "directory"),
])
def test_bad_paths(tmp_path, name, content, exc, words):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(exc, match=words):
        read_frames(path)


def test_bad_raw_yuv(tmp_path):
    p = tmp_path / "a.yuv"
    p.write_bytes(bytes(48 * 32 * 3 // 2 * 2 + 7))
    with pytest.raises(ValueError, match="width= and height="):
        read_video(p)
    with pytest.raises(ValueError, match="not a whole number"):
        read_video(p, width=48, height=32)


@pytest.mark.parametrize("arr,words", [
    (np.zeros((0, 16, 16, 3), np.uint8), "no frames"),
    (np.zeros((2, 0, 16, 3), np.uint8), "zero size"),
    (np.zeros((2, 15, 16, 3), np.uint8), "even"),
    (np.zeros((2, 16, 16, 3), np.float32), "uint8"),
    (np.zeros((2, 16, 16, 4), np.uint8), "shape"),
])
def test_bad_arrays(arr, words):
    with pytest.raises(ValueError, match=words):
        read_frames(arr)


@pytest.mark.parametrize("kw,words", [({"fps": 0}, "fps"), ({"fps": "x"}, "fps"), ({"max_frames": 0}, "max_frames")])
def test_bad_options(kw, words):
    with pytest.raises(ValueError, match=words):
        read_video(np.zeros((2, 16, 16, 3), np.uint8), **kw)


def test_video_without_video_stream(tmp_path):
    p = tmp_path / "a.wav"
    with av.open(str(p), "w") as c:
        s = c.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for pkt in s.encode(frame):
            c.mux(pkt)
    with pytest.raises(ValueError, match="no video stream"):
        read_video(p)


def test_image_is_a_video_only_when_named_as_an_image(tmp_path):
    png = tmp_path / "frame.png"
    with av.open(str(png), "w", format="image2") as c:
        st = c.add_stream("png", rate=1)
        st.width, st.height, st.pix_fmt = 32, 16, "rgb24"
        for pkt in st.encode(av.VideoFrame.from_ndarray(np.full((16, 32, 3), 99, np.uint8), format="rgb24")):
            c.mux(pkt)
        for pkt in st.encode():
            c.mux(pkt)
    assert len(read_frames(png)) == 1
    disguised = tmp_path / "clip.mp4"
    disguised.write_bytes(png.read_bytes())
    with pytest.raises(ValueError, match="not a video but an image"):
        read_video(disguised)


def test_truncated_file_warns_and_strict_raises(tmp_path, boxing_clip):
    import warnings

    import mvclass
    from mvclass.io import VideoDecodeWarning

    data = boxing_clip.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[:len(data) // 2])
    src = read_video(cut)
    with pytest.warns(VideoDecodeWarning) as caught:
        n = sum(1 for _ in src.frames())
    messages = [str(w.message) for w in caught]
    assert any(f"decoded {n} frames but the container declares 296" in m and str(cut) in m for m in messages)
    assert src.report.declared == 296 and src.report.decoded == n < 296 and src.report.complete
    assert any("decoded with errors" in m for m in messages) and src.report.errors > 0
    with pytest.raises(ValueError, match=f"{cut}: corrupt video data"):
        read_frames(cut, strict=True)
    with pytest.raises(ValueError, match="corrupt video data"):
        mvclass.encode_cropped(cut, strict=True)
    # stopping early (max_frames) is no truncation; a whole file gives no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(read_frames(cut, max_frames=5)) == 5
        r = mvclass.encode_cropped(boxing_clip, max_frames=3, strict=True)
    assert r.frames_declared == 296 and r.decode_errors == 0


def test_resolution_change_mid_stream_is_an_error_naming_the_file(tmp_path):
    from mvclass import _core

    stream = b""
    for w, h in ((64, 48), (96, 64)):
        enc = _core.Encoder("h264", w, h, {"qp": 30})
        for _ in range(2):
            stream += enc.encode(np.full((h, w), 90, np.uint8), np.full((h // 2, w // 2), 128, np.uint8),
                                 np.full((h // 2, w // 2), 128, np.uint8))["nal_full"]
    path = tmp_path / "sizes.264"
    path.write_bytes(stream)
    with pytest.raises(ValueError, match=f"{path}: the resolution changes mid-stream at frame 2 .64x48 -> 96x64."):
        read_frames(path)


def test_y4m_bad_header_names_file_and_cause(tmp_path):
    p = tmp_path / "bad.y4m"
    for header, words in ((b"YUV4MPEG2 W64 H48 Fx:1\n", "bad frame rate"), (b"YUV4MPEG2 W64 F25:1\n", "lacks W or H"),
                          (b"YUV4MPEG2 Wabc H48\n", "bad size"), (b"YUV4MPEG2 W64 H48 F1000000000:1\n", "frame rate"),
                          (b"NOTY4M W64 H48\n", "not a YUV4MPEG2")):
        p.write_bytes(header + b"FRAME\n" + bytes(64 * 48 * 3 // 2))
        with pytest.raises(ValueError, match=f"{p}: .*{words}"):
            read_frames(p)


@pytest.mark.parametrize("width", [64.7, "64", 64.0, True])
def test_raw_yuv_size_must_be_an_integer(tmp_path, width):
    p = tmp_path / "a.yuv"
    p.write_bytes(bytes(64 * 48 * 3 // 2))
    with pytest.raises(ValueError, match=f"width must be an integer number of pixels, got {width!r}"):
        read_video(p, width=width, height=48)
    assert len(read_frames(p, width=np.int64(64), height=48)) == 1


@pytest.mark.parametrize("kw", [{"frames": -5}, {"frames": 0}, {"width": 31}, {"height": 2.5}])
def test_sample_clip_checks_its_arguments(kw):
    with pytest.raises(ValueError, match="sample_clip: "):
        sample_clip(**kw)
