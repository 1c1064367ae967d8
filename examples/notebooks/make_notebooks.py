"""Writes the three notebooks of examples/notebooks (run from the repository root:
``python examples/notebooks/make_notebooks.py``); edit here, regenerate, commit both."""
import nbformat as nbf
from pathlib import Path

OUT = Path("examples/notebooks")

SETUP = '''import os
from pathlib import Path

# MVCLASS_NB_SMALL=1 (set by tests/test_notebooks.py in CI): small sizes, same code path.
SMALL = os.environ.get("MVCLASS_NB_SMALL", "") not in ("", "0")
REPO = Path.cwd().resolve().parents[1] if Path.cwd().name == "notebooks" else Path.cwd().resolve()
SHARED = Path(os.environ.get("MVCLASS_SHARED_DATA", REPO.parent / "shared" / "data"))
import numpy as np
import matplotlib
import matplotlib.pyplot as plt
%matplotlib inline
import mvclass
print(f"mvclass from {Path(mvclass.__file__).parent}; small run: {SMALL}")'''


def nb(cells):
    n = nbf.v4.new_notebook()
    n.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    n.metadata["language_info"] = {"name": "python"}
    n.cells = [nbf.v4.new_markdown_cell(c[1:]) if c.startswith("#") and c[1] == "#" else nbf.v4.new_code_cell(c)
               for c in cells]
    for i, cell in enumerate(n.cells):  # stable ids: regenerating gives the same files
        cell.id = f"cell-{i:02d}"
    return n


# (a) ------------------------------------------------------------------------------------------
a = nb([
    "## Encode and look\n\nThe built-in sample clip (`mvclass.io.sample_clip`: a textured background "
    "panning right and a textured disc moving diagonally; nothing to download) encoded at four QPs with "
    "both codecs: frames and 8x8 motion-vector fields (the paper's Fig. 2), the rate table "
    "(R_orig, R_cropped, R_motion) and where the bits go, per syntax category.",
    SETUP,
    '''from mvclass.io import sample_clip
from mvclass.viz import qp_figure

QPS = (0, 30, 40, 51)
FRAMES = 12 if SMALL else 60
clip = sample_clip(frames=FRAMES)
print(clip.shape, clip.dtype)''',
    "## Frames and MV fields at four QPs (Fig. 2)\n\nTop: the decoded frame at each QP; bottom: its MV "
    "field (colour = direction, saturation = length, one scale for all panels). At QP 0 the fields are "
    "noisy; at high QP the Lagrangian decisions make them sparse and smooth.",
    '''fig = qp_figure(clip, qps=QPS, codec="h264", frame=min(10, FRAMES - 1))
fig''',
    '''fig = qp_figure(clip, qps=QPS, codec="hevc", frame=min(10, FRAMES - 1))
fig''',
    "## Rate table",
    '''results = {(codec, qp): mvclass.encode_cropped(clip, qp=qp, codec=codec, intra_period=100)
           for codec in ("h264", "hevc") for qp in QPS}
print(f"{'codec':<6}{'QP':>4}{'Rorig':>10}{'Rcropped':>10}{'Rmotion':>10}{'PSNR-Y':>8}   kbit/s, {FRAMES} frames")
for (codec, qp), r in results.items():
    print(f"{codec:<6}{qp:>4}{r.rates.orig:>10.1f}{r.rates.cropped:>10.1f}{r.rates.motion:>10.1f}{r.psnr_y:>8.2f}")''',
    '''# sanity: rates fall as QP rises, the cropped stream is smaller than the full one, and every bit
# of both streams is charged to one category
for codec in ("h264", "hevc"):
    orig = [results[codec, q].rates.orig for q in QPS]
    assert all(a > b for a, b in zip(orig, orig[1:])), orig
    for q in QPS:
        r = results[codec, q]
        assert r.rates.cropped < r.rates.orig
        assert np.isclose(sum(r.bits["full"].values()), 8 * len(r.bitstream))
        assert np.isclose(sum(r.bits["cropped"].values()), 8 * len(r.cropped))''',
    "## Where the bits go\n\nBits per syntax category (`mvclass.api.CATEGORIES`) of the full and the "
    "cropped stream, per codec and QP, as shares of the full stream. The cropped stream drops the "
    "P-frame residual and keeps modes, motion and the I-frame.",
    '''from mvclass.api import CATEGORIES

cats = [c for c in CATEGORIES if any(r.bits["full"].get(c, 0) for r in results.values())]
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
for ax, codec in zip(axes, ("h264", "hevc")):
    labels, bottom = [], None
    cols = [(q, s) for q in QPS for s in ("full", "cropped")]
    x = np.arange(len(cols))
    bottom = np.zeros(len(cols))
    for k, c in enumerate(cats):
        share = np.array([results[codec, q].bits[s].get(c, 0) / sum(results[codec, q].bits["full"].values())
                          for q, s in cols])
        ax.bar(x, 100 * share, bottom=100 * bottom, label=c, color=plt.cm.tab20(k % 20))
        bottom += share
    ax.set_xticks(x, [f"QP{q}\\n{s}" for q, s in cols], fontsize=8)
    ax.set_title(f"{codec.upper()}: bits by category (% of the full stream)")
axes[0].set_ylabel("% of full-stream bits")
axes[1].legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
fig.tight_layout()''',
])

# (b) ------------------------------------------------------------------------------------------
b = nb([
    "## The paper's rate-accuracy analysis\n\nFrom the authors' per-video files in "
    "`../shared/data/paper_results` (rates of 3,782 UCF-101 videos at QP 40 and the classifiers' per-video "
    "correctness): the Gamma model of R_motion, the linear rate models of the 3D and 2D inputs, the MCNN "
    "thresholds {R_L, R_H} and accuracy against the rate budget (Figs. 6-8), with the paper's numbers "
    "beside ours. The same as `python examples/mcnn_paper.py`.",
    SETUP,
    '''import math
from mvclass.mcnn import fit_rate_model, fit_rmotion, input_rates, motion_rate
from mvclass.mcnn.experiment import budgets_between, run_paper_experiment
from mvclass.mcnn.paper import load_frame_bits
from mvclass.mcnn.plots import plot_correct_by_rmotion, plot_rate_accuracy, plot_rmotion_fit

DATA = SHARED / "paper_results"
QP, SEED = 40, 0
PAPER = {"a3D": 2.21, "b3D": 9.04, "R2_3D": 0.93, "a2D": 0.83, "b2D": 4.27, "R2_2D": 0.88, "KL": 0.034}
ex = run_paper_experiment(DATA, QP, SEED)
m = ex.model
print(f"{len(ex.data)} videos aligned by name; {len(ex.train)} train, {len(ex.test)} test (seed {SEED})")''',
    "## Gamma fit of R_motion and the linear rate models (paper's appendix values beside ours)",
    '''tag = f"Test01_QP{QP}_MVSR16_MVRes8_A.dat"
orig = load_frame_bits(DATA / f"RTotal_Orig_{tag}")
crop = load_frame_bits(DATA / f"RTotal_NOTexture_{tag}")
mot = load_frame_bits(DATA / f"RMotion_NOTexture_{tag}")
keys = sorted(set(orig) & set(crop) & set(mot))
rm = np.array([motion_rate(mot[k][1], frames=mot[k][0]) for k in keys])
ir = np.array([input_rates(orig[k][1], crop[k][1]) for k in keys])
g_all, f3_all, f2_all = fit_rmotion(rm), fit_rate_model(rm, ir[:, 0]), fit_rate_model(rm, ir[:, 1])
print(f"{'':28s} {'a3D':>6s} {'b3D':>6s} {'R2_3D':>6s} {'a2D':>6s} {'b2D':>6s} {'R2_2D':>6s} {'shape':>6s} {'KL':>7s}")
print(f"{'paper':28s} {PAPER['a3D']:6.2f} {PAPER['b3D']:6.2f} {PAPER['R2_3D']:6.2f} {PAPER['a2D']:6.2f} "
      f"{PAPER['b2D']:6.2f} {PAPER['R2_2D']:6.2f} {'-':>6s} {PAPER['KL']:7.3f}")
for label, g, f3, f2 in ((f"ours, all {len(keys)} videos", g_all, f3_all, f2_all),
                         (f"ours, train split ({len(ex.train)})", m.gamma, m.rate_3d, m.rate_2d)):
    print(f"{label:28s} {f3.a:6.3f} {f3.b:6.3f} {f3.r2:6.3f} {f2.a:6.3f} {f2.b:6.3f} {f2.r2:6.3f} {g.shape:6.3f} {g.kl:7.4f}")
assert abs(f3_all.a - PAPER["a3D"]) < 0.5 and abs(f2_all.a - PAPER["a2D"]) < 0.5''',
    '''plot_rmotion_fit(ex.data.r_motion, fit_rmotion(ex.data.r_motion))  # Fig. 7''',
    "## Single classifiers and the MCNN thresholds against the budget",
    '''base = ex.baselines()
for name, (rate, acc) in base.items():
    print(f"{name:9s} {100 * acc:6.2f} %  at {rate:6.2f} kbit/s   (test videos)")
r3, a3 = base["3D-CNN-F"]
n_budgets = 6 if SMALL else 18
budgets = np.unique(np.concatenate([budgets_between(m.min_rate() * 1.01, m.expected_rate(math.inf, math.inf), n_budgets),
                                    [3.0, r3 / 2]]))
curve = m.rate_accuracy_curve(budgets)
meas = [ex.measure(rl, rh) for rl, rh in zip(curve.r_l, curve.r_h)]
fmt = lambda r: "inf" if math.isinf(r) else f"{r:.2f}"
print(f"{'budget':>7s} {'R_L':>7s} {'R_H':>7s} {'pred acc':>8s} {'pred R':>7s} {'meas acc':>8s} {'meas R':>7s} {'3D%':>5s} {'2D%':>5s} {'SP%':>5s}")
for bud, rl, rh, pa, pr, e in zip(curve.budget, curve.r_l, curve.r_h, curve.accuracy, curve.rate, meas):
    print(f"{bud:7.2f} {fmt(rl):>7s} {fmt(rh):>7s} {100 * pa:8.2f} {pr:7.2f} {100 * e.accuracy:8.2f} {e.rate:7.2f}"
          f" {100 * e.fraction_3d:5.1f} {100 * e.fraction_2d:5.1f} {100 * e.fraction_spatial:5.1f}")''',
    '''plot_rate_accuracy([e.rate for e in meas], [e.accuracy for e in meas],
                   {k: base[k] for k in ("3D-CNN-F", "2D-CNN-F", "Spatial")},
                   predicted=(curve.rate, curve.accuracy))  # Fig. 6''',
    '''d = ex.data
plot_correct_by_rmotion(d.r_motion, {"3D-CNN-F": d.correct["3d"], "2D-CNN-F": d.correct["2d"],
                                     "Spatial": d.correct["spatial"]}, bins=np.arange(0.0, 85.0, 5.0))  # Fig. 8''',
    "## The paper's Fig. 6 claims, measured",
    '''_, e_half = ex.solve_and_measure(r3 / 2)
_, e3 = ex.solve_and_measure(3.0)
best = max(a3, base["2D-CNN-F"][1])
print(f"half the 3D-CNN-F rate ({r3 / 2:.2f} kbit/s): {100 * e_half.accuracy:.2f} % vs 3D-CNN-F {100 * a3:.2f} %: "
      f"{100 * (a3 - e_half.accuracy):.2f} points below (paper: within ~2)")
print(f"3 kbit/s: {100 * e3.accuracy:.2f} % vs best single {100 * best:.2f} %: "
      f"{100 * (best - e3.accuracy):.2f} points below (paper: within ~7)")
assert e_half.rate <= r3 / 2 * 1.1''',
])

# (c) ------------------------------------------------------------------------------------------
c = nb([
    "## From video to classifier\n\n`SyntheticMotion` renders labelled motion patterns (pans, zooms, "
    "rotations, ...); we encode them into a cropped-stream MV dataset with `build_mv_dataset`, train the "
    "2D temporal net (`Temporal2D`) on the motion volumes, evaluate it on the held-out split (every "
    "fourth video of a class) and show the confusion matrix. Small sizes throughout: this runs on a CPU "
    "in minutes (CI runs it with `MVCLASS_NB_SMALL=1`, far fewer iterations).",
    SETUP,
    '''import tempfile
from mvclass.datasets import SyntheticMotion, build_mv_dataset, read_manifest

CLASSES = 4 if SMALL else 6
PER_CLASS = 4 if SMALL else 12
FRAMES = 16 if SMALL else 32
ITERS = 15 if SMALL else 300
ds = SyntheticMotion(num_classes=CLASSES, videos_per_class=PER_CLASS, size=(96, 64), frames=FRAMES, seed=0)
print(ds.classes, len(ds), "videos")
plt.imshow(ds.clip(0)[FRAMES // 2]); plt.title(ds.videos[0].name); plt.axis("off");''',
    "## Build the MV dataset (H.264, QP 30)",
    '''work = Path(tempfile.mkdtemp(prefix="mvclass_nb_"))
report = build_mv_dataset(ds, work / "h264_qp30", codec="h264", qp=30, workers=2, progress=False)
print(report)
rows = read_manifest(report.manifest)
assert len(rows) == len(ds) and not report.failed
for name in ds.classes:
    r = [x for x in rows if x["label_name"] == name]
    print(f"{name:<12} {len(r):3d} videos  Rmotion {np.mean([x['r_motion'] for x in r]):7.1f} kbit/s")''',
    "## Train the 2D temporal net",
    '''import torch
from mvclass.models import Temporal2D
from mvclass.train import evaluate, fit
from mvclass.train.data import MotionVolumes

torch.manual_seed(0)
T, SIZE = 6, 12
train = MotionVolumes(report.manifest, "train", frames=T, size=SIZE, layout="2d")
test = MotionVolumes(report.manifest, "test", frames=T, size=SIZE, layout="2d", mean_mv=train.mean_mv, test_volumes=2)
net = Temporal2D(CLASSES, frames=T, size=SIZE)
res_fit = fit(net, train, iters=ITERS, batch_size=12, lr=1e-2, clip_grad_norm=5.0, lr_step=10_000, workers=0,
              progress=False, out_dir=work / "run")
print(res_fit)''',
    "## Evaluate and the confusion matrix",
    '''res = evaluate(net, test, workers=0, progress=False, batch_size=100)
print(f"top-1 accuracy on {len(res.labels)} test videos: {100 * res.accuracy:.1f} % (chance {100 / CLASSES:.0f} %)")
cm = res.confusion()
fig, ax = plt.subplots(figsize=(4.5, 4))
ax.imshow(cm, cmap="Blues")
for (i, j), v in np.ndenumerate(cm):
    ax.text(j, i, int(v), ha="center", va="center")
ax.set_xticks(range(CLASSES), ds.classes, rotation=45, ha="right")
ax.set_yticks(range(CLASSES), ds.classes)
ax.set_xlabel("predicted"); ax.set_ylabel("true")
fig.tight_layout()
assert cm.sum() == len(res.labels)
if not SMALL:
    assert res.accuracy > 1.5 / CLASSES, cm  # well above chance after a few hundred iterations''',
    '''import shutil
shutil.rmtree(work)  # the dataset and the checkpoint were temporary; keep them by skipping this cell''',
])

for name, n in (("01_encode_and_look.ipynb", a), ("02_rate_accuracy_paper.ipynb", b), ("03_video_to_classifier.ipynb", c)):
    nbf.write(n, OUT / name)
print("ok")
