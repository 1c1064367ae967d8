"""Reproduce the paper's MCNN results (Jubran et al., TCSVT 2019, Sec. V, Figs. 6-8) from the
authors' per-video files, and write the figures.

    PYTHONPATH=python python examples/mcnn_paper.py [--data ../shared/data/paper_results]
                                                    [--seed 0] [--out mcnn_figures]

Fits the Gamma model of R_motion and the linear rate models (on all 3,782 videos of the rate
files, as the paper's R² values suggest, and on the 80 % training split), solves for {R_L, R_H}
over a range of budgets with the model fitted on the training videos, and measures accuracy
and rate on the 20 % held-out videos.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from mvclass.mcnn import fit_rate_model, fit_rmotion, input_rates, motion_rate
from mvclass.mcnn.experiment import budgets_between, run_paper_experiment
from mvclass.mcnn.paper import default_data_dir, load_correct, load_frame_bits
from mvclass.mcnn.plots import plot_correct_by_rmotion, plot_rate_accuracy, plot_rmotion_fit

PAPER = {"a3D": 2.21, "b3D": 9.04, "R2_3D": 0.93, "a2D": 0.83, "b2D": 4.27, "R2_2D": 0.88, "KL": 0.034}


def all_video_fits(data_dir: Path, qp: int):
    tag = f"Test01_QP{qp}_MVSR16_MVRes8_A.dat"
    orig = load_frame_bits(data_dir / f"RTotal_Orig_{tag}")
    crop = load_frame_bits(data_dir / f"RTotal_NOTexture_{tag}")
    mot = load_frame_bits(data_dir / f"RMotion_NOTexture_{tag}")
    keys = sorted(set(orig) & set(crop) & set(mot))
    rm = np.array([motion_rate(mot[k][1], frames=mot[k][0]) for k in keys])
    ir = np.array([input_rates(orig[k][1], crop[k][1]) for k in keys])
    return len(keys), fit_rmotion(rm), fit_rate_model(rm, ir[:, 0]), fit_rate_model(rm, ir[:, 1])


def fmt(r: float) -> str:
    return "inf" if math.isinf(r) else f"{r:.2f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--qp", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("mcnn_figures"))
    args = ap.parse_args()
    data_dir = args.data or default_data_dir()

    ex = run_paper_experiment(data_dir, args.qp, args.seed)
    m = ex.model
    print(f"== data ({data_dir})")
    print(f"videos aligned by name: {len(ex.data)}; left out: "
          + "; ".join(f"{src} lacks {len(v)} ({', '.join(v)})" for src, v in ex.data.dropped.items()))
    try:
        load_correct(data_dir, "3D_A", 30)
    except ValueError as e:
        print(f"unusable pair (not needed here): {e}")

    n_all, g_all, f3_all, f2_all = all_video_fits(data_dir, args.qp)
    print("\n== fits (paper's appendix values for comparison)")
    print(f"{'':28s} {'a3D':>6s} {'b3D':>6s} {'R2_3D':>6s} {'a2D':>6s} {'b2D':>6s} {'R2_2D':>6s} {'shape':>6s} {'rate':>7s} {'KL':>6s}")
    print(f"{'paper':28s} {PAPER['a3D']:6.2f} {PAPER['b3D']:6.2f} {PAPER['R2_3D']:6.2f} {PAPER['a2D']:6.2f} "
          f"{PAPER['b2D']:6.2f} {PAPER['R2_2D']:6.2f} {'-':>6s} {'-':>7s} {PAPER['KL']:6.3f}")
    for label, g, f3, f2 in ((f"all {n_all} rate-file videos", g_all, f3_all, f2_all),
                             (f"train split ({len(ex.train)})", m.gamma, m.rate_3d, m.rate_2d)):
        print(f"{label:28s} {f3.a:6.3f} {f3.b:6.3f} {f3.r2:6.3f} {f2.a:6.3f} {f2.b:6.3f} {f2.r2:6.3f} "
              f"{g.shape:6.3f} {g.rate:7.4f} {g.kl:6.4f}")
    print(f"train: I_SP = {m.i_sp:.3f} kbit/s, A_3D = {100 * m.acc_3d:.2f} %, A_2D = {100 * m.acc_2d:.2f} %, "
          f"A_SP = {100 * m.acc_sp:.2f} %")

    base = ex.baselines()
    print(f"\n== single classifiers on the {len(ex.test)} test videos (seed {args.seed})")
    for name, (rate, acc) in base.items():
        print(f"{name:9s} {100 * acc:6.2f} %  at {rate:6.2f} kbit/s")

    r3, a3 = base["3D-CNN-F"]
    budgets = np.unique(np.concatenate([budgets_between(m.min_rate() * 1.01, m.expected_rate(math.inf, math.inf), 18),
                                        [3.0, r3 / 2]]))
    curve = m.rate_accuracy_curve(budgets)
    meas = [ex.measure(rl, rh) for rl, rh in zip(curve.r_l, curve.r_h)]
    print("\n== MCNN rate-accuracy curve (model on train, measured on test)")
    print(f"{'budget':>7s} {'R_L':>7s} {'R_H':>7s} {'pred acc':>8s} {'pred R':>7s} {'meas acc':>8s} {'meas R':>7s}"
          f" {'3D%':>5s} {'2D%':>5s} {'SP%':>5s}")
    for b, rl, rh, pa, pr, e in zip(curve.budget, curve.r_l, curve.r_h, curve.accuracy, curve.rate, meas):
        print(f"{b:7.2f} {fmt(rl):>7s} {fmt(rh):>7s} {100 * pa:8.2f} {pr:7.2f} {100 * e.accuracy:8.2f} {e.rate:7.2f}"
              f" {100 * e.fraction_3d:5.1f} {100 * e.fraction_2d:5.1f} {100 * e.fraction_spatial:5.1f}")

    print("\n== Fig. 6 claims")
    _, e_half = ex.solve_and_measure(r3 / 2)
    print(f"half the 3D-CNN-F rate ({r3 / 2:.2f} kbit/s): measured {100 * e_half.accuracy:.2f} % at "
          f"{e_half.rate:.2f} kbit/s vs 3D-CNN-F {100 * a3:.2f} %: {100 * (a3 - e_half.accuracy):.2f} points "
          f"(paper: within ~2)")
    _, e3 = ex.solve_and_measure(3.0)
    best = max(a3, base["2D-CNN-F"][1])
    print(f"R_available = 3 kbit/s: measured {100 * e3.accuracy:.2f} % at {e3.rate:.2f} kbit/s vs best "
          f"{100 * best:.2f} %: {100 * (best - e3.accuracy):.2f} points (paper: within ~7)")

    args.out.mkdir(parents=True, exist_ok=True)
    plot_rate_accuracy([e.rate for e in meas], [e.accuracy for e in meas],
                       {"3D-CNN-F": base["3D-CNN-F"], "2D-CNN-F": base["2D-CNN-F"], "Spatial": base["Spatial"]},
                       predicted=(curve.rate, curve.accuracy), path=args.out / "fig6_rate_accuracy.png")
    plot_rmotion_fit(ex.data.r_motion, fit_rmotion(ex.data.r_motion), path=args.out / "fig7_rmotion_gamma.png")
    d = ex.data
    plot_correct_by_rmotion(d.r_motion, {"3D-CNN-F": d.correct["3d"], "2D-CNN-F": d.correct["2d"],
                                         "Spatial": d.correct["spatial"]},
                            bins=np.arange(0.0, 80.0 + 5.0, 5.0), path=args.out / "fig8_correct_by_rmotion.png")
    print(f"\nwrote {args.out}/fig6_rate_accuracy.png, fig7_rmotion_gamma.png, fig8_correct_by_rmotion.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
