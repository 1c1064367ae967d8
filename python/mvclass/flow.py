"""Cross-check of the encoder's motion vectors against dense optical flow (the paper's Fig. 5).

Direction: a motion vector points from the current block to its reference position, i.e. it is
*backward* motion (current frame t -> reference frame t-1-ref_idx). The dense flow is computed
in the same direction, ``flow = OF(current, reference)`` so that
``current(x) ≈ reference(x + flow(x))``, then averaged over each 8x8 cell and compared with
``mv / 4`` (quarter-pel -> pixels) on every cell that carries a motion vector.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

METHODS = ("dis", "farneback")


def dense_flow(current: np.ndarray, reference: np.ndarray, method: str = "dis") -> np.ndarray:
    """Backward dense flow (H,W,2) float32 in pixels: ``current(x) ≈ reference(x + flow(x))``.

    ``current``/``reference``: uint8 luma (H,W). ``method``: "dis" (OpenCV DIS, medium preset)
    or "farneback".
    """
    try:
        import cv2
    except ImportError:
        raise ImportError("mvclass.flow needs OpenCV: pip install opencv-python-headless") from None
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        return dis.calc(current, reference, None)
    if method == "farneback":
        return cv2.calcOpticalFlowFarneback(current, reference, None, 0.5, 4, 15, 3, 5, 1.2, 0)
    raise ValueError(f"unknown flow method {method!r}; choose from {', '.join(METHODS)}")


def cell_mean(flow: np.ndarray, cell: int = 8) -> np.ndarray:
    """Mean of a (H,W,2) field over each ``cell``x``cell`` block: (ceil(H/cell), ceil(W/cell), 2);
    partial edge cells average the pixels they have."""
    h, w = flow.shape[:2]
    hc, wc = -(-h // cell), -(-w // cell)
    padded = np.zeros((hc * cell, wc * cell, 2), np.float64)
    count = np.zeros((hc * cell, wc * cell), np.float64)
    padded[:h, :w] = flow
    count[:h, :w] = 1
    s = padded.reshape(hc, cell, wc, cell, 2).sum(axis=(1, 3))
    n = count.reshape(hc, cell, wc, cell).sum(axis=(1, 3))
    return s / n[..., None]


@dataclass
class AepeResult:
    """Average end-point error (pixels) between the 8x8 MV field and the cell-averaged flow, per QP."""

    codec: str
    method: str
    frames: int
    qps: list = field(default_factory=list)
    aepe: list = field(default_factory=list)  # mean over compared cells
    cells: list = field(default_factory=list)  # cells compared (coded or skip MVs)
    r_orig: list = field(default_factory=list)
    r_motion: list = field(default_factory=list)

    def rows(self) -> list[dict]:
        return [dict(qp=q, aepe=a, cells=c, r_orig=ro, r_motion=rm)
                for q, a, c, ro, rm in zip(self.qps, self.aepe, self.cells, self.r_orig, self.r_motion)]

    @property
    def best_qp(self) -> int:
        return self.qps[int(np.argmin(self.aepe))]

    def __str__(self) -> str:
        lines = [f"AEPE of {self.codec} 8x8 MVs vs {self.method} flow ({self.frames} frames)",
                 f"{'QP':>4} {'AEPE px':>9} {'cells':>9} {'Rorig':>9} {'Rmotion':>9}"]
        lines += [f"{r['qp']:>4} {r['aepe']:>9.3f} {r['cells']:>9} {r['r_orig']:>9.1f} {r['r_motion']:>9.2f}"
                  for r in self.rows()]
        return "\n".join(lines)


def aepe(video, qps=(0, 20, 30, 40, 51), codec: str = "h264", method: str = "dis", max_frames: int | None = 60,
         flow=None, **encode_options) -> AepeResult:
    """AEPE between our 8x8 motion field (``mv / 4`` pixels) and dense optical flow, per QP.

    ``video``: anything :func:`mvclass.encode_cropped` reads. The flow is computed on the
    source frames' luma, from each P-frame to the frame its cell's ``ref`` points at (so cells
    using reference 2 are compared with the flow to frame t-3). ``flow``: instead of OpenCV, a
    known backward flow (T,H,W,2) to the previous frame (e.g. ``SyntheticMotion.flow``); then
    only cells referencing the previous frame are compared. Intra cells (``mv_mask`` False) are
    never compared. ``encode_options`` go to ``encode_cropped`` (ref_frames, search_range, ...).
    """
    from mvclass.api import encode_cropped
    from mvclass.io import read_video

    if method not in METHODS:
        raise ValueError(f"unknown flow method {method!r}; choose from {', '.join(METHODS)}")
    qps = [int(q) for q in qps]
    if not qps:
        raise ValueError("give at least one QP")
    luma = [np.ascontiguousarray(y) for y, _, _ in read_video(video, max_frames=max_frames).frames()]
    if len(luma) < 2:
        raise ValueError("AEPE needs at least two frames")
    if flow is not None:
        flow = np.asarray(flow, np.float64)
        if flow.shape[0] < len(luma) or flow.shape[1:] != luma[0].shape + (2,):
            raise ValueError(f"flow must have shape (>= {len(luma)}, {luma[0].shape[0]}, {luma[0].shape[1]}, 2), "
                             f"got {flow.shape}")
    cache: dict = {}

    def cell_flow(t: int, k: int) -> np.ndarray:
        if (t, k) not in cache:
            f = flow[t] if flow is not None else dense_flow(luma[t], luma[t - 1 - k], method)
            cache[t, k] = cell_mean(f)
        return cache[t, k]

    out = AepeResult(codec=codec, method="given" if flow is not None else method, frames=len(luma))
    for q in qps:
        r = encode_cropped(video, qp=q, codec=codec, max_frames=len(luma), **encode_options)
        total, n = 0.0, 0
        for t in range(1, r.frames):
            if r.frame_bits["type"][t] != "P":
                continue
            mask = r.mv_mask[t]
            for k in np.unique(r.ref[t][mask]):
                if k < 0 or t - 1 - k < 0 or (flow is not None and k != 0):
                    continue
                sel = mask & (r.ref[t] == k)
                err = r.mv[t][sel].astype(np.float64) / 4.0 - cell_flow(t, int(k))[sel]
                total += float(np.hypot(err[:, 0], err[:, 1]).sum())
                n += int(sel.sum())
        rates = r.rates
        out.qps.append(q)
        out.aepe.append(total / n if n else float("nan"))
        out.cells.append(n)
        out.r_orig.append(rates.orig)
        out.r_motion.append(rates.motion)
    return out


def plot_aepe(results, out=None):
    """AEPE against QP, one line per :class:`AepeResult` (e.g. H.264 and HEVC); PNG to ``out``."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if isinstance(results, AepeResult):
        results = [results]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for r in results:
        ax.plot(r.qps, r.aepe, marker="o", label=f"{r.codec.upper()} vs {r.method}")
    ax.set_xlabel("QP")
    ax.set_ylabel("AEPE (pixels)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    if out is not None:
        fig.savefig(Path(out), dpi=100)
    return fig


def main(argv=None) -> int:
    """``python -m mvclass.flow VIDEO [--qp ...] [--codec h264 hevc] [--method dis] [-o plot.png]``:
    the Fig. 5 cross-check on one video, printed as a table per codec."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m mvclass.flow", description=main.__doc__.splitlines()[0])
    ap.add_argument("video")
    ap.add_argument("--qp", type=int, nargs="+", default=[0, 20, 30, 40, 51])
    ap.add_argument("--codec", nargs="+", default=["h264"])
    ap.add_argument("--method", choices=METHODS, default="dis")
    ap.add_argument("--max-frames", type=int, default=60)
    ap.add_argument("--ref-frames", type=int, default=3)
    ap.add_argument("-o", "--output", help="write the AEPE-QP plot here (PNG)")
    args = ap.parse_args(argv)
    results = []
    for codec in args.codec:
        r = aepe(args.video, args.qp, codec=codec, method=args.method, max_frames=args.max_frames,
                 ref_frames=args.ref_frames)
        print(r, f"\nminimum at QP {r.best_qp}\n")
        results.append(r)
    if args.output:
        plot_aepe(results, args.output)
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
