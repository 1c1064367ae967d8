"""From the encoder's 4x4-block motion field to the paper's 8x8 MV grid.

Rules (the paper's grid, made explicit):
  * a cell takes its 8x8 block's MV; an 8x8 block split into smaller partitions takes the
    rounded mean of its partitions' MVs (round half away from zero);
  * cells with no MV (intra) whose 4-neighbourhood holds >= 2 cells with MVs take the rounded
    mean of those and stay False in the mask (the paper's step iii);
  * I/IDR pictures are all zero with an empty mask.
"""
from __future__ import annotations

import numpy as np

KIND_INTRA, KIND_INTER, KIND_SKIP = 0, 1, 2


def round_div(s: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Rounded s / n, halves away from zero; 0 where n == 0."""
    n_safe = np.maximum(n, 1)
    q = np.floor(np.abs(s) / n_safe + 0.5) * np.sign(s)
    return np.where(n > 0, q, 0)


def pool_blocks(field4: np.ndarray, valid4: np.ndarray):
    """Sum and count of a ([T,] H4, W4, C) field over 2x2 block groups, counting valid blocks only."""
    h4, w4 = valid4.shape[-2:]
    f = np.where(valid4[..., None], field4, 0).astype(np.int32)
    v = valid4.astype(np.int32)
    if h4 & 1 or w4 & 1:  # an odd block row / column: pad with invalid blocks
        pad = [(0, 0)] * (valid4.ndim - 2) + [(0, h4 & 1), (0, w4 & 1)]
        f, v = np.pad(f, pad + [(0, 0)]), np.pad(v, pad)
    s = f[..., 0::2, 0::2, :] + f[..., 1::2, 0::2, :] + f[..., 0::2, 1::2, :] + f[..., 1::2, 1::2, :]
    n = v[..., 0::2, 0::2] + v[..., 1::2, 0::2] + v[..., 0::2, 1::2] + v[..., 1::2, 1::2]
    return s, n


def frame_grid(mv4: np.ndarray, ref4: np.ndarray, kind4: np.ndarray, rows: int, cols: int, fill_holes: bool = True):
    """4x4 fields ([T,] H4, W4[, 2]) -> (mv ([T,] rows, cols, 2) int16, mask bool, ref int8)."""
    has_mv = kind4 != KIND_INTRA
    s, n = pool_blocks(mv4, has_mv)
    mv = round_div(s, n[..., None])
    mask = n > 0
    # ref: the cell's top-left block with an MV (ref_idx is per 8x8 partition in H.264).
    ref = np.full(mask.shape, -1, np.int8)
    ref4v = np.where(has_mv, ref4, -1).astype(np.int8)
    for dy in (1, 0):
        for dx in (1, 0):
            sub = np.full(mask.shape, -1, np.int8)
            blk = ref4v[..., dy::2, dx::2]
            sub[..., : blk.shape[-2], : blk.shape[-1]] = blk
            ref = np.where(sub >= 0, sub, ref)
    mv, mask, ref = mv[..., :rows, :cols, :], mask[..., :rows, :cols], ref[..., :rows, :cols]
    if fill_holes and mask.any():
        mv = fill_intra_holes(mv, mask)
    return mv.astype(np.int16), mask, ref


def fill_intra_holes(mv: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Cells without an MV whose 4-neighbourhood has >= 2 MV cells take those cells' rounded mean.

    Works on one frame (rows, cols) or a stack ([T,] rows, cols); frames are independent."""
    lead, (rows, cols) = mask.shape[:-2], mask.shape[-2:]
    pm = np.zeros(lead + (rows + 2, cols + 2), bool)
    pm[..., 1:-1, 1:-1] = mask
    pv = np.zeros(lead + (rows + 2, cols + 2, 2), np.int64)
    pv[..., 1:-1, 1:-1, :] = mv
    s = np.zeros(lead + (rows, cols, 2), np.int64)
    n = np.zeros(lead + (rows, cols), np.int64)
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        m = pm[..., 1 + dy:rows + 1 + dy, 1 + dx:cols + 1 + dx]
        s += pv[..., 1 + dy:rows + 1 + dy, 1 + dx:cols + 1 + dx, :] * m[..., None]
        n += m
    fill = (~mask) & (n >= 2)
    out = mv.astype(np.int64)
    out[fill] = round_div(s[fill], n[fill][..., None])
    return out


def mv_grid(mv4: np.ndarray, ref4: np.ndarray, kind4: np.ndarray, height: int, width: int, fill_holes: bool = True):
    """A whole video: (T, H4, W4, 2) fields -> mv (T, ceil(H/8), ceil(W/8), 2) int16, mask, ref."""
    rows, cols = -(-height // 8), -(-width // 8)
    t = mv4.shape[0]
    if t == 0:
        return np.zeros((0, rows, cols, 2), np.int16), np.zeros((0, rows, cols), bool), np.full((0, rows, cols), -1, np.int8)
    mv, mask, ref = frame_grid(mv4, ref4, kind4, rows, cols, fill_holes)
    # the grid of a video smaller than its coded size: pad with empty cells
    out = (np.zeros((t, rows, cols, 2), np.int16), np.zeros((t, rows, cols), bool), np.full((t, rows, cols), -1, np.int8))
    out[0][:, : mv.shape[1], : mv.shape[2]] = mv
    out[1][:, : mask.shape[1], : mask.shape[2]] = mask
    out[2][:, : ref.shape[1], : ref.shape[2]] = ref
    return out


def mvd_grid(mvd4: np.ndarray, kind4: np.ndarray, height: int, width: int) -> np.ndarray:
    """A whole video's mvd fields on the same grid as :func:`mv_grid` (rounded mean, no hole filling)."""
    rows, cols = -(-height // 8), -(-width // 8)
    out = np.zeros((mvd4.shape[0], rows, cols, 2), np.int16)
    if mvd4.shape[0]:
        s, n = pool_blocks(mvd4, kind4 != KIND_INTRA)
        g = round_div(s, n[..., None])[:, :rows, :cols]
        out[:, : g.shape[1], : g.shape[2]] = g
    return out
