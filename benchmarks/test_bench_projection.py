"""The UCF-101 projection (project_ucf101.py) as a benchmark: its table goes to the summary."""
from __future__ import annotations

from project_ucf101 import project


def test_ucf101_projection(quick, note, benchmark):
    text, res = benchmark.pedantic(project, kwargs=dict(frames=8 if quick else 60, repeat=1 if quick else 2),
                                   rounds=1, iterations=1)
    benchmark.extra_info.update(res)
    note("UCF-101 projection" + (" (quick: 8 frames, not a measurement)" if quick else "") + ":")
    for line in text.splitlines():
        note("    " + line)
    assert res["hours"] > 0 and len(res["per_frame"]) == 8
