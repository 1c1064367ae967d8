"""Dataset indexes on temporary trees that mirror the official layouts (with the real UCF-101
split-1 lists), and the synthetic motion set checked against its known flow."""
import pickle
import shutil

import numpy as np
import pytest

from mvclass.datasets import HMDB51, MOTION_CLASSES, UCF101, SyntheticMotion, Video


# ----------------------------------------------------------------------------- UCF-101

@pytest.fixture(scope="module")
def ucf_lists(shared_data):
    return shared_data / "ucf101" / "ucfTrainTestlist"


def _list_paths(lists_dir, name):
    return [ln.split()[0] for ln in (lists_dir / name).read_text().splitlines() if ln.strip()]


@pytest.fixture(scope="module")
def ucf_tree(tmp_path_factory, ucf_lists, boxing_clip):
    """An UCF-101 tree with every split-1 video present (empty files; Boxing is the real clip)."""
    root = tmp_path_factory.mktemp("UCF-101")
    for rel in _list_paths(ucf_lists, "trainlist01.txt") + _list_paths(ucf_lists, "testlist01.txt"):
        p = root / rel
        p.parent.mkdir(exist_ok=True)
        p.touch()
    shutil.copyfile(boxing_clip, root / "BoxingPunchingBag" / boxing_clip.name)
    return root


def test_ucf101_split1_matches_official_lists(ucf_tree, ucf_lists):
    train = UCF101(ucf_tree, split=1, train=True, lists_dir=ucf_lists)
    test = UCF101(ucf_tree, split=1, train=False, lists_dir=ucf_lists)
    assert (len(train), len(test)) == (9537, 3783)
    assert train.num_classes == test.num_classes == 101
    assert train.classes[0] == "ApplyEyeMakeup" and train.classes[-1] == "YoYo"
    # labels: the trainlist's own 1-based label, minus one, for every line (CRLF and all)
    listed = [int(ln.split()[1]) - 1 for ln in (ucf_lists / "trainlist01.txt").read_text().splitlines() if ln.strip()]
    assert train.labels().tolist() == listed
    assert {v.split for v in train} == {"train"} and {v.split for v in test} == {"test"}
    assert set(train.labels()) == set(range(101)) == set(test.labels())
    assert not {v.name for v in train} & {v.name for v in test}
    box = next(v for v in test if v.name == "v_BoxingPunchingBag_g05_c01")
    assert box.label_name == "BoxingPunchingBag" and box.label == train.classes.index("BoxingPunchingBag")
    assert box.path.stat().st_size > 0
    # class directory and file name spelled differently in the official files
    hs = next(v for v in train if v.name.startswith("v_HandStandPushups"))
    assert hs.label_name == "HandstandPushups" and hs.path.parent.name == "HandstandPushups"


def test_ucf101_default_lists_dir_and_missing_split(tmp_path, ucf_lists):
    root = tmp_path / "ucf"
    shutil.copytree(ucf_lists, root / "ucfTrainTestlist")
    for rel in _list_paths(ucf_lists, "testlist01.txt"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).touch()
    assert len(UCF101(root, split=1, train=False)) == 3783
    with pytest.raises(FileNotFoundError, match="testlist02"):
        UCF101(root, split=2, train=False)
    with pytest.raises(ValueError, match="split must be 1, 2 or 3"):
        UCF101(root, split=4)
    with pytest.raises(FileNotFoundError, match="root not found"):
        UCF101(tmp_path / "nowhere")


def test_ucf101_missing_videos_listed_or_skipped(tmp_path, ucf_lists):
    root = tmp_path / "ucf"
    test_paths = _list_paths(ucf_lists, "testlist01.txt")
    gone = {test_paths[5], test_paths[1000]}
    for rel in test_paths:
        if rel not in gone:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).touch()
    with pytest.raises(FileNotFoundError) as e:
        UCF101(root, split=1, train=False, lists_dir=ucf_lists)
    msg = str(e.value)
    assert "(2)" in msg and all(g.split("/")[1] in msg for g in gone)
    with pytest.warns(UserWarning, match="skipping missing"):
        ds = UCF101(root, split=1, train=False, lists_dir=ucf_lists, skip_missing=True)
    assert len(ds) == 3781 and len(ds.skipped) == 2
    assert not {g.split("/")[1][:-4] for g in gone} & {v.name for v in ds}


def test_ucf101_malformed_lists_name_every_problem(tmp_path, ucf_lists):
    lists = tmp_path / "lists"
    shutil.copytree(ucf_lists, lists)
    lines = (ucf_lists / "trainlist01.txt").read_bytes().split(b"\r\n")
    lines[3] = b"NoSuchClass/v_NoSuchClass_g01_c01.avi 5"          # unknown class
    lines[10] = lines[10].rsplit(b" ", 1)[0] + b" 7"                # label contradicts classInd
    lines[20] = b"ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi 1 x"  # three fields
    lines[30] = b"ApplyLipstick v_x.avi 2"                           # not a path
    (lists / "trainlist01.txt").write_bytes(b"\r\n".join(lines))
    with pytest.raises(ValueError) as e:
        UCF101(tmp_path, split=1, lists_dir=lists)
    msg = str(e.value)
    assert "(4)" in msg
    for where in ("trainlist01.txt:4:", "trainlist01.txt:11:", "trainlist01.txt:21:", "trainlist01.txt:31:"):
        assert where in msg
    assert "unknown class 'NoSuchClass'" in msg and "contradicts classInd" in msg
    (lists / "classInd.txt").write_text("1 A\r\n1 B\r\nthree C\r\n")
    with pytest.raises(ValueError, match="malformed class index"):
        UCF101(tmp_path, split=1, lists_dir=lists)


def test_verify_reports_unreadable_videos(ucf_tree, ucf_lists, tmp_path):
    test = UCF101(ucf_tree, split=1, train=False, lists_dir=ucf_lists)
    box = [v for v in test if v.name == "v_BoxingPunchingBag_g05_c01"]
    broken = tmp_path / "broken.avi"
    broken.write_bytes(b"this is not a video" * 100)
    from mvclass.datasets import VideoDataset

    ds = VideoDataset(box + [Video("broken", 0, "X", "test", path=broken)], test.classes)
    with pytest.raises(ValueError, match="unreadable videos \\(1\\)"):
        ds.verify()
    bad = ds.verify(skip=True)
    assert [n for n, _ in bad] == ["broken"] and [v.name for v in ds] == ["v_BoxingPunchingBag_g05_c01"]


# ----------------------------------------------------------------------------- HMDB-51

HMDB_CLASSES = {"brush_hair": 6, "cartwheel": 5, "wave": 7}


def _hmdb_tree(root, crlf=True):
    """Three classes, three splits; video j of a class is train/test/unused by (j + split) % 3."""
    sd = root / "testTrainMulti_7030_splits"
    sd.mkdir(parents=True)
    eol = "\r\n" if crlf else "\n"
    for cls, n in HMDB_CLASSES.items():
        (root / cls).mkdir()
        names = [f"{cls}_clip#{j}_f_cm_np1_ri_med_{j}.avi" for j in range(n)]
        for name in names:
            (root / cls / name).touch()
        for split in (1, 2, 3):
            text = "".join(f"{name} {[1, 2, 0][(j + split) % 3]} {eol}" for j, name in enumerate(names))
            (sd / f"{cls}_test_split{split}.txt").write_text(text)
    return sd


def test_hmdb51_layout_and_flags(tmp_path):
    _hmdb_tree(tmp_path)
    for split in (1, 2, 3):
        tr = HMDB51(tmp_path, split=split, train=True)
        te = HMDB51(tmp_path, split=split, train=False)
        assert tr.classes == sorted(HMDB_CLASSES) and tr.num_classes == 3
        for ds, flag in ((tr, 1), (te, 2)):
            expect = {f"{c}_clip#{j}_f_cm_np1_ri_med_{j}" for c, n in HMDB_CLASSES.items() for j in range(n)
                      if [1, 2, 0][(j + split) % 3] == flag}
            assert {v.name for v in ds} == expect
            for v in ds:
                assert v.label == sorted(HMDB_CLASSES).index(v.label_name) and v.path.parent.name == v.label_name
        assert not {v.name for v in tr} & {v.name for v in te}


def test_hmdb51_errors(tmp_path):
    sd = _hmdb_tree(tmp_path, crlf=False)
    bad = sd / "wave_test_split2.txt"
    lines = bad.read_text().splitlines()
    lines[0] = lines[0].replace(" 1 ", " 3 ").replace(" 2 ", " 3 ").replace(" 0 ", " 3 ")
    lines[2] = "no_flag_here.avi"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError) as e:
        HMDB51(tmp_path, split=2)
    assert "wave_test_split2.txt:1: flag must be 0, 1 or 2" in str(e.value)
    assert "wave_test_split2.txt:3: expected" in str(e.value)
    HMDB51(tmp_path, split=1)  # other splits unaffected
    (sd / "cartwheel_test_split3.txt").unlink()
    with pytest.raises(ValueError, match="'cartwheel' has no cartwheel_test_split3.txt"):
        HMDB51(tmp_path, split=3)
    with pytest.raises(ValueError, match="unknown class 'wave'"):
        HMDB51(tmp_path, split=1, classes=["brush_hair", "cartwheel"])
    (tmp_path / "brush_hair" / "brush_hair_clip#5_f_cm_np1_ri_med_5.avi").unlink()
    gone_split = next(s for s in (1, 2, 3) if [1, 2, 0][(5 + s) % 3] == 1)
    with pytest.raises(FileNotFoundError, match="brush_hair_clip#5"):
        HMDB51(tmp_path, split=gone_split, train=True)
    with pytest.warns(UserWarning):
        ds = HMDB51(tmp_path, split=gone_split, train=True, skip_missing=True)
    assert len(ds.skipped) == 1
    with pytest.raises(FileNotFoundError, match="split directory not found"):
        HMDB51(tmp_path / "brush_hair")


# ----------------------------------------------------------------------------- synthetic

def test_synthetic_is_deterministic_and_labelled():
    ds = SyntheticMotion(num_classes=10, videos_per_class=4, size=(96, 64), frames=6, seed=7)
    assert len(ds) == 40 and ds.classes == list(MOTION_CLASSES)
    assert ds.labels().tolist() == [c for c in range(10) for _ in range(4)]
    assert [v.split for v in ds][:4] == ["train", "train", "train", "test"]
    a = ds.clip(13)
    assert a.shape == (6, 64, 96, 3) and a.dtype == np.uint8 and 20 < a.std() < 100
    again = SyntheticMotion(num_classes=10, videos_per_class=4, size=(96, 64), frames=6, seed=7)
    assert np.array_equal(again.clip(13), a)
    # a pickled item (what worker processes receive) renders the same pixels
    assert np.array_equal(pickle.loads(pickle.dumps(ds[13])).source(), a)
    other = SyntheticMotion(num_classes=10, videos_per_class=4, size=(96, 64), frames=6, seed=8)
    assert not np.array_equal(other.clip(13), a)
    with pytest.raises(ValueError, match="num_classes"):
        SyntheticMotion(num_classes=11)
    with pytest.raises(ValueError, match="size"):
        SyntheticMotion(size=(95, 64))


def _warp_error(clip, flow):
    """Median |frame_t - frame_{t-1}(x + flow)| on moving pixels, and the same with zero flow."""
    from scipy.ndimage import map_coordinates

    c = clip.astype(np.float64)
    h, w = c.shape[1:3]
    yy, xx = np.mgrid[0:h, 0:w]
    warped, still = [], []
    for t in range(1, len(c)):
        back = np.stack([map_coordinates(c[t - 1, ..., k], [yy + flow[t, ..., 1], xx + flow[t, ..., 0]], order=1,
                                         mode="nearest") for k in range(3)], -1)
        diff0 = np.abs(c[t] - c[t - 1]).mean(-1)[4:-4, 4:-4]
        moving = diff0 > 4
        warped.append(np.median(np.abs(back - c[t]).mean(-1)[4:-4, 4:-4][moving]))
        still.append(np.median(diff0[moving]))
    return np.mean(warped), np.mean(still)


@pytest.mark.parametrize("cls", range(10))
def test_synthetic_flow_explains_the_frames(cls):
    ds = SyntheticMotion(10, 1, size=(128, 96), frames=5, seed=3, noise=0.0)
    flow = ds.flow(cls)
    assert flow.shape == (5, 96, 128, 2) and not flow[0].any()
    warped, still = _warp_error(ds.clip(cls), flow)
    assert warped < 0.35 * still, (MOTION_CLASSES[cls], warped, still)


def test_synthetic_motion_directions():
    ds = SyntheticMotion(10, 1, size=(160, 120), frames=4, seed=0, noise=0.0)
    for i, name in enumerate(MOTION_CLASSES[:4]):
        f = ds.flow(i)[2]
        bg = np.median(f.reshape(-1, 2), axis=0)
        obj = f[np.abs(f - bg).sum(-1) > 0.1].mean(axis=0)  # pixels moving unlike the background
        expect = {"translate_right": (-1, 0), "translate_left": (1, 0),
                  "translate_down": (0, -1), "translate_up": (0, 1)}[name]  # backward flow
        assert np.dot(obj, expect) > 0.9 * np.linalg.norm(obj), (name, obj)
    rot = ds.flow(4)[2]
    yy, xx = np.mgrid[0:120, 0:160]
    moving = np.abs(rot - np.median(rot.reshape(-1, 2), 0)).sum(-1) > 0.2
    cx, cy = xx[moving].mean(), yy[moving].mean()
    # clockwise on screen (y down): backward flow turns points counter-clockwise, cross product < 0
    cross = (xx - cx) * rot[..., 1] - (yy - cy) * rot[..., 0]
    assert cross[moving].mean() < 0


@pytest.mark.parametrize("fmt", ["y4m", "avi"])
def test_synthetic_write_reads_back(tmp_path, fmt):
    from mvclass.io import read_frames, rgb_to_yuv420

    ds = SyntheticMotion(2, 1, size=(64, 48), frames=3, seed=1)
    paths = ds.write(tmp_path, fmt=fmt)
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        f"translate_right/translate_right_0000.{fmt}", f"translate_left/translate_left_0000.{fmt}"]
    frames = read_frames(paths[1])  # FFmpeg for .avi (lossless FFV1), our reader for .y4m
    clip = ds.clip(1)
    assert len(frames) == 3
    for got, rgb in zip(frames, clip):
        for a, b in zip(got, rgb_to_yuv420(rgb)):
            assert np.array_equal(a, b)
