"""Flow cross-check and pictures: colour coding against matplotlib's HSV conversion, OpenCV flow
against the synthetic set's analytic flow, AEPE of our MVs against known flow, PNG outputs."""
import numpy as np
import pytest

from mvclass.datasets import SyntheticMotion
from mvclass.flow import aepe, cell_mean, dense_flow, plot_aepe
from mvclass.io import rgb_to_yuv420
from mvclass.viz import colour_wheel, flow_image, qp_figure


def test_flow_image_is_the_hsv_wheel():
    from matplotlib.colors import hsv_to_rgb

    rng = np.random.default_rng(0)
    mv = rng.normal(0, 5, (6, 7, 2))
    img = flow_image(mv, max_magnitude=10.0)
    mag = np.hypot(mv[..., 0], mv[..., 1])
    hsv = np.stack([(np.arctan2(mv[..., 1], mv[..., 0]) / (2 * np.pi)) % 1, np.clip(mag / 10, 0, 1),
                    np.ones_like(mag)], -1)
    expect = np.rint(hsv_to_rgb(hsv) * 255)
    assert img.dtype == np.uint8 and np.abs(img.astype(int) - expect).max() <= 1
    assert flow_image(np.zeros((2, 2, 2))).tolist() == [[[255] * 3] * 2] * 2  # no motion: white
    right = flow_image(np.array([[[3.0, 0.0]]]))
    assert right[0, 0].tolist() == [255, 0, 0]
    masked = flow_image(mv, mask=np.zeros((6, 7), bool), cell=8)
    assert masked.shape == (48, 56, 3) and (masked == 128).all()
    wheel = colour_wheel(33)
    assert wheel.shape == (33, 33, 3) and wheel[16, 32].tolist() == [255, 0, 0]
    with pytest.raises(ValueError):
        flow_image(np.zeros((3, 3)))


def test_cell_mean_handles_partial_cells():
    rng = np.random.default_rng(1)
    f = rng.normal(size=(20, 13, 2))
    got = cell_mean(f)
    assert got.shape == (3, 2, 2)
    for i in range(3):
        for j in range(2):
            np.testing.assert_allclose(got[i, j], f[8 * i:8 * i + 8, 8 * j:8 * j + 8].reshape(-1, 2).mean(0))


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_opencv_flow_direction_matches_known_flow(method):
    pytest.importorskip("cv2")
    ds = SyntheticMotion(10, 1, size=(160, 120), frames=4, seed=3)
    for i in (0, 3, 9):  # right, up, shake
        clip, truth = ds.clip(i), ds.flow(i)
        y = [rgb_to_yuv420(f)[0] for f in clip]
        for t in (1, 3):
            est = cell_mean(dense_flow(y[t], y[t - 1], method))
            ref = cell_mean(truth[t])
            err = np.hypot(*(est - ref).transpose(2, 0, 1)).mean()
            wrong_way = np.hypot(*(-est - ref).transpose(2, 0, 1)).mean()
            assert err < 0.3 and err < 0.5 * wrong_way, (i, t, err, wrong_way)


@pytest.fixture(scope="module")
def moving_clip():
    """A translating object over a drifting background at a size where motion is several pixels."""
    ds = SyntheticMotion(10, 1, size=(192, 128), frames=10, seed=11)
    return ds.clip(0), ds.flow(0)


def test_aepe_against_known_flow_small_at_mid_qp(moving_clip):
    clip, truth = moving_clip
    res = aepe(clip, qps=[30], flow=truth, ref_frames=1)
    assert res.method == "given" and res.cells[0] > 9 * 16 * 24 * 0.5
    assert res.aepe[0] < 0.5, str(res)
    # the same clip against OpenCV's flow (what the Boxing cross-check uses)
    dis = aepe(clip, qps=[30], method="dis", ref_frames=1)
    assert dis.aepe[0] < 0.8, str(dis)


def test_aepe_table_and_plot(moving_clip, tmp_path):
    clip, _ = moving_clip
    res = aepe(clip[:4], qps=[0, 51], method="dis")
    assert res.qps == [0, 51] and len(res.aepe) == 2 and all(np.isfinite(res.aepe))
    assert res.best_qp in (0, 51) and "AEPE" in str(res)
    plot_aepe(res, tmp_path / "aepe.png")
    assert (tmp_path / "aepe.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="method"):
        aepe(clip, qps=[30], method="brox")
    with pytest.raises(ValueError, match="flow must have shape"):
        aepe(clip, qps=[30], flow=np.zeros((2, 8, 8, 2)))


def test_qp_figure_and_show_cli(moving_clip, tmp_path):
    from mvclass.cli import main

    clip, _ = moving_clip
    fig = qp_figure(clip, qps=[20, 45], frame=2, out=tmp_path / "fig.png")
    assert len(fig.axes) == 5 and (tmp_path / "fig.png").stat().st_size > 5000
    from mvclass.datasets.synthetic import SyntheticMotion as S

    path = S(1, 1, size=(64, 48), frames=4, seed=0).write(tmp_path)[0]
    assert main(["show", str(path), "--qp", "30", "--frame", "2", "-o", str(tmp_path / "show.png")]) == 0
    assert (tmp_path / "show.png").stat().st_size > 1000
    assert main(["show", str(path), "--qp", "30", "--frame", "9", "-o", str(tmp_path / "x.png")]) == 2
