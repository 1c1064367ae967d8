"""Rate models and the Multi-CNN (MCNN) selector of Jubran et al. (TCSVT 2019), Sec. V.

Per video the selector looks at the motion bitrate R_motion (kbit/s) and sends

* the 3D-CNN input (IDR frame + T3D cropped frames) when ``R_motion < R_L``,
* the 2D-CNN input (IDR frame + T2D cropped frames) when ``R_L <= R_motion < R_H``,
* only the IDR frame, to the spatial CNN, when ``R_motion >= R_H``.

R_motion is modelled as Gamma(shape k, rate λ) (``fit_rmotion``); the rate of each
temporal input as linear in R_motion, ``R = a R_motion + b`` (paper eq. 3, ``fit_rate_model``);
the spatial input costs a constant ``I_SP``. With scalar accuracies A_3D, A_2D, A_SP:

* eq. 6  E[A](R_L, R_H) = A_3D F(R_L) + A_2D (F(R_H) - F(R_L)) + A_SP (1 - F(R_H))
* eq. 7  E[R](R_L, R_H) = a3 M(R_L) + b3 F(R_L) + a2 (M(R_H) - M(R_L)) + b2 (F(R_H) - F(R_L))
  + I_SP (1 - F(R_H)),

where F is the Gamma CDF and M(x) = E[R; R < x] = (k / λ) F_{k+1}(x), F_{k+1} being the CDF
of the Gamma with shape k + 1 (the closed form of ∫_0^x r p(r) dr).

All rates are kbit/s. Thresholds may be ``inf`` (``R_H = inf``: the spatial CNN is never used).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from mvclass.mcnn._checks import vector as _vector

__all__ = [
    "GammaModel",
    "LinearRate",
    "MCNN",
    "Solution",
    "Evaluation",
    "RateAccuracyCurve",
    "fit_rmotion",
    "fit_rate_model",
    "select",
    "evaluate",
]

CLASSIFIERS = ("3d", "2d", "spatial")


# ---------------------------------------------------------------------------------------------
# input checking
# ---------------------------------------------------------------------------------------------
def _threshold(x, name: str) -> np.ndarray:
    """Thresholds: arrays (broadcastable) of non-negative values, +inf allowed, NaN not."""
    a = np.asarray(x, dtype=float)
    if np.isnan(a).any():
        raise ValueError(f"{name} is NaN")
    if (a < 0).any():
        raise ValueError(f"{name} must be >= 0 (got {a.min():g})")
    return a


def _thresholds(r_l, r_h) -> tuple[np.ndarray, np.ndarray]:
    rl, rh = _threshold(r_l, "r_l"), _threshold(r_h, "r_h")
    if (rl > rh).any():
        raise ValueError("r_l must be <= r_h")
    return rl, rh


def _scalar(x, name: str, *, lo: float = 0.0, hi: float = math.inf) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number (got {x!r})") from None
    if not math.isfinite(v) or not lo <= v <= hi:
        raise ValueError(f"{name} must be finite and in [{lo:g}, {hi:g}] (got {v!r})")
    return v


# ---------------------------------------------------------------------------------------------
# R_motion distribution
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GammaModel:
    """Gamma distribution of R_motion (location 0): density λ^k r^(k-1) e^(-λr) / Γ(k).

    ``shape`` is k, ``rate`` is λ (1/kbit/s, i.e. 1/scale). ``kl`` is the KL divergence of the
    fit from the empirical histogram when the model came from :func:`fit_rmotion` (NaN otherwise).
    """

    shape: float
    rate: float
    kl: float = field(default=float("nan"), compare=False)

    def __post_init__(self):
        _scalar(self.shape, "shape", lo=1e-12)
        _scalar(self.rate, "rate", lo=1e-12)

    @property
    def mean(self) -> float:
        return self.shape / self.rate

    def pdf(self, r):
        from scipy import stats

        return stats.gamma.pdf(r, self.shape, scale=1.0 / self.rate)

    def cdf(self, r):
        """F(r) = P(R_motion < r); F(inf) = 1."""
        from scipy import special

        return special.gammainc(self.shape, self.rate * np.asarray(r, dtype=float))

    def ppf(self, q):
        """Inverse CDF; ppf(1) = inf."""
        from scipy import special

        return special.gammaincinv(self.shape, np.asarray(q, dtype=float)) / self.rate

    def partial_mean(self, r):
        """M(r) = E[R; R < r] = ∫_0^r x p(x) dx = (k/λ) F_{k+1}(r) (Gamma CDF of shape k+1)."""
        from scipy import special

        return self.mean * special.gammainc(self.shape + 1.0, self.rate * np.asarray(r, dtype=float))

    def sample(self, n: int, seed=None) -> np.ndarray:
        return np.random.default_rng(seed).gamma(self.shape, 1.0 / self.rate, size=int(n))

    def kl_divergence(self, r_motion, bin_width: float = 1.0) -> float:
        """KL(P_hist || Q_fit) in nats over histogram bins of ``bin_width`` kbit/s from 0.

        The paper reports 0.034 without naming its binning; 1 kbit/s bins are our choice.
        Q is the Gamma probability of each bin, renormalised over the histogram's range.
        """
        x = _vector(r_motion, "r_motion")
        bw = _scalar(bin_width, "bin_width", lo=1e-12)
        edges = np.arange(0.0, x.max() + bw, bw)
        if edges[-1] <= x.max():
            edges = np.append(edges, edges[-1] + bw)
        counts, _ = np.histogram(x, bins=edges)
        p = counts / counts.sum()
        q = np.diff(self.cdf(edges))
        q = q / q.sum()
        m = p > 0
        if (q[m] <= 0).any():  # data where the fit has no mass at all
            return math.inf
        return float(np.sum(p[m] * np.log(p[m] / q[m])))


def fit_rmotion(r_motion, *, bin_width: float = 1.0) -> GammaModel:
    """Maximum-likelihood Gamma fit (location 0) of per-video R_motion (kbit/s, all > 0).

    Solves the MLE equation log k - ψ(k) = log(mean r) - mean(log r) for the shape k, then
    λ = k / mean r. The returned model carries ``kl``, its KL divergence from the empirical
    histogram (see :meth:`GammaModel.kl_divergence`).
    """
    from scipy import optimize, special

    x = _vector(r_motion, "r_motion", allow_zero=False)
    if x.size < 2:
        raise ValueError("fit_rmotion needs at least 2 values")
    s = math.log(x.mean()) - float(np.mean(np.log(x)))
    if s <= 0:
        raise ValueError("r_motion has no spread (all values equal): the Gamma shape is unbounded")

    def g(k):
        return math.log(k) - special.digamma(k) - s

    # g decreases from +inf (k -> 0) to 0 (k -> inf): bracket the root and solve.
    lo, hi = 1e-6, 1.0
    while g(hi) > 0:
        hi *= 2.0
        if hi > 1e12:
            raise ValueError("Gamma shape diverges (r_motion nearly constant)")
    k = optimize.brentq(g, lo, hi, xtol=1e-14, rtol=1e-12)
    k, lam = float(k), float(k / x.mean())
    return GammaModel(k, lam, kl=GammaModel(k, lam).kl_divergence(x, bin_width))


# ---------------------------------------------------------------------------------------------
# rate of each classifier's input vs R_motion
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LinearRate:
    """R_sent = a * R_motion + b (paper eq. 3); ``r2`` is the coefficient of determination."""

    a: float
    b: float
    r2: float = field(default=float("nan"), compare=False)

    def __post_init__(self):
        _scalar(self.a, "a", lo=-math.inf)
        _scalar(self.b, "b", lo=-math.inf)

    def __call__(self, r_motion):
        return self.a * np.asarray(r_motion, dtype=float) + self.b


def fit_rate_model(r_motion, r_sent) -> LinearRate:
    """Ordinary least-squares line R_sent = a R_motion + b over videos, with its R²."""
    x = _vector(r_motion, "r_motion")
    y = _vector(r_sent, "r_sent")
    if x.size != y.size:
        raise ValueError(f"r_motion and r_sent differ in length ({x.size} vs {y.size})")
    if x.size < 2 or np.ptp(x) == 0:
        raise ValueError("fit_rate_model needs at least 2 distinct r_motion values")
    xm, ym = x.mean(), y.mean()
    a = float(np.sum((x - xm) * (y - ym)) / np.sum((x - xm) ** 2))
    b = float(ym - a * xm)
    ss_tot = float(np.sum((y - ym) ** 2))
    r2 = 1.0 - float(np.sum((y - (a * x + b)) ** 2)) / ss_tot if ss_tot > 0 else 1.0
    return LinearRate(a, b, r2)


# ---------------------------------------------------------------------------------------------
# the selector
# ---------------------------------------------------------------------------------------------
class Solution(NamedTuple):
    """Optimal thresholds for a budget; unpacks as ``(r_l, r_h, accuracy, rate)``."""

    r_l: float
    r_h: float
    accuracy: float  # predicted, eq. 6 (fraction in [0, 1])
    rate: float  # predicted, eq. 7 (kbit/s)


class Evaluation(NamedTuple):
    """Measured result of a selection on real videos."""

    accuracy: float  # fraction of videos classified correctly by their selected classifier
    rate: float  # mean kbit/s of the inputs actually sent
    n: int
    fraction_3d: float
    fraction_2d: float
    fraction_spatial: float


@dataclass(frozen=True)
class RateAccuracyCurve:
    budget: np.ndarray
    r_l: np.ndarray
    r_h: np.ndarray
    accuracy: np.ndarray
    rate: np.ndarray

    def __len__(self):
        return len(self.budget)


_U_MAX = 1.0 - 1e-9  # the grid's last quantile
_WA = 100.0  # objective in percentage points: at fractions, trust-constr's barrier swamps it
_U_CAP = 1.0 - 1e-7  # the solver's threshold cap; a threshold there is reported as inf


@dataclass(frozen=True)
class MCNN:
    """The Multi-CNN selector: R_motion model, input rate models and classifier accuracies.

    ``gamma``: :class:`GammaModel` of R_motion; ``rate_3d`` / ``rate_2d``: :class:`LinearRate`
    of the 3D / 2D inputs; ``i_sp``: mean rate of the spatial input (IDR frame only), kbit/s;
    ``acc_3d`` / ``acc_2d`` / ``acc_sp``: accuracies (fractions) of the three classifiers.
    """

    gamma: GammaModel
    rate_3d: LinearRate
    rate_2d: LinearRate
    i_sp: float
    acc_3d: float
    acc_2d: float
    acc_sp: float

    def __post_init__(self):
        if not isinstance(self.gamma, GammaModel):
            raise ValueError("gamma must be a GammaModel")
        for n in ("rate_3d", "rate_2d"):
            if not isinstance(getattr(self, n), LinearRate):
                raise ValueError(f"{n} must be a LinearRate")
        _scalar(self.i_sp, "i_sp")
        for n in ("acc_3d", "acc_2d", "acc_sp"):
            _scalar(getattr(self, n), n, hi=1.0)

    @classmethod
    def fit(cls, r_motion, r_3d, r_2d, r_sp, correct_3d, correct_2d, correct_sp) -> "MCNN":
        """Fit every model on training videos (per-video arrays, aligned): Gamma of R_motion,
        linear rate models of the 3D and 2D inputs, I_SP = mean R_SP, accuracies = mean of
        the 0/1 correctness vectors."""
        rm = _vector(r_motion, "r_motion")
        n = rm.size
        arrays = {}
        for name, v in (("r_3d", r_3d), ("r_2d", r_2d), ("r_sp", r_sp),
                        ("correct_3d", correct_3d), ("correct_2d", correct_2d), ("correct_sp", correct_sp)):
            arrays[name] = _vector(v, name)
            if arrays[name].size != n:
                raise ValueError(f"{name} has {arrays[name].size} values, r_motion has {n}")
        return cls(
            gamma=fit_rmotion(rm),
            rate_3d=fit_rate_model(rm, arrays["r_3d"]),
            rate_2d=fit_rate_model(rm, arrays["r_2d"]),
            i_sp=float(arrays["r_sp"].mean()),
            acc_3d=float(arrays["correct_3d"].mean()),
            acc_2d=float(arrays["correct_2d"].mean()),
            acc_sp=float(arrays["correct_sp"].mean()),
        )

    # -- eq. 6 and eq. 7 -------------------------------------------------------------------
    def expected_accuracy(self, r_l, r_h):
        """Eq. 6: predicted accuracy for thresholds (arrays broadcast; 0 <= r_l <= r_h)."""
        rl, rh = _thresholds(r_l, r_h)
        return self._acc_u(self.gamma.cdf(rl), self.gamma.cdf(rh))

    def expected_rate(self, r_l, r_h):
        """Eq. 7: predicted mean rate (kbit/s) for thresholds, closed form via F_k and F_{k+1}."""
        rl, rh = _thresholds(r_l, r_h)
        return self._rate_r(rl, rh)

    def _rate_r(self, rl, rh):
        g = self.gamma
        fl, fh = g.cdf(rl), g.cdf(rh)
        ml, mh = g.partial_mean(rl), g.partial_mean(rh)
        return (self.rate_3d.a * ml + self.rate_3d.b * fl
                + self.rate_2d.a * (mh - ml) + self.rate_2d.b * (fh - fl)
                + self.i_sp * (1.0 - fh))

    def _acc_u(self, ul, uh):
        return self.acc_3d * ul + self.acc_2d * (uh - ul) + self.acc_sp * (1.0 - uh)

    def _rate_u(self, ul, uh):
        g = self.gamma
        return self._rate_r(g.ppf(ul), g.ppf(uh))

    @property
    def spatial_rate(self) -> float:
        """E[R] when every video goes to the spatial CNN (R_L = R_H = 0)."""
        return float(self.expected_rate(0.0, 0.0))

    def _grid(self, n: int = 61):
        u = np.linspace(0.0, _U_MAX, n)
        ul, uh = np.meshgrid(u, u, indexing="ij")
        keep = ul <= uh
        ul, uh = ul[keep], uh[keep]
        return ul, uh, self._acc_u(ul, uh), self._rate_u(ul, uh)

    def min_rate(self) -> float:
        """Smallest achievable E[R]: the spatial-only rate, unless a temporal input is cheaper for
        some videos (then the minimum over the start grid of :meth:`solve`)."""
        _, _, _, rate = self._grid()
        return float(min(rate.min(), self.spatial_rate))

    # -- optimisation ----------------------------------------------------------------------
    def solve(self, r_available) -> Solution:
        """Maximise eq. 6 subject to eq. 7 <= ``r_available`` and 0 <= R_L <= R_H.

        The best feasible point of a grid (121 x 121 thresholds at Gamma quantiles) starts
        SciPy's trust-region constrained method (``minimize(method="trust-constr")``) with exact
        gradients and Hessians, accuracy in percentage points and thresholds scaled by the mean
        R_motion (so its interior-point barrier does not swamp the objective), capped at the
        1 - 1e-7 quantile (above it eq. 6 and eq. 7 are flat, where any local method stalls).
        The result is pulled back onto the feasible set if the solver ends marginally outside
        it and is never returned worse than its start. A threshold at the cap (no video above
        it, up to 1e-7) is reported as ``inf``. Raises ValueError for a budget below the
        minimum feasible rate, naming that rate.
        """
        import warnings

        from scipy.optimize import Bounds, LinearConstraint, NonlinearConstraint, minimize

        budget = _scalar(r_available, "r_available")
        g = self.gamma
        ul, uh, acc, rate = self._grid(121)
        feasible = rate <= budget
        if not feasible.any():
            raise ValueError(
                f"budget {budget:.4g} kbit/s is infeasible: the minimum feasible rate is "
                f"{self.min_rate():.4g} kbit/s (spatial-only rate {self.spatial_rate:.4g} kbit/s)")
        idx = np.flatnonzero(feasible)
        best = idx[np.argmax(acc[idx])]
        scale = g.mean
        r_cap = float(g.ppf(_U_CAP))
        x0 = np.minimum([g.ppf(ul[best]), g.ppf(uh[best])], r_cap) / scale

        da = np.array([self.acc_3d - self.acc_2d, self.acc_2d - self.acc_sp])
        c3, c2 = self.rate_3d, self.rate_2d

        def pdf(r):
            return self._pdf(r), self._dpdf(r)

        def obj(x):
            return -_WA * float(self._acc_r(*np.maximum(x * scale, 0.0)))

        def obj_jac(x):
            r = np.maximum(x * scale, 0.0)
            return -_WA * scale * da * np.array([self._pdf(r[0]), self._pdf(r[1])])

        def obj_hess(x):
            r = np.maximum(x * scale, 0.0)
            return -_WA * scale**2 * np.diag(da * np.array([self._dpdf(r[0]), self._dpdf(r[1])]))

        def con(x):
            return float(self._rate_r(*np.maximum(x * scale, 0.0)))

        def con_jac(x):
            r = np.maximum(x * scale, 0.0)
            return scale * np.array([[(c3(r[0]) - c2(r[0])) * self._pdf(r[0]), (c2(r[1]) - self.i_sp) * self._pdf(r[1])]])

        def con_hess(x, v):
            r = np.maximum(x * scale, 0.0)
            (pl, dl), (ph, dh) = pdf(r[0]), pdf(r[1])
            return v[0] * scale**2 * np.diag([(c3.a - c2.a) * pl + (c3(r[0]) - c2(r[0])) * dl,
                                              c2.a * ph + (c2(r[1]) - self.i_sp) * dh])

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # trust-constr's delta_grad notes; the result is checked below
            res = minimize(obj, x0, jac=obj_jac, hess=obj_hess, method="trust-constr",
                           bounds=Bounds([0.0, 0.0], [r_cap / scale] * 2),
                           constraints=[LinearConstraint(np.array([[-1.0, 1.0]]), 0.0, np.inf),
                                        NonlinearConstraint(con, -np.inf, budget, jac=con_jac, hess=con_hess)],
                           options={"xtol": 1e-12, "gtol": 1e-12, "maxiter": 400, "initial_tr_radius": 0.05})
        x = np.clip(res.x, 0.0, r_cap / scale)
        x[1] = max(x[1], x[0])
        if con(x) > budget:
            x = self._pull_back(x0, x, con, budget)
        if obj(x) > obj(x0):
            x = x0
        r_l, r_h = (math.inf if v * scale >= r_cap * (1 - 1e-12) else float(v * scale) for v in x)
        return Solution(r_l, r_h, -obj(x) / _WA, con(x))

    def _pdf(self, r: float) -> float:
        g = self.gamma
        if r <= 0.0:
            return float(g.pdf(0.0))
        return math.exp((g.shape - 1.0) * math.log(r) - g.rate * r + g.shape * math.log(g.rate) - math.lgamma(g.shape))

    def _dpdf(self, r: float) -> float:
        g = self.gamma
        r = max(r, 1e-12)
        return self._pdf(r) * ((g.shape - 1.0) / r - g.rate)

    def _acc_r(self, rl, rh):
        return self._acc_u(self.gamma.cdf(rl), self.gamma.cdf(rh))

    @staticmethod
    def _pull_back(inside, outside, rate, budget):
        """Bisect on the segment from a feasible point to an infeasible one for the boundary."""
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if rate(inside + mid * (outside - inside)) <= budget:
                lo = mid
            else:
                hi = mid
        return inside + lo * (outside - inside)

    def rate_accuracy_curve(self, budgets) -> RateAccuracyCurve:
        """:meth:`solve` for each budget (kbit/s); any infeasible budget raises ValueError."""
        b = _vector(np.atleast_1d(budgets), "budgets")
        sols = [self.solve(x) for x in b]
        return RateAccuracyCurve(
            budget=b,
            r_l=np.array([s.r_l for s in sols]),
            r_h=np.array([s.r_h for s in sols]),
            accuracy=np.array([s.accuracy for s in sols]),
            rate=np.array([s.rate for s in sols]),
        )

    def select(self, r_motion, r_l, r_h) -> np.ndarray:
        """Same as the module-level :func:`select`."""
        return select(r_motion, r_l, r_h)


def select(r_motion, r_l, r_h) -> np.ndarray:
    """Classifier per video: "3d" if R_motion < R_L, "2d" if R_L <= R_motion < R_H, else "spatial"."""
    r = _vector(np.atleast_1d(r_motion), "r_motion")
    rl, rh = _thresholds(r_l, r_h)
    if rl.ndim or rh.ndim:
        raise ValueError("r_l and r_h must be scalars")
    out = np.full(r.shape, "spatial", dtype="<U7")
    out[r < rh] = "2d"
    out[r < rl] = "3d"
    return out


def evaluate(correct_3d, correct_2d, correct_sp, r_motion, rate_3d, rate_2d, rate_sp, r_l, r_h) -> Evaluation:
    """Measured accuracy and mean sent rate of the selection (r_l, r_h) on real videos.

    All arrays are per video and aligned: 0/1 correctness of each classifier, R_motion, and
    the actual rate (kbit/s) of each classifier's input for that video.
    """
    choice = select(r_motion, r_l, r_h)
    n = choice.size
    cols = {}
    for name, v in (("correct_3d", correct_3d), ("correct_2d", correct_2d), ("correct_sp", correct_sp),
                    ("rate_3d", rate_3d), ("rate_2d", rate_2d), ("rate_sp", rate_sp)):
        cols[name] = _vector(np.atleast_1d(v), name)
        if cols[name].size != n:
            raise ValueError(f"{name} has {cols[name].size} values, r_motion has {n}")
    m3, m2 = choice == "3d", choice == "2d"
    ms = ~(m3 | m2)
    correct = np.where(m3, cols["correct_3d"], np.where(m2, cols["correct_2d"], cols["correct_sp"]))
    rate = np.where(m3, cols["rate_3d"], np.where(m2, cols["rate_2d"], cols["rate_sp"]))
    return Evaluation(float(correct.mean()), float(rate.mean()), int(n),
                      float(m3.mean()), float(m2.mean()), float(ms.mean()))
