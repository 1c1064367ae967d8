"""Input checks shared by the MCNN modules: bad numbers become ValueErrors naming the input."""
from __future__ import annotations

import numpy as np


def vector(x, name: str, *, min_len: int = 1, allow_zero: bool = True, allow_inf: bool = False) -> np.ndarray:
    """A 1-D float array of at least ``min_len`` finite (or +inf if allowed), non-negative values,
    else ValueError naming ``name``."""
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be numeric: {e}") from None
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (got shape {a.shape})")
    if a.size == 0:
        raise ValueError(f"{name} is empty")
    if a.size < min_len:
        raise ValueError(f"{name} has {a.size} value(s); at least {min_len} needed")
    if np.isnan(a).any():
        raise ValueError(f"{name} contains {int(np.isnan(a).sum())} NaN value(s)")
    if not allow_inf and not np.isfinite(a).all():
        raise ValueError(f"{name} contains infinite value(s)")
    if (a < 0).any():
        raise ValueError(f"{name} contains negative value(s) (min {a.min():g})")
    if not allow_zero and (a == 0).any():
        raise ValueError(f"{name} contains {int((a == 0).sum())} zero value(s); values must be > 0")
    return a
