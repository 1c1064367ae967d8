"""`mvclass serve`: the real server in a subprocess on a loopback port, driven with httpx.

Models are trained here (once per session, seconds) on SyntheticMotion clips encoded with our
H.264 encoder; the held-out clips are sent as cropped streams. The primary check is that the
served probabilities equal those of the in-process evaluation (``mvclass.train.evaluate`` on the
stored dataset) for the classifier the MCNN rule picked."""
import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
httpx = pytest.importorskip("httpx")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

import mvclass  # noqa: E402
from mvclass.train import IDRFrames, MotionVolumes, evaluate, read_manifest  # noqa: E402
from mvclass.train.loop import load_model  # noqa: E402

GEOMETRY = {"3d": (16, 8), "2d": (6, 12), "spatial": (1, 32)}
VOLUMES = 2
ROOT = Path(__file__).resolve().parents[1]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def served_set(tmp_path_factory):
    """4 translation classes x 8 clips (2 held out per class), encoded at QP 30; a 3d net trained
    for a few iterations, an untrained (seeded) 2d net and VGG-16 (at 32x32)."""
    from mvclass.cli import main
    from mvclass.datasets import SyntheticMotion, build_mv_dataset
    from mvclass.models import build_model

    out = tmp_path_factory.mktemp("served")
    clips = SyntheticMotion(4, 8, size=(96, 64), frames=24, seed=3)
    build_mv_dataset(clips, out / "data", "h264", 30, workers=0, progress=False)
    manifest = out / "data" / "manifest.csv"
    torch.set_num_threads(2)
    frames, size = GEOMETRY["3d"]
    assert main(["train", "--model", "3d", "--data", str(manifest), "--frames", str(frames), "--size", str(size),
                 "--batch-size", "12", "--clip-grad", "5", "--no-flip", "--workers", "0", "--iters", "25",
                 "--out", str(out / "3d"), "--no-progress", "--seed", "1"]) == 0
    # The 2d and spatial nets are untrained (seeded): the service must give their in-process
    # answer, right or wrong, and training them would cost CI time for nothing more.
    cfg3d = torch.load(out / "3d" / "last.pt", weights_only=True)["config"]
    for name in ("2d", "spatial"):
        torch.manual_seed(0)
        frames, size = GEOMETRY[name]
        net = build_model(name, 4, frames=frames, size=size)
        state = {k: v.half() if name == "spatial" else v for k, v in net.state_dict().items()}  # VGG: 276 MB
        torch.save({"model": state, "iteration": 0,
                    "config": {**cfg3d, "model": name, "frames": frames, "size": size}}, out / f"{name}.pt")
        del net, state
    test = read_manifest(manifest, "test")
    index = {v.name: i for i, v in enumerate(clips.videos)}
    streams = {}
    for rec in test:
        streams[rec.name] = mvclass.encode_cropped(clips.clip(index[rec.name]), qp=30).cropped
    return {"root": out, "manifest": manifest, "clips": clips, "test": test, "streams": streams,
            "checkpoints": {"3d": out / "3d" / "last.pt", "2d": out / "2d.pt", "spatial": out / "spatial.pt"}}


class Server:
    def __init__(self, args, log):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # the mvclass this test imported (the installed package in CI, python/ in a dev tree)
        env = dict(os.environ, PYTHONPATH=str(Path(mvclass.__file__).resolve().parents[1]), OMP_NUM_THREADS="2")
        self.log = open(log, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "mvclass", "serve", "--host", "127.0.0.1",
                                      "--port", str(self.port), "--threads", "2", *map(str, args)],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 120
        while True:
            assert self.proc.poll() is None, Path(log).read_text()
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not come up in 120 s"
            time.sleep(0.2)

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


def _thresholds(test):
    """R_L, R_H between the held-out videos' R_motion so each classifier gets some of them."""
    rm = sorted(float(r.extra["r_motion"]) for r in test)
    return (rm[2] + rm[3]) / 2, (rm[5] + rm[6]) / 2


@pytest.fixture(scope="session")
def server(served_set, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("server")
    r_l, r_h = _thresholds(served_set["test"])
    (tmp / "mcnn.json").write_text(json.dumps({"r_l": r_l, "r_h": r_h}))
    ck = served_set["checkpoints"]
    s = Server(["--model", f"3d={ck['3d']}", "--model", f"2d={ck['2d']}", "--model", f"spatial={ck['spatial']}",
                "--mcnn", tmp / "mcnn.json", "--volumes", VOLUMES, "--max-body-mb", "1", "--timeout", "60",
                "--max-concurrent", "8", "--batch-window-ms", "20", "--device", "cpu"], tmp / "server.log")
    yield s
    s.close()


def _in_process_probs(served_set, name):
    """Video-level probabilities of the held-out videos by the ordinary evaluation protocol."""
    model, cfg = load_model(served_set["checkpoints"][name])
    frames, size = GEOMETRY[name]
    if name == "spatial":
        ds = IDRFrames(served_set["manifest"], "test", size=size, flip=False)
    else:
        ds = MotionVolumes(served_set["manifest"], "test", frames=frames, size=size, layout=name,
                           mean_mv=cfg["mean_mv"], flip=False, test_volumes=VOLUMES)
    res = evaluate(model, ds, device="cpu", workers=0, progress=False)
    return dict(zip(res.names, res.probs))


def _probs(answer, n=4):
    p = np.zeros(n)
    for t in answer["top"]:
        p[t["label"]] = t["probability"]
    return p


def test_serves_the_in_process_answer_for_the_mcnn_choice(served_set, server):
    from mvclass.mcnn import select

    info = httpx.get(server.url + "/models", timeout=10).json()
    assert sorted(info["models"]) == ["2d", "3d", "spatial"] and info["classes"] == list(served_set["clips"].classes)
    r_l, r_h = _thresholds(served_set["test"])
    reference = {n: _in_process_probs(served_set, n) for n in ("3d", "2d", "spatial")}
    chosen, correct, trained = [], 0, 0
    with httpx.Client(base_url=server.url, timeout=60) as c:
        for rec in served_set["test"]:
            r = c.post("/classify", params={"top_k": 4}, content=served_set["streams"][rec.name])
            assert r.status_code == 200, r.text
            a = r.json()
            # R_motion measured from the cropped stream equals the encoder's count for the full one.
            assert a["rates"]["motion"] == pytest.approx(float(rec.extra["r_motion"]), rel=1e-9)
            assert a["classifier"] == select(a["rates"]["motion"], r_l, r_h)[0] and a["selected_by"] == "mcnn"
            assert a["codec"] == "h264" and a["frames"] == 24 and (a["width"], a["height"]) == (96, 64)
            assert set(a["timings_ms"]) >= {"parse", "preprocess", "queue", "inference", "total"}
            np.testing.assert_allclose(_probs(a), reference[a["classifier"]][rec.name], atol=2e-5)
            assert [t["probability"] for t in a["top"]] == sorted((t["probability"] for t in a["top"]), reverse=True)
            chosen.append(a["classifier"])
            if a["classifier"] == "3d":
                trained += 1
                correct += a["top"][0]["label"] == rec.label
    assert set(chosen) == {"3d", "2d", "spatial"}, chosen
    assert trained >= 2 and correct >= trained - 1, (correct, trained)  # translations are easy: at most one miss


def test_requested_classifier_and_full_stream(served_set, server):
    rec = served_set["test"][0]
    ref = _in_process_probs(served_set, "3d")[rec.name]
    clip = served_set["clips"].clip([v.name for v in served_set["clips"].videos].index(rec.name))
    full = mvclass.encode_cropped(clip, qp=30).bitstream  # the full stream has the same motion
    for body in (served_set["streams"][rec.name], full):
        r = httpx.post(server.url + "/classify", params={"classifier": "3d", "top_k": 4}, content=body, timeout=60)
        assert r.status_code == 200, r.text
        assert r.json()["selected_by"] == "request"
        np.testing.assert_allclose(_probs(r.json()), ref, atol=2e-5)


def test_foreign_mp4_equals_the_in_process_pipeline(served_set, server, shared_data):
    """An x264 mp4 (not our encoder, a container): the server's answer is the in-process
    Pipeline's, and the MCNN choice follows the R_motion it reports."""
    from mvclass.mcnn import select
    from mvclass.serve import Pipeline, load_models

    body = (shared_data / "clips" / "carphone_pristine.mp4").read_bytes()
    local = Pipeline(load_models({"3d": served_set["checkpoints"]["3d"]}, "cpu"), volumes=VOLUMES)
    expected = local.classify(body, classifier="3d", k=4)
    r = httpx.post(server.url + "/classify", params={"classifier": "3d", "top_k": 4}, content=body, timeout=60)
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["rates"] == expected["rates"] and a["frames"] == expected["frames"] > 1
    np.testing.assert_allclose(_probs(a), _probs(expected), atol=2e-5)
    r = httpx.post(server.url + "/classify", content=body, timeout=60)
    assert r.status_code == 200 and r.json()["classifier"] == select(a["rates"]["motion"], *_thresholds(served_set["test"]))[0]


def test_concurrent_requests_are_batched_and_answered_alike(served_set, server):
    rec = served_set["test"][1]
    body = served_set["streams"][rec.name]
    answers = [None] * 6

    def one(i):
        answers[i] = httpx.post(server.url + "/classify", params={"classifier": "2d", "top_k": 4}, content=body,
                                timeout=60)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(answers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert all(a is not None and a.status_code == 200 for a in answers), answers
    first = _probs(answers[0].json())
    for a in answers:
        np.testing.assert_allclose(_probs(a.json()), first, atol=2e-5)
    assert max(a.json()["batch_requests"] for a in answers) >= 2  # a 20 ms window gathered some of them


def _bad_bodies(served_set):
    body = next(iter(served_set["streams"].values()))
    clip = served_set["clips"].clip(0)
    rng = np.random.default_rng(0)
    return {
        "empty": (b"", 422),
        "garbage": (b"hello, this is not a video\n" * 40, 422),
        "random": (rng.integers(0, 256, 5000, dtype=np.uint8).tobytes(), 422),
        "start code then noise": (b"\x00\x00\x00\x01" + rng.integers(0, 256, 3000, dtype=np.uint8).tobytes(), 422),
        "truncated": (body[: len(body) // 2], 422),
        "cut in the first picture": (body[:60], 422),
        "too large": (b"\x00\x00\x00\x01" + bytes(1024 * 1024), 413),
    }


@pytest.mark.parametrize("case", ["empty", "garbage", "random", "start code then noise", "truncated",
                                  "cut in the first picture", "too large"])
def test_bad_bodies_get_a_4xx_with_a_reason(served_set, server, case):
    body, status = _bad_bodies(served_set)[case]
    r = httpx.post(server.url + "/classify", content=body, timeout=60)
    assert r.status_code == status, r.text
    assert r.json()["status"] == status and len(r.json()["error"]) > 10
    assert httpx.get(server.url + "/health", timeout=10).json()["status"] == "ok"
    assert server.proc.poll() is None


def test_hevc_stream_is_classified(served_set, server):
    """A cropped HEVC stream is read (mvclass.read_stream reads HEVC) and classified like H.264."""
    clip = served_set["clips"].clip(0)
    hevc = mvclass.encode_cropped(clip[:8], qp=30, codec="hevc", ctu_size=16, max_depth=2).cropped
    r = httpx.post(server.url + "/classify", content=hevc, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["codec"] == "hevc" and r.json()["top"]


def test_bad_queries_and_methods(server):
    for params in ({"top_k": "0"}, {"top_k": "x"}, {"top_k": "5"}, {"classifier": "vgg"}, {"path": "/etc/passwd"}):
        r = httpx.post(server.url + "/classify", params=params, content=b"x", timeout=10)
        assert r.status_code == 400 and r.json()["error"], (params, r.text)
    assert httpx.get(server.url + "/classify", timeout=10).status_code == 405
    assert httpx.get(server.url + "/nothing", timeout=10).status_code == 404


def _slow_body(seconds, chunks=10):
    for _ in range(chunks):
        time.sleep(seconds / chunks)
        yield b"\x00" * 16


def test_limits_busy_503_and_timeout_504(served_set, tmp_path):
    s = Server(["--model", f"3d={served_set['checkpoints']['3d']}", "--volumes", VOLUMES, "--max-concurrent", "1",
                "--timeout", "1", "--device", "cpu"], tmp_path / "server.log")
    try:
        slow = {}

        def send_slowly():
            slow["r"] = httpx.post(s.url + "/classify", content=_slow_body(3.0), timeout=30)

        t = threading.Thread(target=send_slowly)
        t.start()
        deadline = time.monotonic() + 10
        while httpx.get(s.url + "/health", timeout=5).json()["in_flight"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        busy = httpx.post(s.url + "/classify", content=b"x", timeout=10)
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1", busy.text
        t.join(30)
        assert slow["r"].status_code == 504, slow["r"].text
        # the slot is free again and the server still answers
        body = next(iter(served_set["streams"].values()))
        deadline = time.monotonic() + 10
        while (r := httpx.post(s.url + "/classify", content=body, timeout=30)).status_code == 503:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert r.status_code == 200 and r.json()["classifier"] == "3d", r.text
    finally:
        s.close()


def test_startup_errors_are_one_line(served_set, tmp_path):
    from mvclass.cli import main

    ck = served_set["checkpoints"]
    (tmp_path / "m.json").write_text(json.dumps({"r_l": 1.0, "r_h": None}))
    cases = [["--model", f"3d={ck['2d']}"],  # wrong network under the name
             ["--model", f"3d={ck['3d']}", "--model", f"2d={ck['2d']}"],  # no thresholds to choose
             ["--model", f"3d={ck['3d']}", "--mcnn", str(tmp_path / "m.json")],  # 2d reachable, not loaded
             ["--model", f"3d={tmp_path / 'absent.pt'}"]]
    for args in cases:
        assert main(["serve", *args, "--port", "1"]) == 2, args
    assert math.isinf(mvclass.serve.load_thresholds(tmp_path / "m.json").r_h)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_server_batches_on_the_gpu_and_agrees_with_cpu(served_set, tmp_path):
    (tmp_path / "m.json").write_text(json.dumps({"r_l": 1e9, "r_h": None}))
    s = Server(["--model", f"3d={served_set['checkpoints']['3d']}", "--model", f"2d={served_set['checkpoints']['2d']}",
                "--mcnn", tmp_path / "m.json", "--volumes", VOLUMES, "--batch-window-ms", "50"], tmp_path / "server.log")
    try:
        info = httpx.get(s.url + "/models", timeout=10).json()
        assert info["models"]["3d"]["device"].startswith("cuda")
        ref = _in_process_probs(served_set, "3d")
        answers = {}

        def one(rec):
            answers[rec.name] = httpx.post(s.url + "/classify", params={"classifier": "3d", "top_k": 4},
                                           content=served_set["streams"][rec.name], timeout=60)

        threads = [threading.Thread(target=one, args=(rec,)) for rec in served_set["test"]]
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        for name, r in answers.items():
            assert r.status_code == 200, r.text
            np.testing.assert_allclose(_probs(r.json()), ref[name], atol=2e-3)  # TF32 / cuDNN vs CPU
        assert max(r.json()["batch_requests"] for r in answers.values()) >= 2
    finally:
        s.close()


def test_client_that_leaves_mid_body_frees_its_slot(server):
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n\x00\x00\x00\x01")
    deadline = time.monotonic() + 10
    while (h := httpx.get(server.url + "/health", timeout=5).json())["in_flight"]:
        assert time.monotonic() < deadline, h
        time.sleep(0.05)
    assert server.proc.poll() is None
    assert "Traceback" not in Path(server.log.name).read_text()
