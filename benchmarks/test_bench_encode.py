"""Encode speed against libx264 / libx265 medium (same GOP, no B-frames, one thread), and the
rates against the paper's JM / HM (calibrate.py, run the same way)."""
from __future__ import annotations

import contextlib
import io

import pytest

from bench_encode import PAPER, PEER, TARGET
from common import load_planes, time_core, time_peer


@pytest.fixture(scope="module")
def planes(quick):
    return load_planes(max_frames=10 if quick else 296)


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_encode_vs_peer_medium(codec, planes, side_by_side, benchmark):
    n = planes[0].shape[0]
    ratio, _ = side_by_side(lambda: time_core(codec, planes, 30, **PAPER[codec]),
                            lambda: time_peer(PEER[codec], planes, 30, "medium"),
                            f"encode {codec} vs {PEER[codec]} medium", TARGET[codec], note=f"{n} frames, QP 30")
    benchmark.extra_info.update(frames=n, qp=30, codec=codec, options=PAPER[codec])
    assert ratio > 0


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_calibrate_rates(codec, quick, note, benchmark):
    """calibrate.py's table (QP 30 only) into the summary; its OK / OUT OF RANGE verdict is only
    meaningful on the whole clip (a quick run encodes 10 frames)."""
    import calibrate

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = benchmark.pedantic(calibrate.main, args=(["--codec", codec, "--qp", "30", "--frames", "10" if quick else "296"],),
                                rounds=1, iterations=1)
    assert rc == 0
    text = out.getvalue()
    benchmark.extra_info["table"] = text
    note(f"calibrate.py --codec {codec} --qp 30" + (" (quick: 10 frames, verdict not meaningful)" if quick else "") + ":")
    for line in text.strip().splitlines()[1:]:
        note("    " + line)
    assert f"mvclass{'':<7}{30:>4}" in text
