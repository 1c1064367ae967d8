"""From the encoder's 4x4-block motion field to the paper's 8x8 MV grid.

Rules (the paper's grid, made explicit):
  * a cell takes its 8x8 block's MV; an 8x8 block split into smaller partitions takes the
    rounded mean of its partitions' MVs (round half away from zero);
  * cells with no MV (intra) whose 4-neighbourhood holds >= 2 cells with MVs take the rounded
    mean of those and stay False in the mask (the paper's step iii);
  * a cell's ref is that of its first block with an MV in raster order (ref_idx is per 8x8
    partition in H.264), -1 without one;
  * I/IDR pictures are all zero with an empty mask.

The pooling runs natively (cpp/common/grid.cpp), one pass per frame.
"""
from __future__ import annotations

import numpy as np

from mvclass import _core

KIND_INTRA, KIND_INTER, KIND_SKIP = 0, 1, 2


def _grid(field4, kind4, ref4, rows: int, cols: int, fill_holes: bool):
    """([T,] H4, W4[, 2]) fields -> ([T,] rows, cols[, 2]) cells, one native pass per frame."""
    kind4 = np.asarray(kind4)
    if kind4.ndim < 2:
        raise ValueError(f"kind4 must have shape ([T,] H4, W4), got {kind4.shape}")
    lead, (h4, w4) = kind4.shape[:-2], kind4.shape[-2:]
    field4 = np.asarray(field4)
    if field4.shape != lead + (h4, w4, 2):
        raise ValueError(f"field shape {field4.shape} does not match kind4 {kind4.shape} (+ 2 components)")
    flat = (-1, h4, w4)
    ref = None
    if ref4 is not None:
        ref4 = np.asarray(ref4)
        if ref4.shape != lead + (h4, w4):
            raise ValueError(f"ref4 shape {ref4.shape} does not match kind4 {kind4.shape}")
        ref = ref4.astype(np.int8, copy=False).reshape(flat)
    f, mask, r = _core.motion_grid(field4.reshape(flat + (2,)), kind4.astype(np.int8, copy=False).reshape(flat),
                                   ref, int(rows), int(cols), bool(fill_holes))
    f, mask = f.reshape(lead + (rows, cols, 2)), mask.reshape(lead + (rows, cols))
    return f, mask, (None if r is None else r.reshape(lead + (rows, cols)))


def frame_grid(mv4: np.ndarray, ref4: np.ndarray, kind4: np.ndarray, rows: int, cols: int, fill_holes: bool = True):
    """4x4 fields ([T,] H4, W4[, 2]) -> (mv ([T,] rows, cols, 2) int16, mask bool, ref int8).

    Cells beyond the blocks (rows, cols larger than the pooled field) are empty: zero, False, -1."""
    return _grid(mv4, kind4, ref4, rows, cols, fill_holes)


def mv_grid(mv4: np.ndarray, ref4: np.ndarray, kind4: np.ndarray, height: int, width: int, fill_holes: bool = True):
    """A whole video: (T, H4, W4, 2) fields -> mv (T, ceil(H/8), ceil(W/8), 2) int16, mask, ref."""
    return _grid(mv4, kind4, ref4, -(-height // 8), -(-width // 8), fill_holes)


def mvd_grid(mvd4: np.ndarray, kind4: np.ndarray, height: int, width: int) -> np.ndarray:
    """A whole video's mvd fields on the same grid as :func:`mv_grid` (rounded mean, no hole filling)."""
    return _grid(mvd4, kind4, None, -(-height // 8), -(-width // 8), False)[0]
