"""The paper's MCNN figures with matplotlib's Agg canvas (no display, no global pyplot state).

* :func:`plot_rate_accuracy` - Fig. 6: accuracy vs R_sent, 3D-CNN-F / 2D-CNN-F points, MCNN curve.
* :func:`plot_rmotion_fit` - Fig. 7: R_motion histogram and its Gamma fit.
* :func:`plot_correct_by_rmotion` - Fig. 8: correctly classified videos per classifier vs R_motion bins.

Each returns the matplotlib Figure and writes it to ``path`` when one is given.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["plot_rate_accuracy", "plot_rmotion_fit", "plot_correct_by_rmotion"]


def _figure(figsize=(6.0, 4.2)):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


def _save(fig, path):
    if path is not None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(p, dpi=120, bbox_inches="tight")
    return fig


def plot_rate_accuracy(curve_rate, curve_accuracy, points: dict, *, predicted=None, path=None, title=None):
    """Fig. 6. ``curve_rate`` / ``curve_accuracy``: the measured MCNN curve (kbit/s, fraction);
    ``points``: {label: (rate, accuracy)} single classifiers (e.g. "3D-CNN-F", "2D-CNN-F");
    ``predicted``: optional (rates, accuracies) of the model's prediction, drawn dashed."""
    fig, ax = _figure()
    r, a = np.asarray(curve_rate, float), np.asarray(curve_accuracy, float)
    order = np.argsort(r)
    ax.plot(r[order], 100 * a[order], "o-", ms=3, label="MCNN (measured)")
    if predicted is not None:
        pr, pa = (np.asarray(v, float) for v in predicted)
        o = np.argsort(pr)
        ax.plot(pr[o], 100 * pa[o], "--", color="gray", label="MCNN (model, eq. 6/7)")
    markers = iter("s^Dvx*")
    for label, (rate, acc) in points.items():
        ax.plot([rate], [100 * acc], next(markers, "o"), ms=8, label=label)
    ax.set_xlabel("R_sent (kbit/s)")
    ax.set_ylabel("accuracy (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(title or "Fig. 6: rate-accuracy of the MCNN")
    return _save(fig, path)


def plot_rmotion_fit(r_motion, gamma, *, bin_width: float = 1.0, path=None):
    """Fig. 7: density histogram of R_motion (kbit/s) with the fitted Gamma pdf."""
    fig, ax = _figure()
    x = np.asarray(r_motion, float)
    edges = np.arange(0.0, x.max() + bin_width, bin_width)
    ax.hist(x, bins=edges, density=True, alpha=0.6, label=f"R_motion ({x.size} videos)")
    t = np.linspace(0.0, edges[-1], 500)
    kl = getattr(gamma, "kl", float("nan"))
    ax.plot(t, gamma.pdf(t), "r-", lw=2,
            label=f"Gamma(k={gamma.shape:.3f}, λ={gamma.rate:.4f})" + (f", KL={kl:.3f}" if np.isfinite(kl) else ""))
    ax.set_xlabel("R_motion (kbit/s)")
    ax.set_ylabel("density")
    ax.legend()
    ax.set_title("Fig. 7: R_motion and its Gamma fit")
    return _save(fig, path)


def plot_correct_by_rmotion(r_motion, correct: dict, *, bins=20, path=None):
    """Fig. 8: number of correctly classified videos per classifier in R_motion bins.

    ``correct``: {label: 0/1 array aligned with ``r_motion``}; ``bins``: count or edges."""
    fig, ax = _figure((7.0, 4.2))
    x = np.asarray(r_motion, float)
    edges = np.histogram_bin_edges(x, bins=bins)
    width = np.diff(edges)
    n = len(correct)
    for j, (label, c) in enumerate(correct.items()):
        c = np.asarray(c, float)
        counts, _ = np.histogram(x, bins=edges, weights=c)
        ax.bar(edges[:-1] + width * j / n, counts, width=width / n, align="edge", label=label)
    total, _ = np.histogram(x, bins=edges)
    ax.stairs(total, edges, color="k", lw=1, label="videos in bin")
    ax.set_xlabel("R_motion (kbit/s)")
    ax.set_ylabel("videos")
    ax.legend()
    ax.set_title("Fig. 8: correct videos per classifier vs R_motion")
    return _save(fig, path)
