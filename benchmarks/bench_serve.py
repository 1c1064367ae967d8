"""Load test of ``mvclass serve`` on loopback: N concurrent clients post cropped H.264 streams to
/classify for a bounded time; reports requests/s, p50 / p99 latency, errors, the server's
batching and its RSS after warm-up and at the end (memory flat = no growth per request).

The models are untrained (seeded) networks saved as checkpoints here: speed does not depend on
the weights. ``--geometry small`` (default) is the tests' tiny 3d / 2d geometry; ``paper`` is the
paper's (3d 160 x 24, 2d 60 x 48: far slower on CPU). The streams are SyntheticMotion clips
encoded by mvclass (320x240, 64 frames, QP 30), sent cropped; the MCNN thresholds split them
between the 3d and the 2d net.

    python benchmarks/bench_serve.py [--clients 8] [--seconds 20] [--geometry small|paper]
                                     [--volumes 10] [--batch-window-ms 5] [--device cpu]
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GEOMETRY = {"small": {"3d": (16, 8), "2d": (6, 12)}, "paper": {"3d": (160, 24), "2d": (60, 48)}}


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_checkpoints(out: Path, geometry: str, classes: list) -> dict:
    import torch

    from mvclass.models import build_model

    paths = {}
    for name, (frames, size) in GEOMETRY[geometry].items():
        torch.manual_seed(0)
        net = build_model(name, len(classes), frames=frames, size=size)
        paths[name] = out / f"{name}.pt"
        torch.save({"model": net.state_dict(), "iteration": 0,
                    "config": {"model": name, "num_classes": len(classes), "frames": frames, "size": size,
                               "flip": False, "mean_mv": [0.0, 0.0], "class_names": classes}}, paths[name])
    return paths


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=20.0, help="measured time, after --warmup")
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds of the same load before measuring")
    ap.add_argument("--geometry", choices=tuple(GEOMETRY), default="small")
    ap.add_argument("--volumes", type=int, default=10)
    ap.add_argument("--videos", type=int, default=8)
    ap.add_argument("--batch-window-ms", type=float, default=5.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    import httpx

    import mvclass
    from mvclass.datasets import SyntheticMotion

    tmp = Path(tempfile.mkdtemp(prefix="bench_serve_"))
    clips = SyntheticMotion(4, max(1, args.videos // 4), size=(320, 240), frames=64, seed=5)
    streams = [mvclass.encode_cropped(clips.clip(i), qp=30) for i in range(len(clips.videos))]
    motion = sorted(r.rates.motion for r in streams)
    r_l = float(np.median(motion))
    (tmp / "mcnn.json").write_text(json.dumps({"r_l": r_l, "r_h": None}))
    bodies = [r.cropped for r in streams]
    ck = make_checkpoints(tmp, args.geometry, list(clips.classes))

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONPATH=str(Path(mvclass.__file__).resolve().parents[1]))  # the mvclass imported here
    log = open(tmp / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "mvclass", "serve", "--port", str(port), "--host", "127.0.0.1",
                             "--model", f"3d={ck['3d']}", "--model", f"2d={ck['2d']}", "--mcnn", str(tmp / "mcnn.json"),
                             "--volumes", str(args.volumes), "--workers", str(args.workers),
                             "--threads", str(args.threads), "--device", args.device,
                             "--batch-window-ms", str(args.batch_window_ms),
                             "--max-concurrent", str(max(8, args.clients)), "--timeout", "120"],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                print((tmp / "server.log").read_text())
                return 1
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("server did not start in 180 s")
            time.sleep(0.2)
        with httpx.Client(base_url=url, timeout=120) as c:  # every body once, one at a time
            for b in bodies:
                r = c.post("/classify", content=b)
                assert r.status_code == 200, r.text

        def load(seconds: float):
            latencies, statuses, lock = [], {}, threading.Lock()
            stop_at = time.monotonic() + seconds

            def client(k: int):
                with httpx.Client(base_url=url, timeout=120) as c:
                    i = k
                    while time.monotonic() < stop_at:
                        t0 = time.perf_counter()
                        try:
                            r = c.post("/classify", content=bodies[i % len(bodies)])
                            status = r.status_code
                        except httpx.HTTPError as e:
                            status = type(e).__name__
                        dt = time.perf_counter() - t0
                        with lock:
                            latencies.append(dt)
                            statuses[status] = statuses.get(status, 0) + 1
                        i += 1

            t0 = time.perf_counter()
            threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return latencies, statuses, time.perf_counter() - t0

        load(args.warmup)
        rss_start = rss_kib(proc.pid)
        rss_series = []
        sampling = threading.Event()

        def sample():
            while not sampling.wait(max(args.seconds / 8, 0.5)):
                rss_series.append(rss_kib(proc.pid) / 1024)

        sampler = threading.Thread(target=sample)
        sampler.start()
        latencies, statuses, wall = load(args.seconds)
        sampling.set()
        sampler.join()
        rss_end = rss_kib(proc.pid)
        info = httpx.get(url + "/models", timeout=10).json()
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()

    lat = np.array(latencies) * 1000
    ok = statuses.get(200, 0)
    print(f"geometry {args.geometry}, {args.volumes} volumes x 10 crops per request, {args.clients} clients, "
          f"{wall:.1f} s, device {args.device}, batch window {args.batch_window_ms:g} ms")
    print(f"requests: {len(lat)} ({ok} ok), {len(lat) / wall:.2f} requests/s; statuses {statuses}")
    print(f"latency ms: p50 {np.percentile(lat, 50):.1f}, p99 {np.percentile(lat, 99):.1f}, max {lat.max():.1f}")
    for name, m in info["models"].items():
        if m["batches"]:
            print(f"{name}: {m['requests']} requests in {m['batches']} forward batches "
                  f"({m['requests'] / m['batches']:.2f} requests per batch)")
    print(f"server RSS: {rss_start / 1024:.1f} MiB after warm-up, {rss_end / 1024:.1f} MiB at the end "
          f"({(rss_end - rss_start) / 1024:+.1f} MiB); during the run: {', '.join(f'{v:.0f}' for v in rss_series)} MiB")
    return 0 if ok == len(lat) else 1


if __name__ == "__main__":
    sys.exit(main())
