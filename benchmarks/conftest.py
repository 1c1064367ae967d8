"""pytest-benchmark harness for the side-by-side benchmarks (``benchmarks/test_*.py``).

    python -m pytest benchmarks                      # the full run (minutes; see README)
    python -m pytest benchmarks --quick              # few frames, one round: CI's smoke run
    MVCLASS_BENCH_QUICK=1 python -m pytest benchmarks  # the same

Every benchmark runs our code and its peer alternately (``side_by_side``), records the per-pair
ratios, their median and the target in ``benchmark.extra_info`` (saved by ``--benchmark-json``),
and asserts nothing about time. The terminal summary prints one line per ratio: MET, BELOW
TARGET, or "quick" (a quick run's ratio is not a measurement, only proof that the code runs).
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if list((HERE.parent / "python" / "mvclass").glob("_core*")):  # a source checkout built with ./dev-build.sh
    sys.path.insert(0, str(HERE.parent / "python"))  # (otherwise the installed mvclass, as in CI)
import common  # noqa: E402  (sets the one-thread BLAS environment before numpy loads)


def pytest_addoption(parser):
    parser.addoption("--quick", action="store_true", default=False,
                     help="mvclass benchmarks: few frames, one round (also MVCLASS_BENCH_QUICK=1)")


def is_quick(config) -> bool:
    return bool(config.getoption("--quick")) or os.environ.get("MVCLASS_BENCH_QUICK", "") not in ("", "0")


@dataclass
class Ratio:
    test: str
    label: str
    ratio: float
    target: float | None
    pairs: list = field(default_factory=list)
    note: str = ""


RATIOS: list[Ratio] = []
NOTES: list[str] = []  # free-form lines for the summary (projection, calibration tables)


@pytest.fixture(scope="session")
def quick(request) -> bool:
    return is_quick(request.config)


@pytest.fixture(scope="session")
def rounds(quick) -> int:
    return 1 if quick else int(os.environ.get("MVCLASS_BENCH_ROUNDS", "5"))


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


@pytest.fixture
def side_by_side(benchmark, request, rounds, quick):
    """``side_by_side(ours, peer, label, target, speed=...)``: run ``peer()`` then ``ours()``
    ``rounds`` times (the peer as pytest-benchmark's untimed setup, ours as the timed target),
    and record ``ratio = speed(peer seconds, ours seconds)`` per pair, by default peer / ours
    seconds (how many times faster ours is); ``speed="rates"``: ours() and peer() return
    throughputs and the ratio is ours / peer. Returns (median ratio, ours' last result)."""

    def run(ours, peer, label: str, target: float | None, *, speed=lambda tp, to: tp / to, note: str = ""):
        t_peer, t_ours, r_peer, r_ours, last = [], [], [], [], {}

        def setup():
            t = time.perf_counter()
            r_peer.append(peer())
            t_peer.append(time.perf_counter() - t)

        def target_fn():
            t = time.perf_counter()
            last["r"] = ours()
            r_ours.append(last["r"])
            t_ours.append(time.perf_counter() - t)
            return last["r"]

        benchmark.pedantic(target_fn, setup=setup, rounds=rounds, iterations=1, warmup_rounds=0)
        if not t_ours:  # --benchmark-disable runs the target once without setup
            setup()
        if speed == "rates":  # ours() / peer() return throughputs: their ratio, per pair
            pairs = [o / p for p, o in zip(r_peer, r_ours)]
        else:
            pairs = [speed(p, o) for p, o in zip(t_peer, t_ours)]
        ratio = median(pairs)
        info = benchmark.extra_info
        info[f"{label}: ratio"] = ratio
        info[f"{label}: pairs"] = pairs
        info[f"{label}: target"] = target
        info[f"{label}: seconds ours / peer"] = [min(t_ours), min(t_peer)]
        info["quick"] = quick
        RATIOS.append(Ratio(request.node.name, label, ratio, target, pairs, note))
        return ratio, last.get("r")

    return run


@pytest.fixture
def note():
    return NOTES.append


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not RATIOS and not NOTES:
        return
    tr = terminalreporter
    quick = is_quick(config)
    tr.section("mvclass side-by-side ratios" + (" (QUICK RUN: not measurements)" if quick else ""))
    tr.write_line(f"{'benchmark':<44}{'ratio':>9}{'target':>9}  verdict   pairs")
    below = 0
    for r in RATIOS:
        if r.target is None:
            verdict = "info"
        elif quick:
            verdict = "quick"
        elif r.ratio >= r.target:
            verdict = "MET"
        else:
            verdict, below = "BELOW TARGET", below + 1
        tgt = "-" if r.target is None else f"{r.target:.2f}x"
        tr.write_line(f"{r.label:<44}{r.ratio:>8.2f}x{tgt:>9}  {verdict:<9} "
                      + ", ".join(f"{p:.2f}" for p in r.pairs) + (f"  ({r.note})" if r.note else ""))
    for line in NOTES:
        tr.write_line(line)
    if quick:
        tr.write_line("quick run: ratios above come from a handful of frames and one round; run "
                      "`python -m pytest benchmarks` for the verdicts")
    else:
        tr.write_line(f"{below} ratio(s) below target" if below else "every ratio with a target met it")
