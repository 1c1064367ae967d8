"""Pictures: MV fields as colour images, frames with their MV fields at several QPs (the paper's
Fig. 2), and rate-QP plots from build manifests. matplotlib is imported only when plotting."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def flow_image(mv, max_magnitude: float | None = None, mask=None, cell: int = 1) -> np.ndarray:
    """A motion field (H,W,2) as an RGB uint8 image (H*cell, W*cell, 3) on the HSV colour wheel.

    Hue is the direction (0° = +x, right, red; 90° = +y, down), saturation the magnitude relative
    to ``max_magnitude`` (default: the largest in the field), value 1, so zero motion is white.
    Cells where ``mask`` is False are drawn mid-grey. Units are whatever ``mv`` holds.
    """
    mv = np.asarray(mv, np.float64)
    if mv.ndim != 3 or mv.shape[2] != 2:
        raise ValueError(f"mv must have shape (H, W, 2), got {mv.shape}")
    if cell < 1:
        raise ValueError(f"cell must be >= 1, got {cell}")
    dx, dy = mv[..., 0], mv[..., 1]
    mag = np.hypot(dx, dy)
    valid = np.ones(mag.shape, bool) if mask is None else np.asarray(mask, bool)
    if valid.shape != mag.shape:
        raise ValueError(f"mask shape {valid.shape} does not match the field {mag.shape}")
    top = max_magnitude if max_magnitude is not None else (mag[valid].max() if valid.any() else 0.0)
    sat = np.clip(mag / top, 0.0, 1.0) if top > 0 else np.zeros_like(mag)
    hue = (np.arctan2(dy, dx) / (2 * np.pi)) % 1.0
    # HSV -> RGB with V = 1 (vectorised form of the standard sector formula)
    k = (np.array([5.0, 3.0, 1.0]) + hue[..., None] * 6.0) % 6.0
    rgb = 1.0 - sat[..., None] * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    rgb[~valid] = 0.5
    img = np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)
    if cell > 1:
        img = np.repeat(np.repeat(img, cell, axis=0), cell, axis=1)
    return img


def colour_wheel(size: int = 64) -> np.ndarray:
    """The key of :func:`flow_image`: a disc whose pixels are coloured by their offset from the centre."""
    c = (size - 1) / 2
    yy, xx = np.mgrid[0:size, 0:size]
    field = np.stack([xx - c, yy - c], axis=-1).astype(np.float64)
    return flow_image(field, max_magnitude=c, mask=np.hypot(xx - c, yy - c) <= c)


def qp_figure(video, qps=(0, 30, 40, 51), codec: str = "h264", frame: int = 10, out=None, **encode_options):
    """Frames decoded at each QP (top) over their 8x8 MV fields (bottom), one column per QP.

    Encodes the first ``frame + 1`` frames of ``video`` at every QP; all MV panels share one
    colour scale (pixels). Saves a PNG to ``out`` if given; returns the matplotlib Figure.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from mvclass.api import encode_cropped
    from mvclass.io import yuv420_to_rgb

    qps = list(qps)
    if not qps:
        raise ValueError("give at least one QP")
    if frame < 1:
        raise ValueError(f"frame must be a P-frame index >= 1, got {frame}")
    results = [encode_cropped(video, qp=q, codec=codec, max_frames=frame + 1, keep_recon=True, **encode_options)
               for q in qps]
    if results[0].frames <= frame:
        raise ValueError(f"video has only {results[0].frames} frames; frame {frame} does not exist")
    fields = [r.mv[frame].astype(np.float64) / 4.0 for r in results]
    masks = [r.mv_mask[frame] for r in results]
    mags = np.concatenate([np.hypot(f[..., 0], f[..., 1])[m] for f, m in zip(fields, masks)])
    top = max(float(np.percentile(mags, 98)), 1.0) if mags.size else 1.0  # robust: a few outliers would wash it out
    fig, axes = plt.subplots(2, len(qps), figsize=(3.2 * len(qps), 5.2), squeeze=False)
    for j, (q, r, f, m) in enumerate(zip(qps, results, fields, masks)):
        axes[0, j].imshow(yuv420_to_rgb(*r.recon[frame]))
        rates = r.rates
        axes[0, j].set_title(f"{r.codec.upper()} QP {q}\nRorig {rates.orig:.0f}, Rmotion {rates.motion:.1f} kbit/s",
                             fontsize=9)
        axes[1, j].imshow(flow_image(f, max_magnitude=top, mask=m, cell=8)[:r.height, :r.width])
        axes[1, j].set_title(f"MVs of frame {frame}", fontsize=9)
        for ax in axes[:, j]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout(rect=(0, 0, 1 - 0.6 / (3.2 * len(qps)), 1))
    width = 0.5 / (3.2 * len(qps))
    key = fig.add_axes([1 - width * 1.1, 0.2, width, width * 3.2 * len(qps) / 5.2])  # colour key, right margin
    key.imshow(colour_wheel())
    key.set_title(f"{top:.1f} px", fontsize=8)
    key.axis("off")
    if out is not None:
        fig.savefig(Path(out), dpi=100)
    return fig


def rate_table(manifest_rows) -> dict:
    """{(codec, qp): dict(videos, r_orig, r_cropped, r_motion)} with the mean rate over videos."""
    groups: dict = {}
    for row in manifest_rows:
        groups.setdefault((row["codec"], int(row["qp"])), []).append(row)
    table = {}
    for key in sorted(groups):
        rows = groups[key]
        table[key] = {"videos": len(rows),
                      **{c: float(np.mean([r[c] for r in rows])) for c in ("r_orig", "r_cropped", "r_motion")}}
    return table


def rate_qp_plot(manifests, out=None):
    """Mean Rorig, Rcropped and Rmotion against QP (log scale), one line style per codec.

    ``manifests``: paths of build manifests (or their directories). Saves to ``out`` if given.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from mvclass.datasets import read_manifest

    rows = [row for m in manifests for row in read_manifest(m)]
    if not rows:
        raise ValueError("the manifests hold no videos")
    table = rate_table(rows)
    fig, ax = plt.subplots(figsize=(6, 4))
    styles = {"h264": "-", "hevc": "--"}
    for codec in sorted({c for c, _ in table}):
        qps = sorted(q for c, q in table if c == codec)
        for col, label, colour in (("r_orig", "R_orig", "C0"), ("r_cropped", "R_cropped", "C1"),
                                   ("r_motion", "R_motion", "C2")):
            ax.plot(qps, [table[codec, q][col] for q in qps], styles.get(codec, ":"), marker="o", color=colour,
                    label=f"{codec.upper()} {label}")
    ax.set_yscale("log")
    ax.set_xlabel("QP")
    ax.set_ylabel("mean rate (kbit/s)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    if out is not None:
        fig.savefig(Path(out), dpi=100)
    return fig
