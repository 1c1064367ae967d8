"""The H.264 reader against FFmpeg decoding with export_mvs (PyAV), full and cropped streams."""
from __future__ import annotations

import pytest

from bench_read import TARGET, make_stream, time_ffmpeg, time_native


@pytest.fixture(scope="module")
def streams(quick):
    import mvclass

    w, h, frames = (320, 240, 10) if quick else (1280, 720, 100)
    full = make_stream(frames, w, h, 26)
    r = mvclass.read_stream(full)
    return {"full": full, "cropped": r.cropped}, f"{w}x{h}, {r.frames} frames"


@pytest.mark.parametrize("kind", ["full", "cropped"])
def test_read_vs_ffmpeg_export_mvs(kind, streams, side_by_side, benchmark):
    data = streams[0][kind]
    ratio, d = side_by_side(lambda: time_native(data)[1], lambda: time_ffmpeg(data),
                            f"read {kind} vs FFmpeg export_mvs", TARGET[kind], note=streams[1])
    benchmark.extra_info.update(stream=kind, size=streams[1], bytes=len(data))
    assert len(d["type"]) > 0 and ratio > 0
