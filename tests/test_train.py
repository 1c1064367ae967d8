"""Inputs, training loop, resume, evaluation protocol and learning of the mvclass CNNs.

Data: per-video .npz files + manifest in the exact format of ``build_mv_dataset``, made here
from motion fields whose class is known (synthetic truth), and an end-to-end set encoded by our
H.264 encoder from ``SyntheticMotion`` clips."""
import csv
import os
import re
import socket

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mvclass.models import Temporal2D, Temporal3D
from mvclass.train import IDRFrames, IterationSampler, MotionVolumes, evaluate, fit, read_manifest
from mvclass.train.data import five_crop_boxes, flip_motion, random_crop_box, take_frames, view_starts
from mvclass.train.evaluate import EvalResult
from mvclass.train.loop import load_checkpoint, load_model

torch.set_num_threads(2)

# Mirror-symmetric classes, so flip augmentation keeps labels valid.
CLASSES = ("up", "down", "zoom_in", "zoom_out", "shake", "still")


def _field(cls, t, h, w, rng, box, amp):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    y0, x0, y1, x1 = box
    cy, cx = (y0 + y1) / 2, (x0 + x1) / 2
    f = np.zeros((h, w, 2), np.float32)
    if cls == 0:
        f[..., 1] = -amp
    elif cls == 1:
        f[..., 1] = amp
    elif cls in (2, 3):
        s = 1 if cls == 2 else -1
        f[..., 0], f[..., 1] = s * (xx - cx) * amp / 4, s * (yy - cy) * amp / 4
    elif cls == 4:
        f[..., 0] = 2 * amp * (1 if t % 2 else -1)
    inside = (yy >= y0) & (yy < y1) & (xx >= x0) & (xx < x1)
    f[~inside] = 0
    return f + rng.normal(0, 0.75, f.shape)  # everywhere: camera shake and ME noise


def write_npz(path, mv, label, frame_type=None, idr=None):
    """One per-video file with every key build_mv_dataset writes."""
    t, h, w = mv.shape[:3]
    frame_type = np.array(["I"] + ["P"] * (t - 1)) if frame_type is None else np.asarray(frame_type)
    idr = np.zeros((h * 8, w * 8, 3), np.uint8) if idr is None else idr
    np.savez_compressed(path, mv=mv.astype(np.int16), mv_mask=np.ones((t, h, w), bool), mvd=mv.astype(np.int16),
                        ref=np.zeros((t, h, w), np.int8), frame_type=frame_type.astype("<U1"),
                        bits_full=np.ones(t), bits_cropped=np.ones(t), bits_motion=np.ones(t), idr=idr,
                        fps=np.float64(25), label=np.int64(label), codec=np.str_("h264"), qp=np.int64(30))


def write_manifest(root, rows):
    cols = ["name", "path", "label", "label_name", "split", "frames", "fps", "codec", "qp",
            "r_orig", "r_cropped", "r_motion", "r_3d", "r_2d", "r_sp"]
    with open(root / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({**dict.fromkeys(cols, 1), "fps": 25, "codec": "h264", "qp": 30, **r})
    return root / "manifest.csv"


def make_motion_set(root, videos_per_class=10, test_per_class=3, h=12, w=16, frames=(20, 40), seed=0):
    """Synthetic MV set: the class is the motion pattern of a random box; quarter-pel int16."""
    rng = np.random.default_rng(seed)
    (root / "videos").mkdir(parents=True, exist_ok=True)
    rows = []
    for c, cname in enumerate(CLASSES):
        for v in range(videos_per_class):
            t = int(rng.integers(frames[0], frames[1] + 1))
            bh, bw = int(rng.integers(h // 2, h + 1)), int(rng.integers(w // 2, w + 1))
            y0, x0 = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
            amp = rng.uniform(1.0, 3.0)
            mv = np.stack([_field(c, k, h, w, rng, (y0, x0, y0 + bh, x0 + bw), amp) for k in range(t)])
            mv = np.round(mv * 4)
            mv[0] = 0  # the IDR frame has no motion
            name = f"v_{cname}_g{v:02d}"
            write_npz(root / "videos" / f"{name}.npz", mv, c)
            rows.append(dict(name=name, path=f"videos/{name}.npz", label=c, label_name=cname,
                             split="test" if v < test_per_class else "train", frames=t))
    return write_manifest(root, rows)


@pytest.fixture(scope="module")
def motion_set(tmp_path_factory):
    return make_motion_set(tmp_path_factory.mktemp("mvset"))


# ----------------------------------------------------------------------------- inputs

def ramp_video(tmp_path, p_frames=5, h=8, w=8):
    """dx = 4 * P-frame index (1 pixel per frame), dy = 4 * column: every value says where it came from."""
    t = p_frames + 1
    mv = np.zeros((t, h, w, 2), np.int16)
    for k in range(1, t):
        mv[k, ..., 0] = 4 * (k - 1)
        mv[k, ..., 1] = 4 * np.arange(w)[None, :]
    (tmp_path / "videos").mkdir(exist_ok=True)
    write_npz(tmp_path / "videos" / "a.npz", mv, 0)
    write_npz(tmp_path / "videos" / "b.npz", mv, 1)
    return write_manifest(tmp_path, [dict(name="a", path="videos/a.npz", label=0, split="train", frames=t),
                                     dict(name="b", path="videos/b.npz", label=1, split="test", frames=t)])


def test_volume_loops_short_videos_with_random_start(tmp_path):
    m = ramp_video(tmp_path, p_frames=5)
    ds = MotionVolumes(m, "train", frames=12, size=8, mean_mv=None, scales=(1.0,), flip=False)
    starts = set()
    for pos in range(40):
        x, y = ds[(0, pos)]
        assert x.shape == (2, 12, 8, 8) and y == 0
        dx = x[0, :, 0, 0]  # pixels; the I-frame is dropped, so P-frame k has dx = k
        assert np.allclose(dx, (dx[0] + np.arange(12)) % 5)
        starts.add(int(dx[0]))
        assert np.allclose(x[1, 0], np.arange(8)[None, :])  # dy = column, unflipped and uncropped
    assert starts == {0, 1, 2, 3, 4}  # random starts reach every frame
    x1, _ = ds[(0, 7)]
    x2, _ = ds[(0, 7)]
    assert np.array_equal(x1, x2)  # a sample depends only on (seed, position)
    assert np.array_equal(take_frames(np.arange(3), 2, 5), [2, 0, 1, 2, 0])


def test_motion_cache_gives_the_same_volumes_and_maps_one_file_per_video(motion_set, tmp_path):
    from mvclass.train.data import load_motion_cached, load_motion_raw, motion_cache_path

    cache = tmp_path / "mvcache"
    plain = MotionVolumes(motion_set, "train", frames=16, size=8, mean_mv=None, cache=0)
    mapped = MotionVolumes(motion_set, "train", frames=16, size=8, mean_mv=None, cache=0, motion_cache=cache)
    for pos in range(12):
        i = pos % len(plain)
        a, la = plain[(i, pos)]
        b, lb = mapped[(i, pos)]
        assert la == lb and np.array_equal(a, b)
    assert np.array_equal(plain.test_views(1), mapped.test_views(1))
    rec = mapped.records[0]
    entry = motion_cache_path(cache, rec.path)
    assert entry.is_file() and not list(cache.glob(".*.tmp"))
    mv = load_motion_cached(rec.path, cache)
    assert isinstance(mv, np.memmap) and not mv.flags.writeable
    assert np.array_equal(mv, load_motion_raw(rec.path))
    # a damaged entry is rebuilt; a rewritten video file gets a new entry
    entry.write_bytes(b"not an npy file")
    assert np.array_equal(load_motion_cached(rec.path, cache), load_motion_raw(rec.path))
    mvd_entry = motion_cache_path(cache, rec.path, use_mvd=True)
    assert mvd_entry != entry
    os.utime(rec.path, ns=(1, 1))
    assert motion_cache_path(cache, rec.path) != entry
    with pytest.raises(FileNotFoundError, match="video file not found"):
        load_motion_cached(tmp_path / "missing.npz", cache)


def test_use_mvd_reads_the_differences(tmp_path):
    (tmp_path / "videos").mkdir()
    mv = np.zeros((3, 4, 4, 2), np.int16)
    mv[1:, ..., 0] = 8
    path = tmp_path / "videos" / "a.npz"
    write_npz(path, mv, 0)
    z = dict(np.load(path))
    z["mvd"] = np.zeros_like(mv)
    z["mvd"][1:, ..., 1] = -4  # differences differ from the vectors
    np.savez_compressed(path, **z)
    m = write_manifest(tmp_path, [dict(name="a", path="videos/a.npz", label=0, split="train", frames=3)])
    kw = dict(frames=2, size=4, mean_mv=None, scales=(1.0,), flip=False)
    x_mv, _ = MotionVolumes(m, "train", **kw)[(0, 0)]
    x_mvd, _ = MotionVolumes(m, "train", use_mvd=True, **kw)[(0, 0)]
    assert np.allclose(x_mv[0], 2.0) and np.allclose(x_mv[1], 0.0)
    assert np.allclose(x_mvd[0], 0.0) and np.allclose(x_mvd[1], -1.0)


def test_flip_mirrors_grid_and_negates_dx():
    g = np.random.default_rng(0).normal(size=(3, 4, 5, 2)).astype(np.float32)
    f = flip_motion(g)
    assert np.array_equal(f[..., 0], -g[:, :, ::-1, 0])
    assert np.array_equal(f[..., 1], g[:, :, ::-1, 1])
    assert np.array_equal(flip_motion(f), g)


def test_multiscale_crop_and_resize(tmp_path):
    rng = np.random.default_rng(1)
    sizes = set()
    for _ in range(400):
        y, x, ch, cw = random_crop_box(30, 40, rng)
        assert 0 <= y and y + ch <= 30 and 0 <= x and x + cw <= 40
        sizes.add((ch, cw))
    assert {s[0] for s in sizes} == {30, 26, 22, 20}  # 1, .875, .75, .66 of the short side
    boxes = five_crop_boxes(30, 40, 26)
    assert boxes == [(0, 0, 26, 26), (0, 14, 26, 26), (4, 0, 26, 26), (4, 14, 26, 26), (2, 7, 26, 26)]
    # A crop resized to N keeps the values of the region it came from (dy = column index here).
    m = ramp_video(tmp_path, p_frames=3, h=30, w=40)
    ds = MotionVolumes(m, "train", frames=3, size=24, mean_mv=None, flip=False)
    for pos in range(20):
        x, _ = ds[(0, pos)]
        assert x.shape == (2, 3, 24, 24)
        row = x[1, 0, 0]
        assert np.all(np.diff(row) > 0) and row[0] >= 0 and row[-1] <= 39


def test_mean_mv_comes_from_training_split(tmp_path):
    (tmp_path / "videos").mkdir()
    a = np.zeros((4, 4, 4, 2), np.int16)
    a[1:, ..., 0] = 8  # 2 pixels right on every P-frame
    b = np.zeros((4, 4, 4, 2), np.int16)
    b[1:, ..., 1] = -40  # a test video: must not enter the mean
    write_npz(tmp_path / "videos" / "a.npz", a, 0)
    write_npz(tmp_path / "videos" / "b.npz", b, 1)
    m = write_manifest(tmp_path, [dict(name="a", path="videos/a.npz", label=0, split="train", frames=4),
                                  dict(name="b", path="videos/b.npz", label=1, split="test", frames=4)])
    test = MotionVolumes(m, "test", frames=3, size=4, scales=(1.0,), flip=False)
    assert np.allclose(test.mean_mv, [2.0, 0.0])
    x, _ = test[(0, 0)]
    assert np.allclose(x[0], -2.0) and np.allclose(x[1], -10.0)


def test_2d_layout_interleaves_dx_dy_per_frame(tmp_path):
    m = ramp_video(tmp_path, p_frames=6)
    ds = MotionVolumes(m, "train", frames=4, size=8, layout="2d", mean_mv=None, scales=(1.0,), flip=False)
    x, _ = ds[(0, 3)]
    assert x.shape == (8, 8, 8)
    dx = x[0::2, 0, 0]
    assert np.allclose(dx, (dx[0] + np.arange(4)) % 6)
    assert np.allclose(x[1::2], np.arange(8)[None, None, :])


def test_idr_frames_for_vgg(tmp_path):
    (tmp_path / "videos").mkdir()
    img = np.random.default_rng(2).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    write_npz(tmp_path / "videos" / "a.npz", np.zeros((2, 6, 8, 2)), 0, idr=img)
    m = write_manifest(tmp_path, [dict(name="a", path="videos/a.npz", label=0, split="test", frames=2)])
    ds = IDRFrames(m, "test", size=32)
    x, y = ds[(0, 0)]
    assert x.shape == (3, 32, 32) and x.dtype == np.float32 and y == 0
    views = ds.test_views(0)
    assert views.shape == (10, 3, 32, 32)
    assert np.allclose(views[5:], views[:5, :, :, ::-1])  # second half: the mirrored crops
    # Normalised with the ImageNet statistics: the centre crop's mean matches the image's up to resizing.
    mean_rgb = img.reshape(-1, 3).mean(0) / 255
    assert np.allclose(views[4].mean(axis=(1, 2)) * [0.229, 0.224, 0.225] + [0.485, 0.456, 0.406], mean_rgb, atol=0.03)


def test_manifest_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="manifest not found"):
        read_manifest(tmp_path / "none.csv")
    (tmp_path / "m.csv").write_text("name,path,split\nx,x.npz,train\n")
    with pytest.raises(ValueError, match="missing columns"):
        read_manifest(tmp_path / "m.csv")
    (tmp_path / "m.csv").write_text("name,path,label,split\nx,x.npz,1,validation\n")
    with pytest.raises(ValueError, match="validation"):
        read_manifest(tmp_path / "m.csv")
    (tmp_path / "m.csv").write_text("name,path,label,split\nx,x.npz,1,train\n")
    ds = MotionVolumes(tmp_path / "m.csv", "train", mean_mv=None)
    with pytest.raises(FileNotFoundError, match="x.npz"):
        ds[(0, 0)]


def test_sampler_covers_epochs_and_splits_batches_across_ranks():
    s = IterationSampler(10, 4, iters=5, seed=3)
    batches = list(s)
    positions = [p for b in batches for _, p in b]
    assert positions == list(range(20))
    idx = [i for b in batches for i, _ in b]
    assert sorted(idx[:10]) == list(range(10)) and sorted(idx[10:20]) == list(range(10))
    assert list(IterationSampler(10, 4, iters=5, seed=3, start_iter=3)) == batches[3:]
    r0 = list(IterationSampler(10, 4, iters=5, seed=3, rank=0, world_size=2))
    r1 = list(IterationSampler(10, 4, iters=5, seed=3, rank=1, world_size=2))
    assert [sorted(a + b) for a, b in zip(r0, r1)] == [sorted(b) for b in batches]


# ----------------------------------------------------------------------------- evaluation

class RecordingModel(torch.nn.Module):
    """Logits are a fixed function of each view (50 x mean dx, 50 x mean dy, 0); every view seen is recorded."""

    def __init__(self):
        super().__init__()
        self.seen = []
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        self.seen.append(x.detach().cpu())  # views kept on the CPU whatever device evaluate() used
        return 50 * torch.stack([x[:, 0].mean(dim=(1, 2, 3)), x[:, 1].mean(dim=(1, 2, 3)),
                                 torch.zeros(len(x), device=x.device)], 1)


def test_evaluation_averages_the_100_views(tmp_path):
    rng = np.random.default_rng(5)
    (tmp_path / "videos").mkdir()
    rows = []
    for i in range(2):
        mv = np.round(rng.normal(0, 8, (37, 14, 18, 2)))
        write_npz(tmp_path / "videos" / f"v{i}.npz", mv, i)
        rows.append(dict(name=f"v{i}", path=f"videos/v{i}.npz", label=i, split="test", frames=37))
    m = write_manifest(tmp_path, rows)
    ds = MotionVolumes(m, "test", frames=16, size=8, mean_mv=None)
    model = RecordingModel()
    res = evaluate(model, ds, batch_size=7, workers=0, progress=False)
    assert res.views_per_video == 100
    views = torch.cat(model.seen)
    assert views.shape == (200, 2, 16, 8, 8)
    for v in range(2):
        vv = views[100 * v:100 * (v + 1)]
        # Expected score: the mean over the 100 views of each view's softmax.
        logits = 50 * torch.stack([vv[:, 0].mean(dim=(1, 2, 3)), vv[:, 1].mean(dim=(1, 2, 3)), torch.zeros(100)], 1)
        # (1e-5: a GPU's float32 means may differ from these CPU ones in the last bits)
        assert np.allclose(res.probs[v], torch.softmax(logits.double(), 1).mean(0).numpy(), atol=1e-5)
        # Not the softmax of the mean logit: the protocol averages scores.
        assert not np.allclose(res.probs[v], torch.softmax(logits.double().mean(0), 0).numpy(), atol=1e-3)
        assert not np.allclose(res.probs[v], torch.softmax(logits[0].double(), 0).numpy(), atol=1e-3)  # not one view
        # 10 starts x (5 crops + their mirrors): the views are all different...
        assert len({tuple(x.flatten()[:64].tolist()) for x in vv}) == 100
        # ...and each flipped crop is the mirror of its unflipped crop with dx negated.
        for start in range(10):
            block = vv[10 * start:10 * start + 10]
            mirrored = block[:5].flip(-1)
            mirrored[:, 0] = -mirrored[:, 0]
            assert torch.allclose(block[5:], mirrored)
    # The 10 starts are evenly spaced over the 36 P-frames: volumes cover the whole video.
    assert view_starts(36, 16).tolist() == [0, 2, 4, 7, 9, 11, 13, 16, 18, 20]
    assert view_starts(8, 16).tolist() == [0, 1, 2, 2, 3, 4, 5, 5, 6, 7]


def test_eval_result_files_in_the_authors_format(tmp_path, shared_data):
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.7, 0.3]])
    res = EvalResult(["v_A_g01_c01", "v_B_g01_c01", "v_B_g02_c01"], np.array([0, 1, 1]), probs, 100)
    assert res.accuracy == pytest.approx(2 / 3)
    assert res.confusion().tolist() == [[1, 0], [1, 1]]
    paths = res.write(tmp_path, "3D_A_QP30", ["A", "B"])
    assert paths["correct"].read_text() == "1\n1\n0\n"
    assert paths["filenames"].read_text().splitlines() == ["rgb24_v_A_g01_c01.bin", "rgb24_v_B_g01_c01.bin",
                                                           "rgb24_v_B_g02_c01.bin"]
    assert paths["confusion"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Same line grammar as the authors' released files.
    authors = shared_data / "paper_results"
    for ours, theirs in ((paths["correct"], "correct_vec_3D_A_QP30"), (paths["filenames"], "filenames_3D_A_QP30")):
        pattern = r"[01]" if ours == paths["correct"] else r"rgb24_v_\w+\.bin"
        for line in (authors / theirs).read_text().splitlines()[:50] + ours.read_text().splitlines():
            assert re.fullmatch(pattern, line), line


# ----------------------------------------------------------------------------- training

class InterruptAt:
    """Dataset wrapper that dies when asked for sample position ``stop`` (a killed run)."""

    def __init__(self, ds, stop):
        self.ds, self.stop = ds, stop

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, item):
        if item[1] >= self.stop:
            raise KeyboardInterrupt("simulated kill")
        return self.ds[item]


def _tiny_3d(seed=0, dropout=0.5):
    torch.manual_seed(seed)
    return Temporal3D(len(CLASSES), frames=32, size=12, dropout=dropout)


def test_resume_continues_where_it_stopped(motion_set, tmp_path):
    ds = MotionVolumes(motion_set, "train", frames=32, size=12)
    kw = dict(batch_size=4, lr=3e-3, lr_step=4, seed=7, progress=False, log_every=1)  # lr decays mid-run
    full = fit(_tiny_3d(), ds, iters=8, workers=0, out_dir=tmp_path / "full", **kw)
    reference = load_checkpoint(tmp_path / "full")
    with pytest.raises(KeyboardInterrupt):
        fit(_tiny_3d(), InterruptAt(ds, stop=4 * 5), iters=8, workers=0, checkpoint_every=3,
            out_dir=tmp_path / "cut", **kw)
    assert load_checkpoint(tmp_path / "cut")["iteration"] == 3  # died in iteration 6, saved at 3
    # A fresh process would rebuild the model from scratch (different init) and load the checkpoint.
    resumed = fit(_tiny_3d(seed=123), ds, iters=8, workers=2, resume=True, out_dir=tmp_path / "cut", **kw)
    assert resumed.start_iteration == 3 and resumed.iteration == 8
    assert resumed.losses == full.losses[3:]  # bit-identical, dropout included
    final = load_checkpoint(tmp_path / "cut")
    for k, v in reference["model"].items():
        assert torch.equal(v, final["model"][k]), k
    assert final["scheduler"]["last_epoch"] == 8
    assert final["optimizer"]["param_groups"][0]["lr"] == pytest.approx(3e-5)  # decayed at 4 and 8
    with open(tmp_path / "cut" / "metrics.csv") as f:
        iters_logged = [int(r["iteration"]) for r in csv.DictReader(f)]
    assert iters_logged == [1, 2, 3, 4, 5, 6, 7, 8]  # rows 4, 5 of the killed run were replaced
    with pytest.raises(FileNotFoundError):
        fit(_tiny_3d(), ds, iters=2, resume=tmp_path / "nothing.pt", progress=False)


def _train_and_test(net, manifest, tmp_path, frames, size, layout, iters):
    train = MotionVolumes(manifest, "train", frames=frames, size=size, layout=layout)
    # 2 volumes x 10 crops per test video keeps CI short; the 10-volume protocol is tested above.
    test = MotionVolumes(manifest, "test", frames=frames, size=size, layout=layout, mean_mv=train.mean_mv,
                         test_volumes=2)
    # The paper's lr; clipping keeps this tiny-batch run from diverging.
    fit(net, train, iters=iters, batch_size=12, lr=1e-2, clip_grad_norm=5.0, lr_step=10_000, workers=0,
        progress=False, out_dir=tmp_path)
    return evaluate(net, test, workers=0, progress=False, batch_size=100)


def test_3d_net_learns_motion_patterns(motion_set, tmp_path):
    res = _train_and_test(_tiny_3d(), motion_set, tmp_path, 32, 12, "3d", iters=25)
    assert len(res.labels) == 18 and res.views_per_video == 20
    assert res.accuracy >= 0.7, res.confusion()  # chance is 1/6


def test_2d_net_learns_motion_patterns(motion_set, tmp_path):
    torch.manual_seed(0)
    net = Temporal2D(len(CLASSES), frames=6, size=12)
    res = _train_and_test(net, motion_set, tmp_path, 6, 12, "2d", iters=25)
    assert res.accuracy >= 0.7, res.confusion()


# ----------------------------------------------------------------------------- DDP

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank, world, port, manifest, out_dir):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    ds = MotionVolumes(manifest, "train", frames=32, size=12)
    fit(_tiny_3d(dropout=0.0), ds, iters=3, batch_size=8, lr=3e-3, seed=1, workers=0, progress=False,
        out_dir=out_dir, device="cpu")
    torch.distributed.destroy_process_group()


def test_ddp_two_processes_match_single_process(motion_set, tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_ddp_worker, args=(2, _free_port(), str(motion_set), str(tmp_path / "ddp")), nprocs=2, join=True)
    ds = MotionVolumes(motion_set, "train", frames=32, size=12)
    fit(_tiny_3d(dropout=0.0), ds, iters=3, batch_size=8, lr=3e-3, seed=1, workers=0, progress=False,
        out_dir=tmp_path / "single", device="cpu")
    ddp, single = load_checkpoint(tmp_path / "ddp"), load_checkpoint(tmp_path / "single")
    assert ddp["iteration"] == 3 and len(ddp["rng"]) == 2
    # Each rank took half of every batch; averaged gradients equal the full-batch gradient.
    for k, v in single["model"].items():
        assert torch.allclose(v, ddp["model"][k], atol=1e-5, rtol=1e-4), k


def test_load_model_rebuilds_checkpointed_network(motion_set, tmp_path):
    ds = MotionVolumes(motion_set, "train", frames=32, size=12)
    net = _tiny_3d()
    fit(net, ds, iters=1, batch_size=2, progress=False, workers=0, out_dir=tmp_path,
        config={"model": "3d", "num_classes": len(CLASSES), "frames": 32, "size": 12})
    model, cfg = load_model(tmp_path / "last.pt")
    assert cfg["frames"] == 32 and not model.training
    assert next(model.parameters()).device.type == "cpu"  # loaded where asked (default: CPU)
    x = torch.randn(2, 2, 32, 12, 12)
    net.cpu().eval()  # fit() trained it in place, on the GPU where there is one
    with torch.no_grad():
        assert torch.equal(model(x), net(x))
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "absent.pt")


# ----------------------------------------------------------------------------- end to end

@pytest.fixture(scope="module")
def encoded_set(tmp_path_factory):
    """SyntheticMotion clips (6 motion classes, 8 videos each, 2 of them held out) encoded by our
    H.264 encoder at QP 30 with build_mv_dataset."""
    from mvclass.datasets import SyntheticMotion, build_mv_dataset

    out = tmp_path_factory.mktemp("encoded")
    clips = SyntheticMotion(6, 8, size=(128, 96), frames=32, seed=1)
    build_mv_dataset(clips, out, "h264", 30, workers=2, progress=False)
    return out / "manifest.csv"


@pytest.mark.parametrize("model,frames", [("3d", 32), ("2d", 6)])
def test_cli_trains_and_evaluates_on_encoded_videos(encoded_set, tmp_path, model, frames):
    from mvclass.cli import main

    run = tmp_path / "run"
    # Rotation/translation classes are not mirror-symmetric, hence --no-flip.
    common = ["--model", model, "--data", str(encoded_set), "--frames", str(frames), "--size", "12",
              "--batch-size", "12", "--clip-grad", "5", "--no-flip", "--workers", "2", "--out", str(run),
              "--no-progress", "--checkpoint-every", "20"]
    if model == "3d":  # the loader through memory-mapped motion copies
        common += ["--motion-cache", str(tmp_path / "mvcache")]
    assert main(["train", *common, "--iters", "20"]) == 0
    assert model != "3d" or len(list((tmp_path / "mvcache").glob("*.npy"))) == len(read_manifest(encoded_set, "train"))
    assert main(["train", *common, "--iters", "40", "--resume"]) == 0  # continues from iteration 20
    assert load_checkpoint(run)["iteration"] == 40
    assert main(["evaluate", "--checkpoint", str(run / "last.pt"), "--data", str(encoded_set), "--model", model,
                 "--volumes", "2", "--workers", "0", "--no-progress"]) == 0
    tag = {"3d": "3D", "2d": "2D"}[model] + "_QP30"
    correct = [int(v) for v in (run / f"correct_vec_{tag}").read_text().split()]
    names = (run / f"filenames_{tag}").read_text().split()
    held_out = [r.name for r in read_manifest(encoded_set, "test")]
    assert names == [f"rgb24_{n}.bin" for n in held_out] and len(correct) == 12
    assert np.mean(correct) >= 0.6, correct  # chance is 1/6


# ----------------------------------------------------------------------------- untrusted checkpoints

class _Evil:
    """Unpickling this runs code: it writes a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('pwned')",)


def test_malicious_checkpoint_does_not_run_code(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "last.pt"
    torch.save({"model": {}, "iteration": 0, "config": {"x": _Evil(marker)}}, path)
    for load in (load_checkpoint, load_model):
        with pytest.raises(ValueError, match="not a loadable mvclass checkpoint") as e:
            load(path)
        assert "\n" not in str(e.value) and "exec" in str(e.value)
        assert not marker.exists()
    with pytest.raises(ValueError, match="not a loadable"):
        fit(_tiny_3d(), list(range(4)), iters=1, resume=path, progress=False, workers=0)
    assert not marker.exists()


def test_checkpoint_holds_only_plain_types_and_old_numpy_rng_still_loads(motion_set, tmp_path):
    ds = MotionVolumes(motion_set, "train", frames=32, size=12)
    fit(_tiny_3d(), ds, iters=1, batch_size=2, progress=False, workers=0, out_dir=tmp_path)
    # Loads with torch's own weights-only unpickler, no allow-list needed.
    ckpt = torch.load(tmp_path / "last.pt", weights_only=True)
    assert isinstance(ckpt["rng"][0]["numpy"]["keys"], torch.Tensor)
    # Checkpoints of earlier versions held numpy's RNG state as an ndarray tuple.
    import random
    ckpt["rng"][0]["numpy"] = np.random.get_state()
    ckpt["rng"][0]["python"] = random.getstate()
    torch.save(ckpt, tmp_path / "old.pt")
    assert isinstance(load_checkpoint(tmp_path / "old.pt")["rng"][0]["numpy"][1], np.ndarray)
    res = fit(_tiny_3d(), ds, iters=2, batch_size=2, progress=False, workers=0, resume=tmp_path / "old.pt")
    assert res.start_iteration == 1 and res.iteration == 2


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all\n", b"PK\x03\x04garbage"])
def test_cli_evaluate_garbage_checkpoint_is_one_line(tmp_path, capsys, content):
    from mvclass.cli import main

    bad = tmp_path / "bad.pt"
    bad.write_bytes(content)
    assert main(["evaluate", "--checkpoint", str(bad), "--data", str(tmp_path / "m.csv")]) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("mvclass evaluate: error:") and str(bad) in err and "\n" not in err
