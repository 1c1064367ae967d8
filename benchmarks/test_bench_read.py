"""The stream readers against FFmpeg (PyAV) on the same streams, full and cropped: H.264 (FFmpeg
decoding with export_mvs) and HEVC (FFmpeg's plain decode: it exports no HEVC motion)."""
from __future__ import annotations

import pytest

from bench_read import TARGET, make_stream, time_ffmpeg, time_native


@pytest.fixture(scope="module", params=["h264", "hevc"])
def streams(quick, request):
    import mvclass

    codec = request.param
    w, h, frames = (320, 240, 10) if quick else (1280, 720, 100)
    full = make_stream(frames, w, h, 26, codec)
    r = mvclass.read_stream(full)
    return {"full": full, "cropped": r.cropped}, f"{codec} {w}x{h}, {r.frames} frames", codec


@pytest.mark.parametrize("kind", ["full", "cropped"])
def test_read_vs_ffmpeg(kind, streams, side_by_side, benchmark):
    data, codec = streams[0][kind], streams[2]
    peer = "FFmpeg export_mvs" if codec == "h264" else "FFmpeg decode"
    ratio, d = side_by_side(lambda: time_native(data, codec)[1], lambda: time_ffmpeg(data, codec),
                            f"read {codec} {kind} vs {peer}", TARGET[kind], note=streams[1])
    benchmark.extra_info.update(codec=codec, stream=kind, size=streams[1], bytes=len(data))
    assert len(d["type"]) > 0 and ratio > 0
