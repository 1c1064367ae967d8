"""Peak memory against video length: the whole-result forms (encode_cropped, read_stream) hold
every frame's fields; the streaming forms (encode_iter, read_iter, out= directories) hold one
frame's. Each run is a fresh subprocess; its peak RSS during the run (/proc/self/status VmHWM after
resetting it through /proc/self/clear_refs; elsewhere getrusage ru_maxrss) is printed beside the
RSS it had before the run (VmRSS) (modules imported, the source's frames decoded), for 1x, 2x and 4x the
length of a looped video (the Boxing clip's first frames, scaled, repeated).

    python benchmarks/bench_memory.py [--size 1280x720] [--frames 25] [--codec h264]

What the table shows: "growth" (peak minus the RSS before the run) rises with the length for the
whole-result forms (about 2x the result's size) and stays flat for the streaming ones.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
_SRC = HERE.parent / "python"
if list((_SRC / "mvclass").glob("_core*")):  # a source checkout built with ./dev-build.sh (as conftest.py)
    sys.path.insert(0, str(_SRC))
from common import BOXING  # noqa: E402

MODES = ("encode_cropped", "encode_iter", "encode_out", "read_stream", "read_iter", "read_out")
LOOP = 10  # distinct frames of the looped video


def looped_source(width: int, height: int, frames: int, loop: int = LOOP):
    """A VideoSource of `frames` frames: the Boxing clip's first `loop` frames scaled to
    width x height, repeated. Holds `loop` frames whatever `frames` is."""
    import av
    import numpy as np

    from mvclass.io import VideoSource

    planes = []
    with av.open(str(BOXING)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i >= loop:
                break
            g = f.reformat(width=width, height=height, format="yuv420p", interpolation="BICUBIC")
            planes.append(tuple(np.frombuffer(p, np.uint8).reshape(-1, p.line_size)[: (height if k == 0 else height // 2),
                                                                                   : (width if k == 0 else width // 2)].copy()
                                for k, p in enumerate(g.planes)))

    def gen():
        for t in range(frames):
            yield planes[t % len(planes)]

    return VideoSource(width=width, height=height, fps=25.0, name="looped", num_frames=frames, _open=gen)


def _status_mb(key: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Linux: set the peak RSS (VmHWM) to the current RSS, so that the peak measured after the run
    is the run's own and not that of the imports before it (clear_refs, 5)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_mb(reset: bool) -> float:
    hwm = _status_mb("VmHWM") if reset else None
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kB


def child(mode: str, width: int, height: int, frames: int, codec: str, stream: str | None, out: str | None) -> dict:
    """One run in this process: the RSS before it and the peak RSS after it (MB)."""
    import mvclass
    from mvclass.stream import encode_iter, read_iter

    src = looped_source(width, height, frames) if mode.startswith("encode") else None
    import gc

    gc.collect()
    reset = _reset_peak()
    before = _status_mb("VmRSS") or _peak_mb(False)
    n = 0
    if mode == "encode_cropped":
        n = mvclass.encode_cropped(src, qp=30, codec=codec).frames
    elif mode == "encode_iter":
        for _ in encode_iter(src, qp=30, codec=codec):
            n += 1
    elif mode == "encode_out":
        n = mvclass.encode_cropped(src, qp=30, codec=codec, out=out).frames
    elif mode == "read_stream":
        n = mvclass.read_stream(stream).frames
    elif mode == "read_iter":
        for _ in read_iter(stream):
            n += 1
    elif mode == "read_out":
        n = mvclass.read_stream(stream, out=out).frames
    else:
        raise ValueError(f"unknown mode {mode!r}")
    return {"mode": mode, "frames": n, "before_mb": before, "peak_mb": _peak_mb(reset)}


def measure(mode: str, width: int, height: int, frames: int, codec: str = "h264", stream: str | None = None) -> dict:
    """child() in a fresh interpreter."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, str(HERE / "bench_memory.py"), "--child", mode, "--size", f"{width}x{height}",
               "--frames", str(frames), "--codec", codec, "--out", str(Path(tmp) / "out")]
        if stream:
            cmd += ["--stream", stream]
        r = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if r.returncode:
            raise RuntimeError(f"{mode} x{frames}: {r.stderr[-2000:]}")
        return json.loads(r.stdout.strip().splitlines()[-1])


def make_streams(width: int, height: int, lengths, codec: str, directory: Path) -> dict:
    """Our full stream of the looped video at each length (written with out=, bounded memory)."""
    import mvclass

    from mvclass.api import EXTENSIONS

    paths = {}
    for n in lengths:
        mvclass.encode_cropped(looped_source(width, height, n), qp=30, codec=codec, out=directory / f"s{n}")
        paths[n] = str(directory / f"s{n}" / f"full{EXTENSIONS[codec]}")
    return paths


def run_table(width: int, height: int, base_frames: int, codec: str = "h264", modes=MODES) -> tuple[list, list]:
    """(rows, lines): every mode at 1x / 2x / 4x base_frames, and the table as text."""
    lengths = [base_frames, 2 * base_frames, 4 * base_frames]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        streams = make_streams(width, height, lengths, codec, Path(tmp)) if any(m.startswith("read") for m in modes) else {}
        for mode in modes:
            for n in lengths:
                r = measure(mode, width, height, n, codec, streams.get(n) if mode.startswith("read") else None)
                r["growth_mb"] = r["peak_mb"] - r["before_mb"]
                rows.append(r)
    lines = [f"peak RSS against video length ({codec}, {width}x{height}, fresh process per run; growth = peak - RSS "
             "before the run, MB)",
             f"{'form':<16}" + "".join(f"{f'{n} fr peak':>13}{'growth':>9}" for n in lengths) + f"{'4x/1x growth':>14}"]
    for mode in modes:
        rs = [r for r in rows if r["mode"] == mode]
        g1 = max(rs[0]["growth_mb"], 1.0)  # below 1 MB: measurement noise (allocator, page granularity)
        lines.append(f"{mode:<16}" + "".join(f"{r['peak_mb']:>13.1f}{r['growth_mb']:>9.1f}" for r in rs)
                     + f"{max(rs[-1]['growth_mb'], 1.0) / g1:>13.2f}x")
    return rows, lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--frames", type=int, default=25, help="the 1x length (2x and 4x follow)")
    ap.add_argument("--codec", default="h264")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--stream", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    w, h = map(int, a.size.lower().split("x"))
    if a.child:
        print(json.dumps(child(a.child, w, h, a.frames, a.codec, a.stream, a.out)))
        return
    _, lines = run_table(w, h, a.frames, a.codec)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
