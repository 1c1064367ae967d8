"""`mvclass mcnn`: MCNN thresholds for a rate budget, fitted and measured on the authors' results."""
from __future__ import annotations

import math


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "mcnn", help="MCNN rate-accuracy selector on the paper's per-video results",
        description="Fit the MCNN on a seeded 80%% of the authors' UCF-101 videos, solve for "
                    "{R_L, R_H} under the budget, and measure accuracy and rate on the other 20%%.")
    p.add_argument("--budget", type=float, required=True, help="R_available, kbit/s")
    p.add_argument("--qp", type=int, default=40, help="QP of the paper's files (default 40; frame bits exist for 40 only)")
    p.add_argument("--data", default=None,
                   help="paper_results directory (default: $MVCLASS_PAPER_RESULTS, else ../shared/data/paper_results)")
    p.add_argument("--seed", type=int, default=0, help="seed of the 80/20 video split (default 0)")
    p.add_argument("--plot", default=None, help="write the Fig. 6 rate-accuracy plot (PNG) here")
    p.set_defaults(func=run)


def _fmt(r: float) -> str:
    return "inf" if math.isinf(r) else f"{r:.3f}"


def run(args) -> int:
    import numpy as np

    from mvclass.mcnn.experiment import budgets_between, run_paper_experiment

    if not math.isfinite(args.budget) or args.budget <= 0:
        raise ValueError(f"--budget must be a positive number of kbit/s (got {args.budget})")
    exp = run_paper_experiment(args.data, args.qp, args.seed)
    m = exp.model
    s, e = exp.solve_and_measure(args.budget)
    print(f"videos: {len(exp.train)} train / {len(exp.test)} test (seed {args.seed}, QP {args.qp})")
    print(f"model: Gamma(k={m.gamma.shape:.4f}, rate={m.gamma.rate:.4f}) KL={m.gamma.kl:.4f}; "
          f"R_3D={m.rate_3d.a:.3f}*Rm+{m.rate_3d.b:.3f} (R2={m.rate_3d.r2:.3f}); "
          f"R_2D={m.rate_2d.a:.3f}*Rm+{m.rate_2d.b:.3f} (R2={m.rate_2d.r2:.3f}); I_SP={m.i_sp:.3f}")
    print(f"budget R_available = {args.budget:g} kbit/s")
    print(f"R_L = {_fmt(s.r_l)} kbit/s, R_H = {_fmt(s.r_h)} kbit/s")
    print(f"predicted: accuracy {100 * s.accuracy:.2f} %, rate {s.rate:.3f} kbit/s")
    print(f"measured : accuracy {100 * e.accuracy:.2f} %, rate {e.rate:.3f} kbit/s "
          f"(3D {100 * e.fraction_3d:.1f} %, 2D {100 * e.fraction_2d:.1f} %, spatial {100 * e.fraction_spatial:.1f} % of videos)")
    for name, (rate, acc) in exp.baselines().items():
        print(f"{name:9s}: accuracy {100 * acc:.2f} %, rate {rate:.3f} kbit/s")
    if args.plot:
        from mvclass.mcnn.plots import plot_rate_accuracy

        lo = m.min_rate() * 1.01
        curve = m.rate_accuracy_curve(budgets_between(lo, m.expected_rate(math.inf, math.inf) * 1.02, 16))
        meas = [exp.measure(rl, rh) for rl, rh in zip(curve.r_l, curve.r_h)]
        plot_rate_accuracy(np.array([x.rate for x in meas]), np.array([x.accuracy for x in meas]),
                           {k: v for k, v in exp.baselines().items() if k != "Spatial"},
                           predicted=(curve.rate, curve.accuracy), path=args.plot)
        print(f"wrote {args.plot}")
    return 0
