"""Dataset-build throughput: build_mv_dataset against a plain libx264 medium transcode of the
same files (both decode the XviD source; the build also encodes both streams and writes .npz)."""
from __future__ import annotations

import shutil

import pytest

from bench_build import x264_transcode
from common import BOXING


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_build_vs_x264_transcode(codec, quick, tmp_path, side_by_side, benchmark):
    from mvclass.datasets import Video, build_mv_dataset

    videos, frames = (2, 8) if quick else (4, 296)
    paths = []
    for i in range(videos):
        p = tmp_path / "src" / f"v_Boxing_g{i:02d}_c01.avi"
        p.parent.mkdir(exist_ok=True)
        shutil.copyfile(BOXING, p)
        paths.append(p)
    vids = [Video(p.stem, 0, "Boxing", "test", path=p) for p in paths]
    runs = iter(range(1000))

    def ours():
        rep = build_mv_dataset(vids, tmp_path / f"out{next(runs)}", codec=codec, qp=30, workers=1, progress=False,
                               max_frames=frames, fps=25)
        assert not rep.failed and rep.encoded == videos
        return rep

    ratio, _ = side_by_side(ours, lambda: x264_transcode(paths, frames), f"build {codec} vs x264 medium transcode",
                            None, note=f"{videos} videos x {frames} frames, 1 worker")
    benchmark.extra_info.update(videos=videos, frames=frames, workers=1)
    assert ratio > 0
