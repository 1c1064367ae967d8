"""Loaders for the authors' per-video results on UCF-101 split 1 (``shared/data/paper_results``).

What the files hold (checked against each other, see tests/test_mcnn.py):

* ``Stats_Orig_NOTexture_Test01_QP<q>_MVSR16_MVRes8_A.dat``: a header, then per video its
  frame count, full/cropped/motion sizes (bits), mode counts, PSNR and file name. Its
  Size_NoTexture counts the first I-frame at *full* size, Size_Motion_NoTexture equals the
  sum of the RMotion file's values.
* ``RTotal_Orig_*``, ``RTotal_NOTexture_*``, ``RMotion_NOTexture_*`` (QP 40 only): per video
  ``frames``, then frames + 1 per-picture bit counts, then the file name. Value 0 is the
  IDR frame including the parameter sets (its motion is always 0, it is the only intra
  picture: no periodic I-frames), values 1.. are P pictures. In RTotal_NOTexture value 0 is
  the *cropped* I-frame, so the full IDR size comes from RTotal_Orig.
* ``correct_vec_<clf>_QP<q>`` + ``filenames_<clf>_QP<q>``: one 0/1 per line and, line by
  line, the video (``rgb24_v_<name>.bin``). Lists differ in length (3,777 to 3,782) and
  order (the spatial/fused lists are shuffled), so everything is aligned by name, never by
  row. ``correct_vec_3D_A_QP30`` has 3,782 values for 3,781 names: such a pair cannot be
  aligned and raises ValueError.

Names in all files are normalised by :func:`video_key`: ``Class/v_X.avi``, ``rgb24_v_X.bin``,
``v_X.avi`` and ``v_X`` all become ``v_X``.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .rates import FPS, T2D, T3D, input_rates, motion_rate

__all__ = ["video_key", "default_data_dir", "load_stats", "load_frame_bits", "load_correct",
           "PaperData", "load_paper", "split_videos", "FUSED_CLASSIFIERS"]

# A_3D, A_2D, A_SP of the paper's MCNN: the fused (temporal + spatial) classifiers and VGG-16.
FUSED_CLASSIFIERS = {"3d": "3D_Fusion_A", "2d": "2D_Fusion_A", "spatial": "Spatial_A"}

_KEY_RE = re.compile(r"^(?:rgb24_)?(v_.+?)(?:\.(?:avi|bin|mp4|264|265))?$")


def video_key(name: str) -> str:
    """One key per UCF-101 video: ``ApplyEyeMakeup/v_X.avi``, ``rgb24_v_X.bin``, ``v_X`` -> ``v_X``."""
    base = str(name).strip().replace("\\", "/").rsplit("/", 1)[-1]
    m = _KEY_RE.match(base)
    if not m:
        raise ValueError(f"not a UCF-101 video name: {name!r}")
    return m.group(1)


def default_data_dir() -> Path:
    """``$MVCLASS_PAPER_RESULTS``, else ``../shared/data/paper_results`` relative to the cwd."""
    env = os.environ.get("MVCLASS_PAPER_RESULTS")
    return Path(env) if env else Path.cwd().parent / "shared" / "data" / "paper_results"


def _dir(data_dir) -> Path:
    d = Path(data_dir) if data_dir is not None else default_data_dir()
    if not d.is_dir():
        raise FileNotFoundError(f"paper results directory not found: {d} (set MVCLASS_PAPER_RESULTS or pass it)")
    return d


def _file(path) -> Path:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"paper results file not found: {p}")
    return p


def _put(d: dict, key: str, value, path: Path):
    if key in d:
        raise ValueError(f"{path.name}: video {key} listed twice")
    d[key] = value


@dataclass(frozen=True)
class StatsRow:
    frames: int
    size_orig: int
    size_motion_orig: int
    size_notexture: int
    size_motion_notexture: int
    psnr_y: float


def load_stats(path) -> dict[str, StatsRow]:
    """``Stats_Orig_NOTexture_*.dat`` -> {video key: StatsRow} (sizes in bits)."""
    p = _file(path)
    out: dict[str, StatsRow] = {}
    with p.open() as f:
        header = f.readline().split()
        if not header or header[0] != "Video#":
            raise ValueError(f"{p.name}: not a Stats file (header {header[:3]})")
        for ln, line in enumerate(f, 2):
            t = line.split()
            if not t:
                continue
            if len(t) != 20:
                raise ValueError(f"{p.name}:{ln}: expected 20 columns, got {len(t)}")
            _put(out, video_key(t[-1]), StatsRow(int(t[1]), int(t[2]), int(t[3]), int(t[5]), int(t[6]),
                                                 float(t[17])), p)
    return out


def load_frame_bits(path) -> dict[str, tuple[int, np.ndarray]]:
    """``RTotal_*`` / ``RMotion_*`` -> {video key: (frames, bits per picture)}; frames + 1 values."""
    p = _file(path)
    out: dict[str, tuple[int, np.ndarray]] = {}
    with p.open() as f:
        for ln, line in enumerate(f, 1):
            t = line.split()
            if not t:
                continue
            frames = int(t[0])
            bits = np.array(t[1:-1], dtype=np.int64)
            if bits.size != frames + 1:
                raise ValueError(f"{p.name}:{ln}: {frames} frames but {bits.size} values (expected frames + 1)")
            if (bits < 0).any():
                raise ValueError(f"{p.name}:{ln}: negative bit count")
            _put(out, video_key(t[-1]), (frames, bits), p)
    return out


def load_correct(data_dir, classifier: str, qp: int = 40) -> dict[str, bool]:
    """``correct_vec_<classifier>_QP<qp>`` aligned with its ``filenames_`` list -> {key: correct}."""
    d = _dir(data_dir)
    vec_p, names_p = _file(d / f"correct_vec_{classifier}_QP{qp}"), _file(d / f"filenames_{classifier}_QP{qp}")
    vec = [ln.strip() for ln in vec_p.read_text().splitlines() if ln.strip()]
    names = [ln.strip() for ln in names_p.read_text().splitlines() if ln.strip()]
    if len(vec) != len(names):
        raise ValueError(f"{vec_p.name} has {len(vec)} values but {names_p.name} lists {len(names)} videos: "
                         "cannot align them")
    out: dict[str, bool] = {}
    for v, n in zip(vec, names):
        if v not in ("0", "1"):
            raise ValueError(f"{vec_p.name}: value {v!r} is not 0/1")
        _put(out, video_key(n), v == "1", vec_p)
    return out


@dataclass
class PaperData:
    """The authors' videos at one QP, aligned by name (arrays in ``names`` order, sorted).

    ``r_motion``: whole-video motion rate (kbit/s); ``r_3d``/``r_2d``/``r_sp``: input rates
    (:func:`mvclass.mcnn.rates.input_rates`); ``correct``: {"3d", "2d", "spatial", ...} 0/1
    arrays of the fused classifiers (plus any extra classifiers loaded); ``dropped``: for each
    source, the videos present elsewhere but missing there (so left out).
    """

    qp: int
    names: np.ndarray
    frames: np.ndarray
    r_motion: np.ndarray
    r_3d: np.ndarray
    r_2d: np.ndarray
    r_sp: np.ndarray
    correct: dict[str, np.ndarray]
    dropped: dict[str, list[str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.names)

    def subset(self, idx) -> "PaperData":
        idx = np.asarray(idx)
        return PaperData(self.qp, self.names[idx], self.frames[idx], self.r_motion[idx], self.r_3d[idx],
                         self.r_2d[idx], self.r_sp[idx], {k: v[idx] for k, v in self.correct.items()},
                         dict(self.dropped))


def load_paper(data_dir=None, qp: int = 40, *, extra_classifiers=(), fps: float = FPS,
               t3d: int = T3D, t2d: int = T2D) -> PaperData:
    """Load and align everything the MCNN needs at ``qp`` (per-picture bits exist for QP 40 only).

    R_motion = sum(RMotion) / (frames / fps); R_3D, R_2D, R_SP from RTotal_Orig's value 0 (full
    IDR incl. parameter sets) and RTotal_NOTexture's values 1.. (cropped P pictures). Correctness
    comes from the fused classifiers (:data:`FUSED_CLASSIFIERS`) and any ``extra_classifiers``
    (e.g. "3D_A"), stored under their own names. Only videos present in every source are kept.
    """
    d = _dir(data_dir)
    tag = f"Test01_QP{qp}_MVSR16_MVRes8_A.dat"
    orig = load_frame_bits(d / f"RTotal_Orig_{tag}")
    crop = load_frame_bits(d / f"RTotal_NOTexture_{tag}")
    motion = load_frame_bits(d / f"RMotion_NOTexture_{tag}")
    correct_src = {k: load_correct(d, v, qp) for k, v in FUSED_CLASSIFIERS.items()}
    for c in extra_classifiers:
        correct_src[c] = load_correct(d, c, qp)
    sources = {"RTotal_Orig": orig, "RTotal_NOTexture": crop, "RMotion_NOTexture": motion,
               **{f"correct_vec_{FUSED_CLASSIFIERS.get(k, k)}": v for k, v in correct_src.items()}}
    every = set().union(*sources.values())
    common = set(every)
    for s in sources.values():
        common &= set(s)
    if not common:
        raise ValueError(f"no video is present in every paper results file in {d}")
    names = np.array(sorted(common))
    dropped = {src: sorted(every - set(s)) for src, s in sources.items() if every - set(s)}
    frames, rm, r3, r2, rs = (np.empty(len(names)) for _ in range(5))
    for i, k in enumerate(names):
        fo, bo = orig[k]
        fc, bc = crop[k]
        fm, bm = motion[k]
        if not fo == fc == fm:
            raise ValueError(f"video {k}: frame counts differ between files ({fo}, {fc}, {fm})")
        frames[i] = fo
        rm[i] = motion_rate(bm, frames=fm, fps=fps)
        r3[i], r2[i], rs[i] = input_rates(bo, bc, fps=fps, t3d=t3d, t2d=t2d)
    correct = {k: np.array([v[n] for n in names], dtype=float) for k, v in correct_src.items()}
    return PaperData(qp, names, frames.astype(int), rm, r3, r2, rs, correct, dropped)


def split_videos(n: int, test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random train/test split of ``n`` videos -> (train indices, test indices), sorted."""
    n = int(n)
    if n < 2:
        raise ValueError(f"need at least 2 videos to split (got {n})")
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1) (got {test_fraction!r})")
    perm = np.random.default_rng(seed).permutation(n)
    n_test = min(max(1, int(round(n * float(test_fraction)))), n - 1)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])
