"""``build_mv_dataset``: encode every video of a dataset and store its MV volume and bit counts.

Output layout (one directory per codec and QP)::

    out_dir/videos/<name>.npz   per-video arrays (see NPZ_KEYS)
    out_dir/manifest.csv        one row per video (MANIFEST_COLUMNS), rates in kbit/s
    out_dir/manifest.parquet    the same rows, typed (written when pyarrow is installed)
    out_dir/errors.csv          videos that failed in the last run (name, source, error)
    out_dir/build.json          codec, QP and encoder options (a resume must use the same)

Each .npz is written under a temporary name and renamed, so a killed build leaves only whole
files; a rerun skips every valid one. Work is spread over a local process pool or a Dask
cluster with a bounded number of videos in flight, and nothing but manifest rows is kept in
memory, so memory stays flat whatever the dataset size.
"""
from __future__ import annotations

import csv
import io
import os
import time
import uuid
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor
from concurrent.futures import wait as wait_futures
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

NPZ_KEYS = ("mv", "mv_mask", "mvd", "ref", "frame_type", "bits_full", "bits_cropped", "bits_motion",
            "categories", "bits_full_cat", "bits_cropped_cat", "idr", "fps", "label", "codec", "qp")
MANIFEST_COLUMNS = ("name", "path", "label", "label_name", "split", "frames", "fps", "codec", "qp",
                    "r_orig", "r_cropped", "r_motion", "r_3d", "r_2d", "r_sp")
# Written after MANIFEST_COLUMNS, optional when read (manifests of earlier versions lack them):
# the frame count the source's container declares (empty: unknown) and FFmpeg's decoding errors.
MANIFEST_EXTRA_COLUMNS = ("frames_declared", "decode_errors")


# ----------------------------------------------------------------------------- per-video files

def classifier_rates(bits_full, bits_cropped, fps: float) -> tuple[float, float, float]:
    """(R_3D, R_2D, R_SP) in kbit/s, as :func:`mvclass.mcnn.rates.input_rates` defines them
    (IDR at full size + cropped frames up to T3D / T2D, looped; all over the T3D window)."""
    from mvclass.mcnn.rates import input_rates

    return tuple(input_rates(bits_full, bits_cropped, fps=fps))


def decode_first_frame(bitstream: bytes, codec: str) -> np.ndarray:
    """The first picture of an Annex-B stream as RGB uint8 (H,W,3), decoded by FFmpeg (PyAV)."""
    import av

    fmt = {"h264": "h264", "hevc": "hevc"}[codec]
    with av.open(io.BytesIO(bitstream), format=fmt) as c:
        for frame in c.decode(video=0):
            return frame.to_ndarray(format="rgb24")
    raise ValueError(f"FFmpeg decoded no picture from the {codec} stream")


def result_arrays(r, label: int) -> dict:
    """The per-video arrays (NPZ_KEYS) of an :class:`mvclass.EncodeResult`."""
    fb = r.frame_bits
    names = fb.dtype.names
    cats = [n[len("full_"):] for n in names if n.startswith("full_")]
    ftype = np.asarray(fb["type"])
    if ftype.dtype.kind == "S":
        ftype = np.char.decode(ftype, "ascii")
    return {
        "mv": np.asarray(r.mv, np.int16),
        "mv_mask": np.asarray(r.mv_mask, bool),
        "mvd": np.asarray(r.mvd, np.int16),
        "ref": np.asarray(r.ref, np.int8),
        "frame_type": ftype.astype("<U1"),
        "bits_full": np.asarray(fb["full"], np.float64),
        "bits_cropped": np.asarray(fb["cropped"], np.float64),
        "bits_motion": np.asarray(fb["motion"], np.float64),
        "categories": np.array(cats),
        "bits_full_cat": np.stack([np.asarray(fb[f"full_{c}"], np.float64) for c in cats], axis=1),
        "bits_cropped_cat": np.stack([np.asarray(fb[f"cropped_{c}"], np.float64) for c in cats], axis=1),
        "idr": decode_first_frame(r.bitstream, r.codec),
        "fps": np.float64(r.fps),
        "label": np.int64(label),
        "codec": np.str_(r.codec),
        "qp": np.int64(r.qp),
        "frames_declared": np.int64(-1 if r.frames_declared is None else r.frames_declared),
        "decode_errors": np.int64(r.decode_errors),
    }


def write_file_atomic(path: Path, write) -> None:
    """``write(f)`` into a temporary name in the same directory, then rename over ``path``: readers
    (other processes included) see the old file or the whole new one, never a partial one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_npz_atomic(path: Path, arrays: dict) -> None:
    """np.savez_compressed to a temporary name in the same directory, then rename over ``path``."""
    write_file_atomic(path, lambda f: np.savez_compressed(f, **arrays))


def load_mv_file(path) -> dict:
    """Every array of a per-video .npz; ``fps``, ``label``, ``codec``, ``qp`` as Python scalars and
    ``categories`` as a list of names."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MV file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
    except Exception as e:  # zipfile/np errors: a truncated or foreign file
        raise ValueError(f"{path}: not a readable MV file ({type(e).__name__}: {e})") from None
    missing = [k for k in NPZ_KEYS if k not in d]
    if missing:
        raise ValueError(f"{path}: not an mvclass MV file (missing {', '.join(missing)})")
    d["fps"], d["label"], d["qp"] = float(d["fps"]), int(d["label"]), int(d["qp"])
    d["codec"] = str(d["codec"])
    d["categories"] = [str(c) for c in d["categories"]]
    return d


def manifest_row(name: str, rel_path: str, label: int, label_name: str, split: str, fps: float, codec: str,
                 qp: int, bits_full, bits_cropped, bits_motion, frames_declared: int | None = None,
                 decode_errors: int = 0) -> dict:
    """A manifest row (MANIFEST_COLUMNS) from a video's per-frame bit counts."""
    frames, fps = len(bits_full), float(fps)
    per_kbit = 1.0 / (frames / fps * 1000.0)
    r3d, r2d, rsp = classifier_rates(bits_full, bits_cropped, fps)
    return {"name": name, "path": rel_path, "label": int(label), "label_name": label_name, "split": split,
            "frames": frames, "fps": float(fps), "codec": codec, "qp": int(qp),
            "r_orig": float(np.sum(bits_full)) * per_kbit, "r_cropped": float(np.sum(bits_cropped)) * per_kbit,
            "r_motion": float(np.sum(bits_motion)) * per_kbit, "r_3d": float(r3d), "r_2d": float(r2d),
            "r_sp": float(rsp), "frames_declared": "" if frames_declared is None else int(frames_declared),
            "decode_errors": int(decode_errors)}


class OutputMismatch(ValueError):
    """out_dir already holds files of another codec or QP."""


def _row_from_file(path: Path, rel: str, video, codec: str, qp: int | None) -> dict | None:
    """The manifest row of an existing per-video file, or None if it is unusable for this build.
    ``qp`` None: streams read as they are (each file keeps its own QP)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if any(k not in z.files for k in NPZ_KEYS):
                return None
            file_codec, file_qp = str(z["codec"]), int(z["qp"])
            if qp is None:
                qp = file_qp
            if file_codec != codec or file_qp != qp:
                raise OutputMismatch(f"{path} was built with codec={file_codec} qp={file_qp}, not codec={codec} qp={qp}; "
                                 "use another output directory")
            if int(z["label"]) != video.label:
                return None
            declared = int(z["frames_declared"]) if "frames_declared" in z.files else -1
            return manifest_row(video.name, rel, video.label, video.label_name, video.split, float(z["fps"]),
                                codec, qp, z["bits_full"], z["bits_cropped"], z["bits_motion"],
                                None if declared < 0 else declared,
                                int(z["decode_errors"]) if "decode_errors" in z.files else 0)
    except OutputMismatch:
        raise
    except Exception:  # truncated / foreign file: encode again
        return None


def encode_video(video, out_path: str, rel_path: str, codec: str, qp: int, options: dict):
    """Worker task: encode ``video`` (or, with options source="stream", read its own stream), write
    its .npz atomically; returns (name, row, error)."""
    try:
        if options.get("source") == "stream":
            from mvclass.reader import read_stream

            if video.path is None:
                raise ValueError(f"video {video.name!r} has no file whose stream could be read")
            r = read_stream(video.path, codec=codec, fps=options.get("fps"))
        else:
            from mvclass.api import encode_cropped

            r = encode_cropped(video.source(), qp=qp, codec=codec, **options)
        arrays = result_arrays(r, video.label)
        save_npz_atomic(Path(out_path), arrays)
        row = manifest_row(video.name, rel_path, video.label, video.label_name, video.split, arrays["fps"], r.codec,
                           r.qp, arrays["bits_full"], arrays["bits_cropped"], arrays["bits_motion"],
                           r.frames_declared, r.decode_errors)
        return video.name, row, None
    except Exception as e:  # one bad video must not stop the build
        return video.name, None, f"{type(e).__name__}: {e}".replace("\n", " ")


# ----------------------------------------------------------------------------- manifests

def write_csv_atomic(path: Path, columns, rows) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(columns))
        w.writeheader()
        for row in rows:
            w.writerow({k: (repr(float(v)) if isinstance(v, (float, np.floating)) else v) for k, v in row.items()})
    os.replace(tmp, path)


_INT_COLUMNS = {"label", "frames", "qp", "decode_errors"}
_FLOAT_COLUMNS = {"fps", "r_orig", "r_cropped", "r_motion", "r_3d", "r_2d", "r_sp"}


_STR_COLUMNS = {"name", "path", "label_name", "split", "codec"}


def have_parquet() -> bool:
    """Whether pyarrow is installed (``pip install mvclass[parquet]``): builds then also write
    ``manifest.parquet``."""
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


def _parquet_schema(columns):
    import pyarrow as pa

    types = {c: pa.int64() for c in _INT_COLUMNS} | {c: pa.float64() for c in _FLOAT_COLUMNS}
    types["frames_declared"] = pa.int64()  # nullable: unknown frame count
    return pa.schema([(c, types.get(c, pa.string())) for c in columns])


def write_parquet_atomic(path: Path, columns, rows) -> None:
    """The manifest rows as a Parquet table with typed columns (ints, floats, strings; an unknown
    ``frames_declared`` is null), written atomically like the CSV."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _parquet_schema(columns)
    data = {}
    for c in columns:
        vals = [row.get(c) for row in rows]
        if c in _INT_COLUMNS or c == "frames_declared":
            vals = [None if v in (None, "") else int(v) for v in vals]
        elif c in _FLOAT_COLUMNS:
            vals = [float(v) for v in vals]
        else:
            vals = [str(v) for v in vals]
        data[c] = vals
    table = pa.Table.from_pydict(data, schema=schema)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def _typed_row(raw: dict) -> dict:
    row = {k: int(v) if k in _INT_COLUMNS else float(v) if k in _FLOAT_COLUMNS else v
           for k, v in raw.items() if k != "frames_declared"}
    declared = raw.get("frames_declared")
    row["frames_declared"] = int(declared) if declared not in (None, "") else None
    row.setdefault("decode_errors", 0)
    return row


def _raw_rows(path: Path):
    """(column names, iterator of (line or row number, raw dict)) of a .csv or .parquet manifest."""
    if path.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise ImportError(f"{path}: reading a Parquet manifest needs pyarrow (pip install mvclass[parquet])") from None
        try:
            table = pq.read_table(path)
        except Exception as e:  # pyarrow raises its own ArrowInvalid etc.
            raise ValueError(f"{path}: not a readable Parquet file ({e})") from None
        return table.column_names, enumerate(table.to_pylist(), 1)
    f = open(path, newline="")
    reader = csv.DictReader(f)

    def rows():
        with f:
            yield from enumerate(reader, 2)
    return reader.fieldnames or [], rows()


def read_manifest(path) -> list[dict]:
    """Rows of a manifest (``manifest.csv`` or ``manifest.parquet``) with typed values; ``path``
    becomes absolute (``abspath``) too. A directory means its ``manifest.csv``, or its
    ``manifest.parquet`` when there is no CSV. Both files of one build give the same rows."""
    path = Path(path)
    if path.is_dir():
        path = path / "manifest.csv" if (path / "manifest.csv").is_file() or not (path / "manifest.parquet").is_file() \
            else path / "manifest.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"manifest not found: {path}")
    fieldnames, raw_rows = _raw_rows(path)
    missing = [c for c in MANIFEST_COLUMNS if c not in fieldnames]
    if missing:
        raise ValueError(f"{path}: not an mvclass manifest (missing columns {', '.join(missing)})")
    rows = []
    for no, raw in raw_rows:
        try:
            row = _typed_row(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{path}:{no}: malformed row {raw}") from None
        row["abspath"] = str(path.parent / row["path"])
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- the build

@dataclass
class BuildReport:
    """What a :func:`build_mv_dataset` run did."""

    out_dir: Path
    manifest: Path
    encoded: int = 0  # videos encoded in this run
    reused: int = 0  # videos whose valid .npz was already there
    failed: list = field(default_factory=list)  # (name, error)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return self.encoded + self.reused

    def __str__(self) -> str:
        rate = self.encoded / self.seconds if self.seconds > 0 else float("nan")
        return (f"{self.out_dir}: {self.encoded} encoded in {self.seconds:.1f} s ({rate:.3g} videos/s), "
                f"{self.reused} already done, "
                f"{len(self.failed)} failed; manifest {self.manifest}")


def _exit_with_parent(parent_pid: int, interval: float = 0.5) -> None:
    """Worker initializer: a daemon thread that ends this worker as soon as the process that
    started it is gone (killed with SIGKILL, say), so no orphan keeps encoding and writing. On
    Linux the kernel also kills the worker when its parent dies (PR_SET_PDEATHSIG)."""
    import threading

    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the watcher alone
        pass
    if os.getppid() != parent_pid:  # the parent died before the prctl took effect
        os._exit(1)

    def watch():
        while True:
            time.sleep(interval)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="mvclass-parent-watch", daemon=True).start()


class _LocalPool:
    """A process pool (spawned workers, so nothing inherited can deadlock them; each exits when
    the building process dies, see :func:`_exit_with_parent`)."""

    def __init__(self, workers: int):
        import multiprocessing

        self.workers = workers
        self._ctx = multiprocessing.get_context("spawn")
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=self._ctx, initializer=_exit_with_parent,
                                   initargs=(os.getpid(),))

    def submit(self, fn, *args):
        return self._pool.submit(fn, *args)

    def wait(self, pending):
        return wait_futures(pending, return_when=FIRST_COMPLETED)

    def restart(self):
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()

    def close(self, abort: bool = False):
        if abort:  # Ctrl-C or an error here: do not wait for the videos in flight
            for proc in list((self._pool._processes or {}).values()):
                proc.terminate()
        self._pool.shutdown(wait=not abort, cancel_futures=True)


class _InlinePool:
    """workers=0: run in this process (debugging, profiling)."""

    workers = 1

    def submit(self, fn, *args):
        from concurrent.futures import Future

        f = Future()
        f.set_result(fn(*args))
        return f

    def wait(self, pending):
        return set(pending), set()

    def restart(self):
        pass

    def close(self, abort: bool = False):
        pass


class _DaskPool:
    """The same map on a Dask distributed cluster (address, Client or LocalCluster)."""

    def __init__(self, scheduler):
        from distributed import Client

        if isinstance(scheduler, Client):
            self.client, self._own = scheduler, False
        else:
            address = getattr(scheduler, "scheduler_address", scheduler)
            if not isinstance(address, str):
                raise ValueError(f"scheduler must be an address like 'tcp://host:8786', a dask Client or a cluster, "
                                 f"got {scheduler!r}")
            self.client, self._own = Client(address), True
        self.workers = max(1, sum(self.client.nthreads().values()))

    def submit(self, fn, *args):
        return self.client.submit(fn, *args, pure=False)

    def wait(self, pending):
        from distributed import wait

        done, not_done = wait(list(pending), return_when="FIRST_COMPLETED")
        return set(done), set(not_done)

    def restart(self):
        pass

    def close(self, abort: bool = False):
        if self._own:
            self.client.close()


class _BuildLock:
    """An exclusive lock on out_dir so two builds never write the same files."""

    def __init__(self, out_dir: Path):
        self.path = out_dir / ".build.lock"

    def __enter__(self):
        import fcntl

        self._f = open(self.path, "w")
        try:
            fcntl.flock(self._f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._f.close()
            raise ValueError(f"another build is writing {self.path.parent}") from None
        return self

    def __exit__(self, *exc):
        self._f.close()


def _check_settings(out_dir: Path, codec: str, qp: int, encode_options: dict) -> dict:
    """Record the build's settings in out_dir/build.json; refuse to resume with different ones,
    since reused files would then mix two encoder configurations."""
    import json

    settings = {"codec": codec, "qp": qp, "encode_options": {k: encode_options[k] for k in sorted(encode_options)}}
    path = out_dir / "build.json"
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except ValueError:
            old = None
        if old is not None and old != json.loads(json.dumps(settings)):
            raise OutputMismatch(f"{out_dir} was built with {old}, not {settings}; use another output directory")
    return settings


def _write_settings(out_dir: Path, settings: dict) -> None:
    import json

    tmp = out_dir / ".build.json.tmp"
    tmp.write_text(json.dumps(settings, indent=1) + "\n")
    os.replace(tmp, out_dir / "build.json")


def build_mv_dataset(dataset, out_dir, codec: str = "h264", qp: int = 30, *, workers: int | None = None,
                     scheduler=None, progress: bool = True, max_in_flight: int | None = None,
                     raise_on_error: bool = False, **encode_options) -> BuildReport:
    """Encode every video of ``dataset`` with ``codec`` at ``qp``; write per-video .npz files and
    ``manifest.csv`` under ``out_dir``.

    ``dataset``: any sequence of :class:`mvclass.datasets.Video` (UCF101, HMDB51,
    SyntheticMotion). ``encode_options`` go to :func:`mvclass.encode_cropped` (search_range,
    ref_frames, intra_period, fps, max_frames, partitions, ...). ``workers``: local processes
    (default: all cores; 0 runs in this process). ``scheduler``: a Dask scheduler address
    ("tcp://host:8786"), ``distributed.Client`` or cluster object; the videos' paths must then be
    readable from the workers. Resumable: videos with a valid .npz are not encoded again.
    ``source="stream"`` reads each video's own H.264 stream (:func:`mvclass.read_stream`: no
    re-encoding; ``qp`` is then ignored and the manifest gives each video's median slice QP).
    Failures are logged to ``errors.csv`` and in the report; they do not stop the build, and end
    it with a warning naming their count and ``errors.csv`` (``raise_on_error=True``: a
    ``RuntimeError`` instead, after the manifest of the videos that worked is written). Videos
    FFmpeg decoded with errors or to fewer frames than their container declares are kept, counted
    in the manifest's ``decode_errors`` / ``frames_declared`` columns and named in a warning.
    """
    from mvclass.result import _H264_ONLY, _HEVC_ONLY, encoder_options

    source = encode_options.get("source", "encode")
    if source not in ("encode", "stream"):
        raise ValueError(f"source must be 'encode' or 'stream', got {source!r}")
    if source == "stream":
        other = sorted(set(encode_options) - {"source", "fps"})
        if other:
            raise ValueError(f"option(s) {', '.join(other)} do not apply to source='stream' (the streams are read as they are)")
    else:
        encode_options.pop("source", None)
    codec, checked = encoder_options(codec, qp=qp, search_range=encode_options.get("search_range", 16),
                                     ref_frames=encode_options.get("ref_frames", 3),
                                     intra_period=encode_options.get("intra_period", 0),
                                     **{k: encode_options[k] for k in _H264_ONLY + _HEVC_ONLY if k in encode_options})
    qp = checked["qp"]
    for bad in ("keep_recon", "progress", "qp", "codec"):
        if bad in encode_options:
            raise ValueError(f"option {bad!r} cannot be passed to build_mv_dataset")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 0):
        raise ValueError(f"workers must be a non-negative integer, got {workers!r}")
    videos = list(dataset)
    names = [v.name for v in videos]
    if len(set(names)) != len(names):
        raise ValueError("dataset has duplicate video names")
    bad_names = [n for n in names if not n or "/" in n or n.startswith(".")]
    if bad_names:
        raise ValueError(f"video names unusable as file names: {bad_names[:5]}")

    out_dir = Path(out_dir)
    vid_dir = out_dir / "videos"
    vid_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    report = BuildReport(out_dir=out_dir, manifest=out_dir / "manifest.csv")
    with _BuildLock(out_dir):
        settings = _check_settings(out_dir, codec, qp, encode_options)
        for stale in vid_dir.glob(".*.tmp"):  # left by a killed run; the lock says nobody else writes
            stale.unlink()
        rows: dict[str, dict] = {}
        todo = []
        for v in videos:
            rel = f"videos/{v.name}.npz"
            path = out_dir / rel
            row = _row_from_file(path, rel, v, codec, None if source == "stream" else qp) if path.exists() else None
            if row is not None:
                rows[v.name] = row
            else:
                todo.append((v, rel))
        report.reused = len(rows)
        _write_settings(out_dir, settings)  # only now: the existing files agreed with these settings

        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(videos), initial=len(rows), unit="video", desc=f"{codec} qp{qp}", smoothing=0.05)
        errors = []
        if todo:
            pool = (_DaskPool(scheduler) if scheduler is not None
                    else _InlinePool() if workers == 0 else _LocalPool(workers or os.cpu_count() or 1))
            limit = max_in_flight or 2 * pool.workers
            try:
                pending: dict = {}  # future -> (video, rel path, submitted alone)
                queue = deque(todo)
                suspects: deque = deque()  # in flight when a worker died: rerun one at a time

                def submit(v, rel, alone):
                    fut = pool.submit(encode_video, v, str(out_dir / rel), rel, codec, qp, encode_options)
                    pending[fut] = (v, rel, alone)

                while True:
                    while queue and len(pending) < limit:
                        submit(*queue.popleft(), False)
                    if not queue and not pending and suspects:
                        submit(*suspects.popleft(), True)
                    if not pending:
                        break
                    done, _ = pool.wait(set(pending))
                    broken = False
                    for fut in done:
                        v, rel, alone = pending.pop(fut)
                        try:
                            name, row, err = fut.result()
                        except BrokenProcessPool:
                            broken = True
                            if not alone:  # any in-flight video may be the one that killed it
                                suspects.append((v, rel))
                                continue
                            name, row, err = v.name, None, "worker process died (crash or out of memory)"
                        except Exception as e:  # lost dask worker, cancelled future
                            name, row, err = v.name, None, f"{type(e).__name__}: {e}"
                        if row is not None:
                            rows[name] = row
                            report.encoded += 1
                        else:
                            errors.append((name, str(v.path) if v.path is not None else "(rendered)", err))
                        if bar is not None:
                            bar.update(1)
                    if broken:
                        pool.restart()
                        suspects.extend((v, rel) for v, rel, _ in pending.values())  # lost with the old pool
                        pending.clear()
            except BaseException:
                pool.close(abort=True)
                raise
            pool.close()
        if bar is not None:
            bar.close()
        ordered = [rows[v.name] for v in videos if v.name in rows]
        write_csv_atomic(report.manifest, MANIFEST_COLUMNS + MANIFEST_EXTRA_COLUMNS, ordered)
        if have_parquet():  # the same table, typed, for pandas / Arrow / Spark readers
            write_parquet_atomic(out_dir / "manifest.parquet", MANIFEST_COLUMNS + MANIFEST_EXTRA_COLUMNS, ordered)
        elif (out_dir / "manifest.parquet").exists():  # left by an earlier build: it would be stale
            (out_dir / "manifest.parquet").unlink()
        write_csv_atomic(out_dir / "errors.csv", ("name", "source", "error"), [
            {"name": n, "source": s, "error": e} for n, s, e in errors])
    report.failed = [(n, e) for n, _, e in errors]
    report.seconds = time.perf_counter() - t0
    _warn_about(report, ordered, len(videos), encode_options.get("max_frames"), raise_on_error,
                "read" if source == "stream" else "encode")
    return report


def _warn_about(report: BuildReport, rows: list, n_videos: int, max_frames, raise_on_error: bool,
                verb: str = "encode") -> None:
    import warnings

    from mvclass.io import VideoDecodeWarning

    def short(r):
        declared = r.get("frames_declared")
        declared = None if declared in (None, "") else int(declared)
        return declared is not None and r["frames"] < declared and (max_frames is None or r["frames"] < max_frames)

    damaged = [r["name"] for r in rows if int(r.get("decode_errors") or 0) or short(r)]
    if damaged:
        warnings.warn(f"{len(damaged)} of {n_videos} videos decoded with errors or to fewer frames than their "
                      f"container declares (manifest columns decode_errors, frames_declared), e.g. "
                      f"{', '.join(damaged[:3])}", VideoDecodeWarning, stacklevel=3)
    if report.failed:
        name, err = report.failed[0]
        msg = (f"{len(report.failed)} of {n_videos} videos failed to {verb}; see {report.out_dir / 'errors.csv'} "
               f"(first: {name}: {err})")
        if raise_on_error:
            raise RuntimeError(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=3)
