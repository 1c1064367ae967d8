"""MCNN rate-accuracy selector: the math on synthetic data with known answers, the input-rate
rules, the authors' files, and the paper's reported fits and Fig. 6 claims (seeded 80/20 split)."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from mvclass.mcnn import (MCNN, GammaModel, LinearRate, evaluate, fit_rate_model, fit_rmotion, input_rates,
                          load_paper, motion_rate, rates_from_frame_bits, select, split_videos, video_key,
                          window_bits)
from mvclass.mcnn.paper import load_correct, load_frame_bits, load_stats

# Model close to the one fitted on the paper's data (so the synthetic checks cover the real regime).
PAPERLIKE = MCNN(gamma=GammaModel(2.349, 0.12573), rate_3d=LinearRate(2.1449, 9.3506),
                 rate_2d=LinearRate(0.8168, 4.336), i_sp=2.4546, acc_3d=0.88418, acc_2d=0.85903, acc_sp=0.80840)


# ---------------------------------------------------------------------------------------------
# Gamma model and rate fits on synthetic data
# ---------------------------------------------------------------------------------------------
def test_fit_rmotion_recovers_known_gamma_and_matches_scipy():
    x = np.random.default_rng(1).gamma(2.4, 1 / 0.13, size=20000)
    g = fit_rmotion(x)
    assert g.shape == pytest.approx(2.4, rel=0.03)
    assert g.rate == pytest.approx(0.13, rel=0.03)
    k, _, scale = stats.gamma.fit(x, floc=0)  # independent MLE
    assert g.shape == pytest.approx(k, rel=1e-3)
    assert g.rate == pytest.approx(1 / scale, rel=1e-3)
    assert g.kl < 0.01  # only sampling noise between a Gamma histogram and its fit


def test_kl_divergence_separates_gamma_from_non_gamma():
    rng = np.random.default_rng(2)
    uniform = rng.uniform(0.5, 40.0, size=20000)
    assert fit_rmotion(uniform).kl > 0.05
    # KL(P || P) is 0: a model evaluated on its own bin probabilities.
    g = GammaModel(2.0, 0.5)
    assert g.kl_divergence(g.sample(200000, seed=3)) < 2e-3


def test_partial_mean_is_the_integral_of_r_p_r():
    g = GammaModel(2.349, 0.12573)
    for x in (0.5, 5.0, 18.7, 60.0):
        ref, _ = integrate.quad(lambda r: r * g.pdf(r), 0, x)
        assert g.partial_mean(x) == pytest.approx(ref, rel=1e-9)
    assert g.partial_mean(math.inf) == pytest.approx(g.mean)
    assert g.cdf(g.ppf(0.3)) == pytest.approx(0.3)


def test_fit_rate_model_recovers_known_line():
    rng = np.random.default_rng(4)
    x = rng.gamma(2.3, 8.0, size=5000)
    y = 2.21 * x + 9.04 + rng.normal(0, 3.0, size=x.size)
    lr = fit_rate_model(x, y)
    assert lr.a == pytest.approx(2.21, abs=0.02)
    assert lr.b == pytest.approx(9.04, abs=0.2)
    assert lr.r2 == pytest.approx(np.corrcoef(x, y)[0, 1] ** 2, rel=1e-9)  # OLS identity
    assert lr(10.0) == pytest.approx(lr.a * 10 + lr.b)


# ---------------------------------------------------------------------------------------------
# eq. 6 / eq. 7 against Monte-Carlo and quadrature
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("r_l,r_h", [(0.0, 0.0), (5.0, 20.0), (12.9, 52.4), (0.0, math.inf), (30.0, 30.0)])
def test_expected_rate_and_accuracy_closed_form_vs_monte_carlo(r_l, r_h):
    m = PAPERLIKE
    r = m.gamma.sample(1_000_000, seed=5)
    choice = select(r, r_l, r_h)
    cost = np.where(choice == "3d", m.rate_3d(r), np.where(choice == "2d", m.rate_2d(r), m.i_sp))
    acc = np.where(choice == "3d", m.acc_3d, np.where(choice == "2d", m.acc_2d, m.acc_sp))
    se = cost.std() / math.sqrt(r.size) + 1e-12
    assert abs(m.expected_rate(r_l, r_h) - cost.mean()) < 4 * se
    assert abs(m.expected_accuracy(r_l, r_h) - acc.mean()) < 4 * (acc.std() / math.sqrt(r.size)) + 1e-12
    # and the same integral by quadrature (tight)
    p = m.gamma.pdf
    hi = min(r_h, 1e4)
    q = (integrate.quad(lambda x: m.rate_3d(x) * p(x), 0, r_l)[0] if r_l > 0 else 0.0)
    q += integrate.quad(lambda x: m.rate_2d(x) * p(x), r_l, hi)[0] if hi > r_l else 0.0
    q += m.i_sp * (1 - m.gamma.cdf(r_h))
    assert m.expected_rate(r_l, r_h) == pytest.approx(q, rel=1e-7)


def test_expected_functions_broadcast_and_validate():
    m = PAPERLIKE
    out = m.expected_rate(np.array([0.0, 5.0]), np.array([10.0, 20.0]))
    assert out.shape == (2,)
    assert m.expected_rate(0, 0) == pytest.approx(m.i_sp)
    assert m.expected_accuracy(math.inf, math.inf) == pytest.approx(m.acc_3d)
    for bad in ((5.0, 1.0), (-1.0, 2.0), (float("nan"), 2.0)):
        with pytest.raises(ValueError):
            m.expected_rate(*bad)
        with pytest.raises(ValueError):
            m.expected_accuracy(*bad)


# ---------------------------------------------------------------------------------------------
# the solver
# ---------------------------------------------------------------------------------------------
GRID_STEP, GRID_MAX = 0.1, 200.0  # F(200 kbit/s) = 1 - 1e-9: beyond it eq. 6/7 are flat


@pytest.fixture(scope="module")
def brute_force_grid():
    m, h = PAPERLIKE, GRID_STEP
    r = np.arange(0.0, GRID_MAX + h / 2, h)
    rl, rh = (a.ravel() for a in np.meshgrid(r, r, indexing="ij"))
    keep = rl <= rh
    rl, rh = rl[keep], rh[keep]
    return m.expected_accuracy(rl, rh), m.expected_rate(rl, rh)


@pytest.mark.parametrize("budget", [3.0, 5.0, 10.0, 20.0, 24.6, 35.0, 45.0])
def test_solve_agrees_with_brute_force_grid(budget, brute_force_grid):
    """The trust-constr optimum vs an exhaustive (R_L, R_H) grid of step h = 0.1 kbit/s.

    Eq. 6 is flat along the active rate constraint near the optimum (second order), so the
    grid's argmax wanders several steps along it; what is well defined, and checked, is: no
    grid point beats the solver, and the solver's point rounded down onto the grid (so still
    feasible) is as good as the grid's best up to one grid step's worth of accuracy.
    """
    m, h = PAPERLIKE, GRID_STEP
    acc, rate = brute_force_grid
    grid_best = acc[rate <= budget].max()

    s = m.solve(budget)
    assert s.rate <= budget + 1e-9
    assert s.rate == pytest.approx(budget, abs=1e-4)  # the budget binds below the all-3D rate
    assert s.accuracy >= grid_best - 1e-9
    snapped = (math.floor(min(s.r_l, GRID_MAX) / h) * h, math.floor(min(s.r_h, GRID_MAX) / h) * h)
    assert m.expected_rate(*snapped) <= budget
    step_gain = h * max((m.acc_3d - m.acc_2d), (m.acc_2d - m.acc_sp)) * m.gamma.pdf(m.gamma.mean * 0.6) * 2
    assert m.expected_accuracy(*snapped) >= grid_best - step_gain
    assert s.accuracy - grid_best < step_gain


def test_solve_beats_grid_on_random_models():
    """Random valid models (accuracies sometimes unordered, so some inputs are dominated): the
    solver is feasible and no point of a (mean/60)-step grid beats it."""
    rng = np.random.default_rng(7)
    for trial in range(6):
        k, mean = rng.uniform(1.2, 5.0), rng.uniform(5.0, 40.0)
        a3 = rng.uniform(1.0, 3.0)
        accs = rng.uniform(0.5, 0.95, 3)
        if trial % 2 == 0:
            accs = np.sort(accs)[::-1]
        m = MCNN(GammaModel(k, k / mean), LinearRate(a3, rng.uniform(5, 12)),
                 LinearRate(rng.uniform(0.3, 0.9 * a3), rng.uniform(2, 6)), rng.uniform(1, 3), *accs)
        r = np.append(np.arange(0.0, m.gamma.ppf(1 - 1e-9), mean / 60), np.inf)
        rl, rh = (a.ravel() for a in np.meshgrid(r, r, indexing="ij"))
        keep = rl <= rh
        acc, rate = m.expected_accuracy(rl[keep], rh[keep]), m.expected_rate(rl[keep], rh[keep])
        for budget in rng.uniform(m.min_rate() * 1.001, float(m.expected_rate(math.inf, math.inf)) * 1.1, 2):
            s = m.solve(budget)
            assert s.rate <= budget + 1e-9
            assert s.accuracy >= acc[rate <= budget].max() - 1e-7


def test_solve_single_threshold_known_answer():
    """With A_3D <= A_2D the 3D input is dominated (dearer, no better): R_L = 0 and R_H solves
    eq. 7 = budget, a 1-D root found independently by brentq."""
    base = PAPERLIKE
    m = MCNN(base.gamma, base.rate_3d, base.rate_2d, base.i_sp, acc_3d=0.80, acc_2d=0.85, acc_sp=0.75)
    budget = 10.0
    r_h = optimize.brentq(lambda x: float(m.expected_rate(0.0, x)) - budget, 0.0, 500.0, xtol=1e-12)
    s = m.solve(budget)
    assert m.gamma.cdf(s.r_l) < 1e-6
    assert s.r_h == pytest.approx(r_h, rel=1e-4)
    assert s.accuracy == pytest.approx(float(m.expected_accuracy(0.0, r_h)), abs=1e-7)


def test_solve_limits_and_errors():
    m = PAPERLIKE
    r_l, r_h, acc, rate = m.solve(200.0)  # unpacks as a 4-tuple; above the all-3D rate
    assert math.isinf(r_l) and math.isinf(r_h)
    assert acc == pytest.approx(m.acc_3d, abs=1e-6)
    assert rate == pytest.approx(m.rate_3d(m.gamma.mean), rel=1e-6)
    with pytest.raises(ValueError, match=r"minimum feasible rate is 2\.455"):
        m.solve(2.0)
    for bad in (-1.0, float("nan"), float("inf"), "x"):
        with pytest.raises(ValueError):
            m.solve(bad)
    curve = m.rate_accuracy_curve([3.0, 6.0, 12.0, 24.0, 48.0])
    assert np.all(np.diff(curve.accuracy) > 0) and np.all(curve.rate <= curve.budget + 1e-9)
    assert np.all(curve.r_l <= curve.r_h)
    with pytest.raises(ValueError):
        m.rate_accuracy_curve([1.0, 10.0])


def test_model_validation():
    g, lr = GammaModel(2.0, 0.1), LinearRate(1.0, 1.0)
    with pytest.raises(ValueError):
        GammaModel(-1.0, 0.1)
    with pytest.raises(ValueError):
        MCNN(g, lr, lr, 2.0, acc_3d=1.2, acc_2d=0.8, acc_sp=0.7)
    with pytest.raises(ValueError):
        MCNN(g, lr, lr, -2.0, acc_3d=0.9, acc_2d=0.8, acc_sp=0.7)
    with pytest.raises(ValueError, match="NaN"):
        fit_rmotion([1.0, float("nan"), 3.0])
    with pytest.raises(ValueError, match="negative"):
        fit_rmotion([1.0, -2.0, 3.0])
    with pytest.raises(ValueError, match="zero"):
        fit_rmotion([0.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="length"):
        fit_rate_model([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError):
        MCNN.fit([1, 2, 3], [4, 5, 6], [3, 4, 5], [1, 1, 1], [1, 0, 1], [1, 1], [0, 0, 1])


# ---------------------------------------------------------------------------------------------
# select / evaluate
# ---------------------------------------------------------------------------------------------
def test_select_boundaries():
    out = select([0.0, 4.999, 5.0, 9.999, 10.0, 50.0], 5.0, 10.0)
    assert out.tolist() == ["3d", "3d", "2d", "2d", "spatial", "spatial"]
    assert select([1.0, 100.0], math.inf, math.inf).tolist() == ["3d", "3d"]
    with pytest.raises(ValueError):
        select([1.0, float("nan")], 1.0, 2.0)
    with pytest.raises(ValueError):
        select([1.0], 3.0, 2.0)


def test_evaluate_hand_computed():
    r = np.array([1.0, 3.0, 6.0, 12.0])
    e = evaluate([1, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1], r,
                 [10, 20, 30, 40], [5, 6, 7, 8], [1, 1, 1, 1], r_l=2.0, r_h=10.0)
    # video 0 -> 3d (correct, 10), 1 -> 2d (correct, 6), 2 -> 2d (correct, 7), 3 -> spatial (correct, 1)
    assert e.accuracy == 1.0 and e.rate == pytest.approx((10 + 6 + 7 + 1) / 4)
    assert (e.n, e.fraction_3d, e.fraction_2d, e.fraction_spatial) == (4, 0.25, 0.5, 0.25)
    with pytest.raises(ValueError, match="rate_2d"):
        evaluate([1], [1], [1], [1.0], [1.0], [1.0, 2.0], [1.0], 1.0, 2.0)
    with pytest.raises(ValueError, match="negative"):
        evaluate([1], [1], [1], [1.0], [-1.0], [1.0], [1.0], 1.0, 2.0)


# ---------------------------------------------------------------------------------------------
# input rates from frame bits
# ---------------------------------------------------------------------------------------------
def test_window_bits_loops_short_videos():
    cropped = [999, 10, 20, 30]  # frame 0's cropped size is never used
    assert window_bits(100, cropped, 3) == 100 + 10 + 20
    assert window_bits(100, cropped, 8) == 100 + (10 + 20 + 30) * 2 + 10
    assert window_bits(100, cropped, 1) == 100
    with pytest.raises(ValueError):
        window_bits(100, [5], 3)  # no P frames to send


def test_input_rates_known_values():
    full = np.array([64000.0] + [5000.0] * 199)
    cropped = np.array([9000.0] + [640.0] * 199)
    ir = input_rates(full, cropped)
    # over T3D / fps = 6.4 s: IDR 64000 bits -> 10 kbit/s; 159 P * 640 -> 15.9; 59 P * 640 -> 5.9
    assert ir.r_sp == pytest.approx(10.0)
    assert ir.r_3d == pytest.approx(10.0 + 15.9)
    assert ir.r_2d == pytest.approx(10.0 + 5.9)
    assert input_rates(64000.0, cropped) == ir  # a scalar is the IDR size
    assert motion_rate([0, 100, 100, 100], fps=25) == pytest.approx(300 / (4 / 25) / 1000)
    assert motion_rate([0, 100, 100, 100], frames=3) == pytest.approx(300 / (3 / 25) / 1000)
    for bad in ([1.0, -2.0], [1.0, float("nan")]):
        with pytest.raises(ValueError):
            input_rates(bad, [1.0, 2.0])
        with pytest.raises(ValueError):
            input_rates([100.0], bad)


def test_rates_from_encoder_frame_bits():
    dt = np.dtype([("type", "U1"), ("full", "f8"), ("cropped", "f8"), ("motion", "f8"), ("full_mvd", "f8")])
    n = 40
    fb = np.zeros(n, dt)
    fb["type"] = ["I"] + ["P"] * (n - 1)
    fb["full"] = [40000.0] + [3000.0] * (n - 1)
    fb["cropped"] = [40000.0] + [500.0] * (n - 1)
    fb["motion"] = [0.0] + [200.0] * (n - 1)
    v = rates_from_frame_bits(fb)
    assert v.r_motion == pytest.approx(200 * 39 / (40 / 25) / 1000)
    assert v.r_3d == pytest.approx((40000 + 500 * 159) / 6.4 / 1000)  # looped: 159 P frames
    assert v.r_2d == pytest.approx((40000 + 500 * 59) / 6.4 / 1000)
    fb["type"][0] = "P"
    with pytest.raises(ValueError, match="IDR"):
        rates_from_frame_bits(fb)
    with pytest.raises(ValueError, match="lacks"):
        rates_from_frame_bits(np.zeros(5, [("full", "f8")]))


# ---------------------------------------------------------------------------------------------
# the authors' files
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def paper_dir(shared_data):
    return shared_data / "paper_results"


@pytest.fixture(scope="module")
def paper(paper_dir):
    return load_paper(paper_dir, 40)


def test_video_key():
    for name in ("ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi", "rgb24_v_ApplyEyeMakeup_g01_c01.bin",
                 "v_ApplyEyeMakeup_g01_c01.avi", " v_ApplyEyeMakeup_g01_c01\n"):
        assert video_key(name) == "v_ApplyEyeMakeup_g01_c01"
    with pytest.raises(ValueError):
        video_key("readme.txt")


def test_paper_files_are_consistent(paper_dir):
    """The reading of the per-picture files is checked against the Stats totals, all videos."""
    tag = "Test01_QP40_MVSR16_MVRes8_A.dat"
    stats_rows = load_stats(paper_dir / f"Stats_Orig_NOTexture_{tag}")
    orig = load_frame_bits(paper_dir / f"RTotal_Orig_{tag}")
    crop = load_frame_bits(paper_dir / f"RTotal_NOTexture_{tag}")
    mot = load_frame_bits(paper_dir / f"RMotion_NOTexture_{tag}")
    assert len(stats_rows) == len(orig) == len(crop) == len(mot) == 3782
    for k, s in stats_rows.items():
        (fo, bo), (fc, bc), (fm, bm) = orig[k], crop[k], mot[k]
        assert s.frames == fo == fc == fm and bo.size == fo + 1
        assert bo.sum() == s.size_orig
        assert bm.sum() == s.size_motion_notexture
        assert bm[0] == 0  # value 0 is the IDR frame: no motion
        # Size_NoTexture counts the first I-frame at full size: cropped P pictures + full IDR.
        assert bc.sum() - bc[0] + bo[0] == s.size_notexture


def test_paper_alignment_by_name(paper, paper_dir):
    assert len(paper) == 3777
    five = ["v_IceDancing_g07_c06"] + [f"v_PommelHorse_g05_c0{i}" for i in range(1, 5)]
    assert paper.dropped == {f"correct_vec_{c}": five for c in ("3D_Fusion_A", "2D_Fusion_A", "Spatial_A")}
    # The spatial list is in another order than the rate files: read one row independently.
    names = (paper_dir / "filenames_Spatial_A_QP40").read_text().split()
    vec = (paper_dir / "correct_vec_Spatial_A_QP40").read_text().split()
    assert names[0] == "rgb24_v_BabyCrawling_g07_c03.bin"
    i = int(np.flatnonzero(paper.names == "v_BabyCrawling_g07_c03")[0])
    assert paper.correct["spatial"][i] == float(vec[0])
    # The split-1 test list has 3,783 videos; the authors' files miss v_BoxingPunchingBag_g05_c01.
    assert "v_BoxingPunchingBag_g05_c01" not in set(paper.names)
    with pytest.raises(ValueError, match="3782 values but filenames_3D_A_QP30 lists 3781"):
        load_correct(paper_dir, "3D_A", 30)
    with pytest.raises(FileNotFoundError, match="RTotal_Orig_Test01_QP30"):
        load_paper(paper_dir, 30)  # per-picture bits exist at QP 40 only
    with pytest.raises(FileNotFoundError):
        load_paper(paper_dir / "nope")


def test_paper_rate_fits_near_reported(paper_dir):
    """Paper, appendix: a3D=2.21, b3D=9.04, R²=93 %; a2D=0.83, b2D=4.27, R²=88 %; Gamma KL 0.034.

    On all 3,782 videos of the rate files we get a3D=2.140, b3D=9.530, R²=0.927 and
    a2D=0.815, b2D=4.413, R²=0.886: R² matches to the reported digits, the lines are close.
    """
    tag = "Test01_QP40_MVSR16_MVRes8_A.dat"
    orig = load_frame_bits(paper_dir / f"RTotal_Orig_{tag}")
    crop = load_frame_bits(paper_dir / f"RTotal_NOTexture_{tag}")
    mot = load_frame_bits(paper_dir / f"RMotion_NOTexture_{tag}")
    keys = sorted(orig)
    rm = np.array([motion_rate(mot[k][1], frames=mot[k][0]) for k in keys])
    ir = np.array([input_rates(orig[k][1], crop[k][1]) for k in keys])
    f3, f2 = fit_rate_model(rm, ir[:, 0]), fit_rate_model(rm, ir[:, 1])
    assert (f3.a, f3.b, f3.r2) == pytest.approx((2.140, 9.530, 0.927), abs=2e-3)
    assert (f2.a, f2.b, f2.r2) == pytest.approx((0.815, 4.413, 0.886), abs=2e-3)
    assert abs(f3.a - 2.21) < 0.1 and abs(f3.b - 9.04) < 0.6 and round(f3.r2, 2) == 0.93
    assert abs(f2.a - 0.83) < 0.03 and abs(f2.b - 4.27) < 0.2 and abs(f2.r2 - 0.88) < 0.01
    g = fit_rmotion(rm)
    assert (g.shape, g.rate) == pytest.approx((2.367, 0.1267), abs=1e-3)
    assert g.kl == pytest.approx(0.0194, abs=1e-3)
    assert g.kl < 0.034  # at least as close a fit as the paper reports (its binning is not stated)


@pytest.fixture(scope="module")
def experiment(paper_dir):
    from mvclass.mcnn.experiment import run_paper_experiment

    return run_paper_experiment(paper_dir, qp=40, seed=0)


def test_paper_split_and_training_fits(experiment):
    ex = experiment
    assert (len(ex.train), len(ex.test)) == (3022, 755)
    assert not set(ex.train.names) & set(ex.test.names)
    tr2, te2 = split_videos(3777, 0.2, 0)
    assert np.array_equal(ex.test.names, ex.data.names[te2])  # seeded: reproducible
    m = ex.model
    # Without the 5 outliers the fused lists drop (R_3D ~145 kbit/s at R_motion ~11), R² rises.
    assert (m.rate_3d.a, m.rate_3d.b, m.rate_3d.r2) == pytest.approx((2.145, 9.351, 0.944), abs=2e-3)
    assert (m.rate_2d.a, m.rate_2d.b, m.rate_2d.r2) == pytest.approx((0.817, 4.336, 0.903), abs=2e-3)
    assert (m.gamma.shape, m.gamma.rate, m.gamma.kl) == pytest.approx((2.349, 0.1257, 0.0207), abs=1e-3)
    assert (m.acc_3d, m.acc_2d, m.acc_sp, m.i_sp) == pytest.approx((0.8842, 0.8590, 0.8084, 2.455), abs=1e-3)


def test_paper_fig6_claims(experiment):
    """Fig. 6 claims, measured on the 755 held-out videos (seed 0).

    * ~half the 3D-CNN-F rate: measured 85.30 % at 24.43 kbit/s vs 3D-CNN-F 87.02 % at 49.20
      kbit/s, 1.72 points: reproduces "within ~2 points".
    * R_available = 3 kbit/s: measured 79.74 % vs the best (3D-CNN-F) 87.02 %, 7.28 points:
      "within ~7 points" holds only approximately (the spatial-only input alone, 2.53 kbit/s,
      scores 79.60 %). Over seeds 0-7 this gap spans 5.7-8.3 points.
    """
    ex = experiment
    base = ex.baselines()
    r3, a3 = base["3D-CNN-F"]
    assert (r3, a3) == pytest.approx((49.20, 0.8702), abs=1e-2)
    s, e = ex.solve_and_measure(r3 / 2)
    assert (e.accuracy, e.rate) == pytest.approx((0.8530, 24.43), abs=0.01)
    assert a3 - e.accuracy <= 0.02
    assert e.rate == pytest.approx(s.rate, rel=0.03)  # eq. 7's prediction holds on unseen videos
    s3, e3 = ex.solve_and_measure(3.0)
    best = max(a3, base["2D-CNN-F"][1])
    assert 100 * (best - e3.accuracy) == pytest.approx(7.28, abs=0.05)
    assert e3.accuracy > base["Spatial"][1]  # the MCNN beats spatial-only at a similar rate
    assert e3.rate == pytest.approx(3.0, rel=0.03)


def test_cli_mcnn(paper_dir, tmp_path, capsys, monkeypatch):
    from mvclass.cli import main

    assert main(["mcnn", "--budget", "25", "--data", str(paper_dir), "--plot", str(tmp_path / "f6.png")]) == 0
    out = capsys.readouterr().out
    m = re.search(r"R_L = ([\d.]+) kbit/s, R_H = ([\d.]+) kbit/s", out)
    assert m and 10 < float(m.group(1)) < float(m.group(2))
    assert "predicted: accuracy" in out and "measured : accuracy 85.30 %" in out
    assert (tmp_path / "f6.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    monkeypatch.setenv("MVCLASS_PAPER_RESULTS", str(tmp_path / "missing"))
    assert main(["mcnn", "--budget", "25"]) == 2
    assert "paper results directory not found" in capsys.readouterr().err
    assert main(["mcnn", "--budget", "1", "--data", str(paper_dir)]) == 2
    assert "minimum feasible rate" in capsys.readouterr().err


def test_plots_write_pngs(experiment, tmp_path):
    from mvclass.mcnn.plots import plot_correct_by_rmotion, plot_rate_accuracy, plot_rmotion_fit

    ex = experiment
    d = ex.data
    plot_rmotion_fit(d.r_motion, ex.model.gamma, path=tmp_path / "f7.png")
    plot_correct_by_rmotion(d.r_motion, {"3D-CNN-F": d.correct["3d"], "2D-CNN-F": d.correct["2d"],
                                         "Spatial": d.correct["spatial"]}, path=tmp_path / "f8.png")
    plot_rate_accuracy([3, 10, 25], [0.8, 0.84, 0.85], {"3D-CNN-F": (49.2, 0.87)}, path=tmp_path / "f6.png")
    for f in ("f6.png", "f7.png", "f8.png"):
        data = (tmp_path / f).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_rates_from_encode_cropped_result(boxing_clip):
    """The encoder's own result feeds the rate rules directly (12 real frames, QP 40)."""
    import mvclass

    r = mvclass.encode_cropped(boxing_clip, qp=40, max_frames=12)
    fb = r.frame_bits
    v = rates_from_frame_bits(fb, fps=r.fps)
    assert v.r_motion == pytest.approx(r.rates.motion, rel=1e-12)  # same definition as EncodeResult.rates
    assert v.r_sp == pytest.approx(fb["full"][0] / (160 / r.fps) / 1000)
    p = fb["cropped"][1:]
    assert v.r_3d == pytest.approx((fb["full"][0] + p.sum() * 14 + p[:5].sum()) / (160 / r.fps) / 1000)  # 159 = 11*14 + 5
    assert v.r_2d == pytest.approx((fb["full"][0] + p.sum() * 5 + p[:4].sum()) / (160 / r.fps) / 1000)  # 59 = 11*5 + 4
    assert v.r_sp < v.r_2d < v.r_3d
