"""The paper's MCNN experiment on the authors' per-video results: fit on a seeded random 80 %
of the videos, measure on the other 20 % (used by the CLI, the example and the tests)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import MCNN, Evaluation, Solution, evaluate
from .paper import PaperData, load_paper, split_videos

__all__ = ["PaperExperiment", "run_paper_experiment", "budgets_between"]


@dataclass
class PaperExperiment:
    data: PaperData
    train: PaperData
    test: PaperData
    model: MCNN
    seed: int

    def measure(self, r_l: float, r_h: float) -> Evaluation:
        """Measured accuracy and mean sent rate of thresholds (r_l, r_h) on the test videos."""
        t = self.test
        return evaluate(t.correct["3d"], t.correct["2d"], t.correct["spatial"], t.r_motion,
                        t.r_3d, t.r_2d, t.r_sp, r_l, r_h)

    def solve_and_measure(self, budget: float) -> tuple[Solution, Evaluation]:
        s = self.model.solve(budget)
        return s, self.measure(s.r_l, s.r_h)

    def baselines(self) -> dict[str, tuple[float, float]]:
        """{name: (mean rate kbit/s, accuracy)} of each single classifier on the test videos."""
        t = self.test
        return {"3D-CNN-F": (float(t.r_3d.mean()), float(t.correct["3d"].mean())),
                "2D-CNN-F": (float(t.r_2d.mean()), float(t.correct["2d"].mean())),
                "Spatial": (float(t.r_sp.mean()), float(t.correct["spatial"].mean()))}


def run_paper_experiment(data_dir=None, qp: int = 40, seed: int = 0, test_fraction: float = 0.2) -> PaperExperiment:
    """Load the authors' files, split the videos (seeded) and fit the MCNN on the training part."""
    data = load_paper(data_dir, qp)
    tr, te = split_videos(len(data), test_fraction, seed)
    train, test = data.subset(tr), data.subset(te)
    model = MCNN.fit(train.r_motion, train.r_3d, train.r_2d, train.r_sp,
                     train.correct["3d"], train.correct["2d"], train.correct["spatial"])
    return PaperExperiment(data, train, test, model, int(seed))


def budgets_between(lo: float, hi: float, n: int) -> np.ndarray:
    """Budgets spaced evenly in log-rate (the curve bends most at low rates)."""
    return np.geomspace(lo, hi, n)
