"""BD-rate of our H.264 CAVLC and CABAC against libx264 medium (bdrate.py), and known-answer checks
of the Bjontegaard computation itself."""
from __future__ import annotations

import math

import numpy as np
import pytest

from bdrate import CLIPS, QPS, bd_psnr, bd_rate, curves, table
from common import load_planes


def test_bd_constant_rate_ratio():
    """Curve 2 needs 0.8x the rate at every PSNR: BD-rate -20%; with PSNR linear in log10(rate)
    (slope 20 dB per decade) that is 20 * -log10(0.8) dB more PSNR at equal rate."""
    r1 = np.array([100.0, 200.0, 400.0, 800.0])
    p1 = 30 + 20 * np.log10(r1 / 100)
    assert bd_rate(r1, p1, 0.8 * r1, p1) == pytest.approx(-20.0, abs=1e-9)
    assert bd_psnr(r1, p1, 0.8 * r1, p1) == pytest.approx(-20 * math.log10(0.8), abs=1e-9)
    assert bd_rate(r1, p1, r1, p1) == pytest.approx(0.0, abs=1e-9)
    # order of the points does not matter
    assert bd_rate(r1[::-1], p1[::-1], 0.8 * r1, p1) == pytest.approx(-20.0, abs=1e-9)


def test_bd_partial_overlap_known_integral():
    """log10 R2 - log10 R1 = c (p - 35)^2, the curves sampled at different PSNRs (overlap 32..39 dB):
    the cubic fits are exact, so the mean difference is c ((39-35)^3 - (32-35)^3) / (3 * 7)."""
    c = 0.002
    p1 = np.array([30.0, 33.0, 36.0, 39.0])
    p2 = np.array([32.0, 35.0, 38.0, 41.0])
    r1 = 10 ** (2 + 0.05 * (p1 - 30))
    r2 = 10 ** (2 + 0.05 * (p2 - 30) + c * (p2 - 35) ** 2)
    d = c * ((39 - 35) ** 3 - (32 - 35) ** 3) / (3 * 7)
    assert bd_rate(r1, p1, r2, p2) == pytest.approx(100 * (10 ** d - 1), abs=1e-9)
    assert bd_rate(r2, p2, r1, p1) == pytest.approx(100 * (10 ** -d - 1), abs=1e-9)


def test_bd_errors():
    r = [1.0, 2.0, 4.0, 8.0]
    with pytest.raises(ValueError, match="overlap"):
        bd_rate(r, [30, 31, 32, 33], r, [40, 41, 42, 43])
    with pytest.raises(ValueError, match="four points"):
        bd_rate(r[:3], [30, 31, 32], r, [30, 31, 32, 33])
    with pytest.raises(ValueError, match="positive"):
        bd_rate([0.0, 2, 4, 8], [30, 31, 32, 33], r, [30, 31, 32, 33])


@pytest.mark.parametrize("clip", list(CLIPS))
def test_bdrate_vs_x264_medium(clip, quick, note, benchmark):
    """The table of bdrate.py for one clip into the summary (quick: 10 frames, not a measurement)."""
    path, fps = CLIPS[clip]
    planes = load_planes(path, max_frames=10 if quick else None)
    n = planes[0].shape[0]
    c = benchmark.pedantic(curves, args=(planes, fps), rounds=1, iterations=1)
    text, figs = table(clip + (" (quick: not a measurement)" if quick else ""), n, c)
    benchmark.extra_info.update(clip=clip, frames=n, qps=list(QPS), points=c,
                                bd={f"{a} vs {b}": v for (a, b), v in figs.items()})
    for line in text.splitlines():
        note("    " + line)
    # identical decisions: CABAC changes the rate only, and lowers it
    assert [p for _, p in c["mvclass h264 cabac"]] == [p for _, p in c["mvclass h264 cavlc"]]
    assert figs[("mvclass h264 cabac", "mvclass h264 cavlc")][0] < 0
