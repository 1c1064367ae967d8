"""Peak RSS against video length, whole-result forms beside the streaming ones (bench_memory.py):
the table goes to the summary; the recorded ratio is the whole form's growth over the streaming
form's at 4x the length (info: no target)."""
from __future__ import annotations

import pytest

from bench_memory import run_table
from conftest import RATIOS, Ratio


@pytest.mark.parametrize("kind", ["encode", "read"])
def test_memory_flat_in_video_length(kind, quick, note, benchmark):
    w, h, base = (160, 120, 8) if quick else (1280, 720, 25)
    modes = {"encode": ("encode_cropped", "encode_iter", "encode_out"),
             "read": ("read_stream", "read_iter", "read_out")}[kind]
    out = {}

    def run():
        out["rows"], out["lines"] = run_table(w, h, base, "h264", modes)
        return out["rows"]

    rows = benchmark.pedantic(run, rounds=1, iterations=1)
    for line in out["lines"]:
        note(line)
    by = {(r["mode"], r["frames"]): r for r in rows}
    n4 = 4 * base
    whole = by[(modes[0], n4)]["growth_mb"]
    for m in modes[1:]:
        ratio = whole / max(by[(m, n4)]["growth_mb"], 1.0)  # below 1 MB: allocator noise
        RATIOS.append(Ratio(f"test_memory_flat_in_video_length[{kind}]", f"RSS growth {modes[0]} / {m}, {n4} fr",
                            ratio, None, [ratio], f"{w}x{h}"))
    benchmark.extra_info.update({f"{r['mode']} x{r['frames']}: peak MB": r["peak_mb"] for r in rows})
    benchmark.extra_info.update({f"{r['mode']} x{r['frames']}: growth MB": r["growth_mb"] for r in rows})
    assert sorted({r["frames"] for r in rows}) == [base, 2 * base, n4]
