"""build_mv_dataset on small synthetic sets: process pool, Dask cluster, kill and resume, error
log; the manifest's rates against encode_cropped on the same videos."""
import csv
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import mvclass
from mvclass.datasets import (MANIFEST_COLUMNS, MANIFEST_EXTRA_COLUMNS, NPZ_KEYS, SyntheticMotion, Video, build_mv_dataset, load_mv_file,
                              read_manifest)
from mvclass.mcnn.rates import input_rates

SET = dict(num_classes=3, videos_per_class=2, size=(96, 64), frames=16, seed=5)
QP = 30


@pytest.fixture(scope="module")
def small_set():
    return SyntheticMotion(**SET)


@pytest.fixture(scope="module")
def pool_build(small_set, tmp_path_factory):
    out = tmp_path_factory.mktemp("pool")
    report = build_mv_dataset(small_set, out, codec="h264", qp=QP, workers=2, progress=False)
    return out, report


def test_pool_build_writes_every_video(small_set, pool_build):
    out, report = pool_build
    assert report.failed == [] and report.encoded == len(small_set) and report.reused == 0
    rows = read_manifest(out / "manifest.csv")
    assert [r["name"] for r in rows] == [v.name for v in small_set]
    with open(out / "manifest.csv") as f:
        assert tuple(next(csv.reader(f))) == MANIFEST_COLUMNS + MANIFEST_EXTRA_COLUMNS
    for row, v in zip(rows, small_set):
        assert (row["label"], row["label_name"], row["split"]) == (v.label, v.label_name, v.split)
        assert (row["codec"], row["qp"], row["frames"], row["fps"]) == ("h264", QP, 16, 25.0)
        d = load_mv_file(out / row["path"])
        assert set(NPZ_KEYS) <= set(d)
        t, h8, w8 = 16, 8, 12
        assert d["mv"].shape == (t, h8, w8, 2) and d["mv"].dtype == np.int16
        assert d["mvd"].shape == (t, h8, w8, 2) and d["mvd"].dtype == np.int16
        assert d["mv_mask"].shape == (t, h8, w8) and d["mv_mask"].dtype == bool
        assert d["ref"].dtype == np.int8 and d["frame_type"].dtype == np.dtype("<U1")
        assert d["frame_type"][0] == "I" and set(d["frame_type"][1:]) == {"P"}
        assert d["bits_full_cat"].shape == (t, len(d["categories"]))
        np.testing.assert_allclose(d["bits_full_cat"].sum(1), d["bits_full"])
        np.testing.assert_allclose(d["bits_cropped_cat"].sum(1), d["bits_cropped"])
        assert d["idr"].shape == (64, 96, 3) and d["idr"].dtype == np.uint8
        assert (d["label"], d["codec"], d["qp"], d["fps"]) == (v.label, "h264", QP, 25.0)
    assert not list((out / "videos").glob(".*.tmp"))
    with open(out / "errors.csv") as f:
        assert len(f.read().strip().splitlines()) == 1  # header only


def test_manifest_parquet_beside_csv_reads_the_same(pool_build, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    out, _ = pool_build
    rows_csv = read_manifest(out / "manifest.csv")
    rows_pq = read_manifest(out / "manifest.parquet")
    assert rows_pq == rows_csv and len(rows_csv) == 6
    table = pq.read_table(out / "manifest.parquet")
    assert tuple(table.column_names) == MANIFEST_COLUMNS + MANIFEST_EXTRA_COLUMNS
    assert str(table.schema.field("qp").type) == "int64" and str(table.schema.field("r_motion").type) == "double"
    # a directory with only the Parquet file reads it; a CSV beside it is preferred
    only = tmp_path / "only"
    only.mkdir()
    (only / "manifest.parquet").write_bytes((out / "manifest.parquet").read_bytes())
    got = read_manifest(only)
    assert [{k: v for k, v in r.items() if k != "abspath"} for r in got] == \
        [{k: v for k, v in r.items() if k != "abspath"} for r in rows_csv]
    assert got[0]["abspath"] == str(only / rows_csv[0]["path"])
    # an unknown frame count is null in Parquet, None when read, as from an empty CSV cell
    import pyarrow as pa

    t2 = table.set_column(table.column_names.index("frames_declared"), "frames_declared",
                          pa.array([None] * table.num_rows, pa.int64()))
    pq.write_table(t2, only / "manifest.parquet")
    assert all(r["frames_declared"] is None for r in read_manifest(only / "manifest.parquet"))
    # not a manifest: missing columns, or not Parquet at all
    pq.write_table(table.drop_columns(["r_motion"]), only / "bad.parquet")
    with pytest.raises(ValueError, match="missing columns r_motion"):
        read_manifest(only / "bad.parquet")
    (only / "junk.parquet").write_bytes(b"name,path\n")
    with pytest.raises(ValueError, match="Parquet"):
        read_manifest(only / "junk.parquet")


def test_manifest_rates_equal_encode_cropped(small_set, pool_build):
    out, _ = pool_build
    rows = {r["name"]: r for r in read_manifest(out)}
    for v in small_set.videos[::2]:
        r = mvclass.encode_cropped(v.source(), qp=QP, codec="h264", keep_recon=True)
        row = rows[v.name]
        rates = r.rates
        assert row["r_orig"] == pytest.approx(rates.orig, rel=1e-12)
        assert row["r_cropped"] == pytest.approx(rates.cropped, rel=1e-12)
        assert row["r_motion"] == pytest.approx(rates.motion, rel=1e-12)
        expect = input_rates(r.frame_bits["full"], r.frame_bits["cropped"], fps=r.fps)
        assert (row["r_3d"], row["r_2d"], row["r_sp"]) == pytest.approx(tuple(expect), rel=1e-12)
        d = load_mv_file(out / row["path"])
        assert np.array_equal(d["mv"], r.mv) and np.array_equal(d["mv_mask"], r.mv_mask)
        assert np.array_equal(d["mvd"], r.mvd) and np.array_equal(d["ref"], r.ref)
        # the stored IDR picture is FFmpeg's decoding of frame 0: the encoder's reconstruction in RGB
        # (up to the colour conversion's rounding), and close to the source
        from mvclass.io import yuv420_to_rgb

        assert np.abs(d["idr"].astype(int) - yuv420_to_rgb(*r.recon[0])).mean() < 1.5
        err = d["idr"].astype(float) - v.source()[0].astype(float)
        assert 10 * np.log10(255 ** 2 / np.mean(err ** 2)) > 25


def test_dask_local_cluster_build_matches_pool(small_set, pool_build, tmp_path):
    distributed = pytest.importorskip("distributed")
    out_pool, _ = pool_build
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                                  silence_logs=40) as cluster:
        report = build_mv_dataset(small_set, tmp_path, codec="h264", qp=QP, scheduler=cluster.scheduler_address,
                                  progress=False)
        with distributed.Client(cluster) as client:  # a Client object (left open for the caller) works too
            sub = build_mv_dataset(small_set[:2], tmp_path / "client", codec="h264", qp=QP, scheduler=client,
                                   progress=False)
            assert client.status == "running"
        assert sub.encoded == 2 and not sub.failed
    assert report.failed == [] and report.encoded == len(small_set)
    a, b = read_manifest(out_pool), read_manifest(tmp_path)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "abspath"} for r in rows]
    assert strip(a) == strip(b)
    if (out_pool / "manifest.parquet").exists():  # pyarrow installed: the Parquet tables agree too
        assert strip(read_manifest(out_pool / "manifest.parquet")) == strip(read_manifest(tmp_path / "manifest.parquet")) == strip(a)
    for row in a:  # deterministic encoder: the same arrays wherever they were made
        x, y = load_mv_file(out_pool / row["path"]), load_mv_file(tmp_path / row["path"])
        for k in ("mv", "mvd", "mv_mask", "bits_full", "bits_cropped", "idr"):
            assert np.array_equal(x[k], y[k])


RUNNER = textwrap.dedent("""
    import sys
    from mvclass.datasets import SyntheticMotion, build_mv_dataset
    ds = SyntheticMotion(num_classes=3, videos_per_class=4, size=(96, 64), frames=16, seed=5)
    build_mv_dataset(ds, sys.argv[1], codec="h264", qp=30, workers=1, progress=False)
""")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return not any(line.startswith("State:") and "Z" in line.split()[1] for line in f)
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process tree from /proc")
def test_workers_exit_when_the_build_is_killed(tmp_path):
    """SIGKILL of the building process (only it: not its process group) ends its pool workers too."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(mvclass.__file__).parents[1])] +
                                                       os.environ.get("PYTHONPATH", "").split(os.pathsep)))
    runner = RUNNER.replace("workers=1", "workers=2").replace("videos_per_class=4", "videos_per_class=40")
    proc = subprocess.Popen([sys.executable, "-c", runner, str(tmp_path)], env=env, start_new_session=True)
    try:
        deadline = time.time() + 240
        kids = []
        while time.time() < deadline and proc.poll() is None and not list((tmp_path / "videos").glob("*.npz")):
            time.sleep(0.05)
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        kids = [int(k) for k in children.read_text().split()] if children.exists() else []
        assert len(kids) >= 2, "the build should be running its pool"
        proc.kill()  # the parent alone
        proc.wait()
        deadline = time.time() + 20
        while time.time() < deadline and any(_alive(k) for k in kids):
            time.sleep(0.1)
        assert not any(_alive(k) for k in kids), "pool workers outlived the killed build"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_killed_build_resumes(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(mvclass.__file__).parents[1])] +
                                                       os.environ.get("PYTHONPATH", "").split(os.pathsep)))
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, str(tmp_path)], env=env, start_new_session=True)
    videos = tmp_path / "videos"
    deadline = time.time() + 240
    try:
        while time.time() < deadline and proc.poll() is None and len(list(videos.glob("*.npz"))) < 3:
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the runner and its pool worker
        proc.wait()
    done_before = {p.name: p.stat().st_mtime_ns for p in videos.glob("*.npz")}
    assert 3 <= len(done_before) < 12, "the build should have been killed part-way"
    assert not (tmp_path / "manifest.csv").exists()
    ds = SyntheticMotion(num_classes=3, videos_per_class=4, size=(96, 64), frames=16, seed=5)
    report = build_mv_dataset(ds, tmp_path, codec="h264", qp=30, workers=2, progress=False)
    assert report.reused == len(done_before) and report.encoded == 12 - len(done_before) and not report.failed
    assert all(p.stat().st_mtime_ns == done_before[p.name] for p in videos.glob("*.npz") if p.name in done_before)
    assert not list(videos.glob(".*.tmp"))
    rows = read_manifest(tmp_path)
    assert [r["name"] for r in rows] == [v.name for v in ds]
    for r in rows:
        load_mv_file(tmp_path / r["path"])
    again = build_mv_dataset(ds, tmp_path, codec="h264", qp=30, workers=2, progress=False)
    assert (again.reused, again.encoded) == (12, 0)
    assert read_manifest(tmp_path) == rows
    with pytest.raises(ValueError, match="use another output directory"):
        build_mv_dataset(ds, tmp_path, codec="h264", qp=40, workers=0, progress=False)
    with pytest.raises(ValueError, match="use another output directory"):
        build_mv_dataset(ds, tmp_path, codec="h264", qp=30, workers=0, progress=False, ref_frames=1)
    (tmp_path / "build.json").unlink()  # without the record, each file's own codec/qp still guards it
    with pytest.raises(ValueError, match="built with codec=h264 qp=30"):
        build_mv_dataset(ds, tmp_path, codec="h264", qp=40, workers=0, progress=False)


def test_bad_videos_are_logged_not_fatal(small_set, tmp_path, boxing_clip):
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"not a video at all" * 50)
    videos = [Video.from_array(small_set[0].name, 0, "a", "train", small_set[0].source()),
              Video("missing", 1, "b", "train", path=tmp_path / "missing.avi"),
              Video("junk", 1, "b", "test", path=junk),
              small_set[1]]
    # a truncated .npz from another tool is encoded again, not trusted
    (tmp_path / "out" / "videos").mkdir(parents=True)
    (tmp_path / "out" / "videos" / f"{small_set[1].name}.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.warns(RuntimeWarning, match=r"2 of 4 videos failed to encode; see .*errors.csv \(first: "):
        report = build_mv_dataset(videos, tmp_path / "out", codec="h264", qp=QP, workers=0, progress=False,
                                  max_frames=4)
    assert report.encoded == 2 and report.reused == 0
    assert sorted(n for n, _ in report.failed) == ["junk", "missing"]
    with open(tmp_path / "out" / "errors.csv") as f:
        errs = {r["name"]: r for r in csv.DictReader(f)}
    assert set(errs) == {"missing", "junk"}
    assert "FileNotFoundError" in errs["missing"]["error"] and "ValueError" in errs["junk"]["error"]
    assert [r["name"] for r in read_manifest(tmp_path / "out")] == [small_set[0].name, small_set[1].name]
    assert all(r["frames"] == 4 for r in read_manifest(tmp_path / "out"))
    # raise_on_error: the same, as an exception, once the manifest of the rest is written
    with pytest.raises(RuntimeError, match="2 of 4 videos failed"):
        build_mv_dataset(videos, tmp_path / "out", codec="h264", qp=QP, workers=0, progress=False, max_frames=4,
                         raise_on_error=True)
    assert len(read_manifest(tmp_path / "out")) == 2


def test_truncated_video_is_kept_but_flagged_in_the_manifest(tmp_path, boxing_clip):
    from mvclass.io import VideoDecodeWarning

    data = boxing_clip.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[:len(data) // 2])
    videos = [Video("whole", 0, "a", "train", path=boxing_clip), Video("cut", 1, "b", "train", path=cut)]
    with pytest.warns(VideoDecodeWarning, match=r"1 of 2 videos decoded with errors.*frames_declared.*cut"):
        build_mv_dataset(videos, tmp_path / "out", codec="h264", qp=QP, workers=0, progress=False)
    rows = {r["name"]: r for r in read_manifest(tmp_path / "out")}
    assert (rows["whole"]["frames"], rows["whole"]["frames_declared"], rows["whole"]["decode_errors"]) == (296, 296, 0)
    assert rows["cut"]["frames_declared"] == 296 and rows["cut"]["frames"] < 296 and rows["cut"]["decode_errors"] > 0


def test_bad_arguments_and_files(small_set, tmp_path):
    with pytest.raises(ValueError, match="qp"):
        build_mv_dataset(small_set, tmp_path, qp=60, progress=False)
    with pytest.raises(ValueError, match="codec"):
        build_mv_dataset(small_set, tmp_path, codec="vp9", progress=False)
    with pytest.raises(ValueError, match="workers"):
        build_mv_dataset(small_set, tmp_path, workers=-1, progress=False)
    with pytest.raises(ValueError, match="keep_recon"):
        build_mv_dataset(small_set, tmp_path, keep_recon=True, progress=False)
    with pytest.raises(FileNotFoundError):
        load_mv_file(tmp_path / "nope.npz")
    (tmp_path / "x.npz").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable MV file"):
        load_mv_file(tmp_path / "x.npz")
    np.savez(tmp_path / "y.npz", mv=np.zeros(3))
    with pytest.raises(ValueError, match="missing"):
        load_mv_file(tmp_path / "y.npz")
    with pytest.raises(FileNotFoundError):
        read_manifest(tmp_path / "none.csv")
    (tmp_path / "m.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not an mvclass manifest"):
        read_manifest(tmp_path / "m.csv")


def test_cli_build_and_rates(tmp_path, capsys):
    from mvclass.cli import main

    rc = main(["build-dataset", "synthetic", str(tmp_path), "--classes", "2", "--videos-per-class", "1",
               "--frames", "6", "--size", "64", "48", "--qp", "30", "40", "--workers", "0", "-q"])
    assert rc == 0
    m30, m40 = tmp_path / "h264_qp30" / "manifest.csv", tmp_path / "h264_qp40" / "manifest.csv"
    assert len(read_manifest(m30)) == len(read_manifest(m40)) == 2
    capsys.readouterr()
    assert main(["rates", str(m30), str(m40.parent), "--plot", str(tmp_path / "rq.png")]) == 0
    out = capsys.readouterr().out
    lines = [ln.split() for ln in out.splitlines()]
    rows = {int(ln[0]): ln for ln in lines if ln and ln[0] in ("30", "40")}
    assert set(rows) == {30, 40}
    for qp, m in ((30, m30), (40, m40)):
        got = read_manifest(m)
        mean = [np.mean([r[c] for r in got]) for c in ("r_orig", "r_cropped", "r_motion")]
        assert [float(x) for x in rows[qp][2:5]] == pytest.approx(mean, abs=0.006)
        assert float(rows[qp][5].rstrip("%")) == pytest.approx(100 * mean[2] / mean[0], abs=0.06)
    assert (tmp_path / "rq.png").stat().st_size > 1000
    assert main(["rates", str(tmp_path / "nothing.csv")]) == 2


def test_hevc_build_matches_encode_cropped(small_set, tmp_path):
    from mvclass.io import yuv420_to_rgb

    videos = [small_set[0], small_set[3]]
    report = build_mv_dataset(videos, tmp_path, codec="hevc", qp=35, workers=0, progress=False, max_frames=8)
    assert report.failed == [] and report.encoded == 2
    for row, v in zip(read_manifest(tmp_path), videos):
        r = mvclass.encode_cropped(v.source(), qp=35, codec="hevc", max_frames=8, keep_recon=True)
        assert (row["codec"], row["qp"], row["frames"]) == ("hevc", 35, 8)
        assert (row["r_orig"], row["r_cropped"], row["r_motion"]) == pytest.approx(tuple(r.rates), rel=1e-12)
        d = load_mv_file(tmp_path / row["path"])
        assert d["codec"] == "hevc" and np.array_equal(d["mv"], r.mv) and np.array_equal(d["mvd"], r.mvd)
        assert np.abs(d["idr"].astype(int) - yuv420_to_rgb(*r.recon[0])).mean() < 1.5


class _DieInWorker:
    """A source whose rendering kills the worker process (as a segfault or the OOM killer would)."""

    def __call__(self):
        os._exit(3)


def test_dead_worker_is_logged_and_the_rest_is_built(small_set, tmp_path):
    videos = [small_set[0], Video("dies", 0, "x", "train", render=_DieInWorker()), small_set[1]]
    with pytest.warns(RuntimeWarning, match="1 of 3 videos failed"):
        report = build_mv_dataset(videos, tmp_path, codec="h264", qp=QP, workers=2, progress=False, max_frames=4)
    assert [n for n, _ in report.failed] == ["dies"] and "worker process died" in report.failed[0][1]
    assert report.encoded == 2
    assert [r["name"] for r in read_manifest(tmp_path)] == [small_set[0].name, small_set[1].name]
