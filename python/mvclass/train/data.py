"""Training and test inputs read from the per-video ``.npz`` files and manifest written by
``mvclass.datasets.build_mv_dataset``.

A video's motion grid (T, H8, W8, 2) in quarter-pel becomes a volume of ``frames`` P-frames (the
sequence is looped when shorter, the start is random in training), a crop of the grid is resized
to ``size`` x ``size`` (multi-scale random crop in training; 4 corners + centre at test), a
horizontal flip mirrors the grid and negates dx, and the training-set mean MV is subtracted.
The spatial stream gets the decoded IDR frame with the same crop/flip scheme.

Sampling is a pure function of (seed, sample position) so a resumed run draws exactly what the
uninterrupted run would have, whatever the number of loader workers.
"""
from __future__ import annotations

import csv
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

MANIFEST_COLUMNS = ("name", "path", "label", "label_name", "split", "frames", "fps", "codec", "qp",
                    "r_orig", "r_cropped", "r_motion", "r_3d", "r_2d", "r_sp")
TRAIN_SCALES = (1.0, 0.875, 0.75, 0.66)
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


@dataclass(frozen=True)
class VideoRecord:
    """One manifest row: where the video's .npz is and its label."""
    name: str
    path: Path
    label: int
    label_name: str
    split: str
    frames: int
    extra: dict = field(default_factory=dict, compare=False)


def read_manifest(manifest: str | Path, split: str | None = None) -> list[VideoRecord]:
    """Rows of a dataset manifest (``split`` = 'train'/'test' filters; None keeps all). Paths are
    resolved relative to the manifest's folder. Raises FileNotFoundError / ValueError naming the
    problem (missing file, missing columns, bad label, unknown split)."""
    manifest = Path(manifest)
    if not manifest.is_file():
        raise FileNotFoundError(f"manifest not found: {manifest}")
    if split not in (None, "train", "test"):
        raise ValueError(f"split must be 'train', 'test' or None, got {split!r}")
    with open(manifest, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ("name", "path", "label", "split") if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{manifest}: missing columns {missing} (have {reader.fieldnames})")
        records = []
        for line, row in enumerate(reader, start=2):
            try:
                label = int(row["label"])
            except (TypeError, ValueError):
                raise ValueError(f"{manifest}:{line}: label {row['label']!r} is not an integer") from None
            if row["split"] not in ("train", "test"):
                raise ValueError(f"{manifest}:{line}: split {row['split']!r} is not 'train' or 'test'")
            if split is not None and row["split"] != split:
                continue
            frames = row.get("frames") or "0"
            records.append(VideoRecord(row["name"], manifest.parent / row["path"], label,
                                       row.get("label_name") or str(label), row["split"], int(float(frames)),
                                       {k: v for k, v in row.items() if k not in ("name", "path", "label", "split")}))
    if split is not None and not records:
        raise ValueError(f"{manifest}: no videos in split {split!r}")
    return records


def num_classes_of(manifest: str | Path) -> int:
    """Number of classes: one more than the largest label in the whole manifest."""
    return max(r.label for r in read_manifest(manifest)) + 1


def class_names_of(manifest: str | Path) -> list[str]:
    """Class names ordered by label (label number as text where a name is absent)."""
    names: dict[int, str] = {}
    for r in read_manifest(manifest):
        names.setdefault(r.label, r.label_name)
    return [names.get(i, str(i)) for i in range(max(names) + 1)]


def load_motion_raw(path: str | Path, use_mvd: bool = False) -> np.ndarray:
    """The P-frame motion grids of one video as stored: int16 (P, H8, W8, 2), quarter-pel (dx, dy).
    I-frames carry no motion and are dropped; a video without P-frames gives one zero frame."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video file not found: {path}")
    with np.load(path, allow_pickle=False) as z:
        key = "mvd" if use_mvd else "mv"
        if key not in z.files:
            raise ValueError(f"{path}: no {key!r} array (has {z.files})")
        mv = z[key]
        types = z["frame_type"] if "frame_type" in z.files else np.full(len(mv), "P")
    if mv.ndim != 4 or mv.shape[-1] != 2:
        raise ValueError(f"{path}: {key} has shape {mv.shape}, expected (T, H8, W8, 2)")
    return p_frame_motion(mv, types)


def p_frame_motion(mv: np.ndarray, frame_type) -> np.ndarray:
    """The grids of the frames that are not I-frames (I-frames carry no motion); one zero frame
    when there are none. ``frame_type``: one 'I' / 'P' / 'B' per frame (e.g.
    ``EncodeResult.frame_bits['type']``). This is what a stored video and a stream read by
    :func:`mvclass.read_stream` both go through before :func:`motion_test_views`."""
    types = np.asarray(frame_type)
    if types.dtype.kind == "S":
        types = np.char.decode(types, "ascii")
    if len(types) != len(mv):
        raise ValueError(f"{len(types)} frame types for {len(mv)} motion grids")
    mv = mv[types != "I"]
    if len(mv) == 0:
        mv = np.zeros((1,) + mv.shape[1:], dtype=np.int16)
    return mv


def motion_cache_path(cache_dir: str | Path, path: str | Path, use_mvd: bool = False) -> Path:
    """Where :func:`load_motion_cached` keeps the uncompressed motion of one video file: named
    after the file's absolute path, size and modification time, so a rebuilt file gets a new entry."""
    import hashlib

    path = Path(path)
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{'mvd' if use_mvd else 'mv'}"
    return Path(cache_dir) / f"{path.stem}-{hashlib.sha1(key.encode()).hexdigest()[:16]}.npy"


def load_motion_cached(path: str | Path, cache_dir: str | Path, use_mvd: bool = False) -> np.ndarray:
    """:func:`load_motion_raw` through an uncompressed, memory-mapped copy in ``cache_dir``.

    The first read of a video inflates its ``.npz`` once and writes the P-frame grids as a plain
    ``.npy`` (written under a temporary name, then renamed: concurrent loader workers never see a
    partial file); later reads map it and touch only the frames a volume takes. A cache entry that
    cannot be read is rebuilt."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video file not found: {path}")
    cache_dir = Path(cache_dir)
    target = motion_cache_path(cache_dir, path, use_mvd)
    if target.is_file():
        try:
            mv = np.load(target, mmap_mode="r", allow_pickle=False)
            if mv.dtype == np.int16 and mv.ndim == 4 and mv.shape[-1] == 2:
                return mv
        except (ValueError, OSError):
            pass  # truncated or foreign: rebuilt below
    from mvclass.datasets.build import write_file_atomic

    mv = np.ascontiguousarray(load_motion_raw(path, use_mvd), dtype=np.int16)
    cache_dir.mkdir(parents=True, exist_ok=True)
    write_file_atomic(target, lambda f: np.save(f, mv))
    return np.load(target, mmap_mode="r", allow_pickle=False)


def load_motion(path: str | Path, use_mvd: bool = False) -> np.ndarray:
    """The P-frame motion grids of one video as float32 (P, H8, W8, 2) in pixels (dx, dy)."""
    return load_motion_raw(path, use_mvd).astype(np.float32) / 4.0  # quarter-pel -> pixels


def load_idr(path: str | Path) -> np.ndarray:
    """The decoded IDR frame (H, W, 3) uint8 RGB of one video."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video file not found: {path}")
    with np.load(path, allow_pickle=False) as z:
        if "idr" not in z.files:
            raise ValueError(f"{path}: no 'idr' array (has {z.files})")
        return z["idr"]


def mean_motion(records: Sequence[VideoRecord], use_mvd: bool = False, max_videos: int = 500) -> np.ndarray:
    """Mean (dx, dy) in pixels over the P-frames of (at most ``max_videos`` evenly chosen) videos."""
    if not records:
        raise ValueError("mean_motion needs at least one video")
    pick = np.unique(np.linspace(0, len(records) - 1, min(len(records), max_videos)).round().astype(int))
    total, count = np.zeros(2, np.float64), 0
    for i in pick:
        mv = load_motion(records[i].path, use_mvd)
        total += mv.reshape(-1, 2).sum(axis=0)
        count += mv.shape[0] * mv.shape[1] * mv.shape[2]
    return (total / max(count, 1)).astype(np.float32)


def sample_rng(seed: int, position: int) -> np.random.Generator:
    """The augmentation generator of one sample: depends only on the run seed and the sample's
    position in the (infinite) training stream."""
    return np.random.default_rng([seed & 0xFFFFFFFF, position])


def take_frames(motion: np.ndarray, start: int, frames: int) -> np.ndarray:
    """``frames`` consecutive grids from ``start``, looping over the video when it is shorter."""
    return motion[(start + np.arange(frames)) % len(motion)]


def view_starts(length: int, frames: int, count: int = 10) -> np.ndarray:
    """Start frames of the ``count`` evenly spaced test volumes (spread over one loop of the video
    when it is shorter than a volume)."""
    span = length - frames if length > frames else length - 1
    return np.linspace(0, max(span, 0), count).round().astype(int)


def resize_grid(grid: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Bilinear resize (half-pixel centres, no antialiasing) of axes -3, -2 of (..., H, W, C)."""
    import torch
    import torch.nn.functional as F

    oh, ow = (size, size) if isinstance(size, int) else size
    h, w, c = grid.shape[-3], grid.shape[-2], grid.shape[-1]
    if (h, w) == (oh, ow):
        return np.ascontiguousarray(grid)
    lead = grid.shape[:-3]
    x = torch.from_numpy(np.ascontiguousarray(grid, dtype=np.float32).reshape((-1, h, w, c))).permute(0, 3, 1, 2)
    y = F.interpolate(x, size=(oh, ow), mode="bilinear", align_corners=False)
    return y.permute(0, 2, 3, 1).numpy().reshape(lead + (oh, ow, c))


def random_crop_box(h: int, w: int, rng: np.random.Generator, scales: Sequence[float] = TRAIN_SCALES):
    """Multi-scale random crop: height and width each a scale of the short side, random position."""
    short = min(h, w)
    ch = max(1, int(round(short * scales[rng.integers(len(scales))])))
    cw = max(1, int(round(short * scales[rng.integers(len(scales))])))
    y = int(rng.integers(h - ch + 1))
    x = int(rng.integers(w - cw + 1))
    return y, x, ch, cw


def five_crop_boxes(h: int, w: int, side: int):
    """Boxes (y, x, side, side) of the 4 corners and the centre."""
    side = min(side, h, w)
    return [(0, 0, side, side), (0, w - side, side, side), (h - side, 0, side, side),
            (h - side, w - side, side, side), ((h - side) // 2, (w - side) // 2, side, side)]


def flip_motion(grid: np.ndarray) -> np.ndarray:
    """Horizontal mirror of (..., H, W, 2) motion grids; dx changes sign."""
    out = grid[..., ::-1, :].copy()
    out[..., 0] = -out[..., 0]
    return out


def to_layout(volume: np.ndarray, layout: str) -> np.ndarray:
    """(T, N, N, 2) -> (2, T, N, N) for the 3D net or (2T, N, N) with (dx, dy) interleaved per
    frame for the 2D net."""
    if layout == "3d":
        return np.ascontiguousarray(volume.transpose(3, 0, 1, 2))
    if layout == "2d":
        t, n1, n2, _ = volume.shape
        return np.ascontiguousarray(volume.transpose(0, 3, 1, 2).reshape(2 * t, n1, n2))
    raise ValueError(f"layout must be '3d' or '2d', got {layout!r}")


def motion_test_views(raw: np.ndarray, *, frames: int, size: int, layout: str, mean_mv=None,
                      test_crop: float = 0.875, test_volumes: int = 10, flip: bool = True) -> np.ndarray:
    """The test views of one video's P-frame motion ``raw`` (int16 quarter-pel (P, H8, W8, 2), as
    :func:`load_motion_raw` / :func:`p_frame_motion` give): for each of ``test_volumes`` evenly
    spaced starts, the 4 corner and centre crops (side ``test_crop`` x short side, resized to
    ``size``), unflipped then flipped (unflipped only without ``flip``); in pixels with ``mean_mv``
    (dx, dy) subtracted. float32 (views, *input shape of the '3d' or '2d' net)."""
    mean = np.zeros(2, np.float32) if mean_mv is None else np.asarray(mean_mv, np.float32).reshape(2)
    h, w = raw.shape[1], raw.shape[2]
    side = max(1, int(round(min(h, w) * test_crop)))
    views = []
    for start in view_starts(len(raw), frames, test_volumes):
        vol = take_frames(raw, int(start), frames).astype(np.float32) / 4.0 - mean
        crops = [resize_grid(vol[:, y:y + ch, x:x + cw], size) for y, x, ch, cw in five_crop_boxes(h, w, side)]
        for f in ((False, True) if flip else (False,)):
            views += [to_layout(flip_motion(c) if f else c, layout) for c in crops]
    return np.stack(views).astype(np.float32)


def normalise_image(img: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> (3, H, W) float32, ImageNet mean / std."""
    x = (img.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def idr_test_views(img: np.ndarray, *, size: int, test_crop: float = 0.875, flip: bool = True) -> np.ndarray:
    """The spatial net's test views of one decoded IDR frame (H, W, 3) uint8 RGB: resized so its
    short side is ``size`` / ``test_crop``, 4 corner + centre crops of ``size``, then the same
    flipped (without ``flip``: 5 views). float32 (views, 3, size, size), ImageNet-normalised."""
    h, w = img.shape[:2]
    short = int(round(size / test_crop))
    img = resize_grid(img, (max(size, round(h * short / min(h, w))), max(size, round(w * short / min(h, w)))))
    crops = [img[y:y + ch, x:x + cw] for y, x, ch, cw in five_crop_boxes(img.shape[0], img.shape[1], size)]
    views = [normalise_image(c) for c in crops]
    if flip:
        views += [normalise_image(c[:, ::-1]) for c in crops]
    return np.stack(views)


class _LRU:
    """A small per-process cache of decoded videos (each loader worker holds its own)."""

    def __init__(self, capacity: int):
        self.capacity, self._items = max(int(capacity), 0), OrderedDict()

    def get(self, key):
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        return None

    def put(self, key, value):
        if self.capacity:
            self._items[key] = value
            if len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return value


class _ManifestSplit:
    """What both datasets share: the videos of one manifest split and a per-process cache."""

    def __init__(self, manifest: str | Path, split: str, cache: int):
        self.manifest = Path(manifest)
        self.records = read_manifest(manifest, split)
        self.num_classes = num_classes_of(manifest)
        self._cache = _LRU(cache)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def labels(self) -> np.ndarray:
        return np.array([r.label for r in self.records], dtype=np.int64)

    def _cached(self, index: int, load):
        value = self._cache.get(index)
        return self._cache.put(index, load(self.records[index].path)) if value is None else value


class MotionVolumes(_ManifestSplit):
    """Motion-vector volumes of the videos of one manifest split.

    ``dataset[(index, position)]`` returns a randomly augmented training volume (start, crop,
    flip drawn from ``sample_rng(seed, position)``) and its label; ``dataset.test_views(index)``
    returns the 100 test views (10 starts x 5 crops x 2 flips) of one video.

    ``layout`` '3d' gives (2, frames, size, size), '2d' gives (2*frames, size, size).
    ``mean_mv``: 'train' (mean of the manifest's training split), an explicit (dx, dy) in pixels,
    or None (no subtraction). ``flip=False`` turns mirroring off in training and test (for label
    sets that are not mirror-symmetric, e.g. "translate left" vs "translate right"); the test views
    are then 10 starts x 5 crops.

    ``motion_cache``: a folder for uncompressed, memory-mapped copies of the videos' motion
    (:func:`load_motion_cached`). Reading a compressed ``.npz`` inflates all of a video's grids for
    every volume; with the cache, each video is inflated once and a volume reads only its frames,
    which keeps a GPU fed on datasets too large for the per-worker ``cache`` of decoded videos. It
    takes about 1.4 MB per UCF-101 video (296 frames of 30 x 40 cells)."""

    def __init__(self, manifest: str | Path, split: str = "train", *, frames: int = 160, size: int = 24,
                 layout: str = "3d", use_mvd: bool = False, mean_mv="train", seed: int = 0,
                 scales: Sequence[float] = TRAIN_SCALES, test_crop: float = 0.875, test_volumes: int = 10,
                 flip: bool = True, cache: int = 128, motion_cache: str | Path | None = None):
        if layout not in ("3d", "2d"):
            raise ValueError(f"layout must be '3d' or '2d', got {layout!r}")
        super().__init__(manifest, split, cache)
        self.frames, self.size, self.layout, self.use_mvd = frames, size, layout, use_mvd
        self.seed, self.scales, self.test_crop, self.test_volumes = seed, tuple(scales), test_crop, test_volumes
        self.flip = bool(flip)
        self.motion_cache = None if motion_cache is None else Path(motion_cache)
        if isinstance(mean_mv, str):
            if mean_mv != "train":
                raise ValueError(f"mean_mv must be 'train', a (dx, dy) pair or None, got {mean_mv!r}")
            mean_mv = mean_motion(read_manifest(manifest, "train"), use_mvd)
        self.mean_mv = np.zeros(2, np.float32) if mean_mv is None else np.asarray(mean_mv, np.float32).reshape(2)

    def raw_motion(self, index: int) -> np.ndarray:
        """P-frame motion of one video as stored (int16 quarter-pel), cached per process (a
        read-only memory map with ``motion_cache``)."""
        if self.motion_cache is not None:
            return self._cached(index, lambda path: load_motion_cached(path, self.motion_cache, self.use_mvd))
        return self._cached(index, lambda path: load_motion_raw(path, self.use_mvd))

    def _pixels(self, raw: np.ndarray) -> np.ndarray:
        # Converted after slicing: only the frames and cells a sample uses.
        return raw.astype(np.float32) / 4.0 - self.mean_mv

    def motion(self, index: int) -> np.ndarray:
        """P-frame motion of one video in pixels, mean MV subtracted."""
        return self._pixels(self.raw_motion(index))

    def __getitem__(self, item):
        index, position = item if isinstance(item, tuple) else (item, item)
        rng = sample_rng(self.seed, position)
        mv = self.raw_motion(index)
        start = int(rng.integers(len(mv)))
        vol = take_frames(mv, start, self.frames)
        y, x, ch, cw = random_crop_box(vol.shape[1], vol.shape[2], rng, self.scales)
        vol = resize_grid(self._pixels(vol[:, y:y + ch, x:x + cw]), self.size)
        if rng.random() < 0.5 and self.flip:
            vol = flip_motion(vol)
        return to_layout(vol, self.layout).astype(np.float32), self.records[index].label

    def test_views(self, index: int) -> np.ndarray:
        """The 10 x 10 test views of one video: for each of ``test_volumes`` evenly spaced starts,
        the 4 corner and centre crops (side ``test_crop`` x short side, resized to ``size``),
        unflipped then flipped (unflipped only when ``flip`` is off). Shape
        (test_volumes * 10, *input shape), or test_volumes * 5 without flips."""
        return motion_test_views(self.raw_motion(index), frames=self.frames, size=self.size, layout=self.layout,
                                 mean_mv=self.mean_mv, test_crop=self.test_crop, test_volumes=self.test_volumes,
                                 flip=self.flip)


class IDRFrames(_ManifestSplit):
    """The IDR frame of each video for the spatial network: training items are multi-scale random
    crops resized to ``size`` with random flips; ``test_views`` gives 5 crops x 2 flips of the frame
    resized so its short side is ``size`` / 0.875. Normalised with the ImageNet mean/std."""

    def __init__(self, manifest: str | Path, split: str = "train", *, size: int = 224, seed: int = 0,
                 scales: Sequence[float] = TRAIN_SCALES, test_crop: float = 0.875, flip: bool = True,
                 cache: int = 128):
        super().__init__(manifest, split, cache)
        self.flip = bool(flip)
        self.size, self.seed, self.scales, self.test_crop = size, seed, tuple(scales), test_crop

    def frame(self, index: int) -> np.ndarray:
        return self._cached(index, load_idr)

    def _normalise(self, img: np.ndarray) -> np.ndarray:
        return normalise_image(img)

    def __getitem__(self, item):
        index, position = item if isinstance(item, tuple) else (item, item)
        rng = sample_rng(self.seed, position)
        img = self.frame(index)
        y, x, ch, cw = random_crop_box(img.shape[0], img.shape[1], rng, self.scales)
        crop = resize_grid(img[y:y + ch, x:x + cw], self.size)
        if rng.random() < 0.5 and self.flip:
            crop = crop[:, ::-1]
        return self._normalise(crop), self.records[index].label

    def test_views(self, index: int) -> np.ndarray:
        return idr_test_views(self.frame(index), size=self.size, test_crop=self.test_crop, flip=self.flip)


class IterationSampler:
    """Batch sampler over an endless stream of epoch permutations: iteration i yields the
    (index, position) pairs of global positions i*batch .. i*batch+batch-1 (this rank's share under
    DDP). Positions seed the augmentation, so restarting at ``start_iter`` reproduces the stream."""

    def __init__(self, n: int, batch_size: int, *, iters: int, start_iter: int = 0, seed: int = 0,
                 rank: int = 0, world_size: int = 1):
        if n < 1:
            raise ValueError("cannot sample from an empty dataset")
        if batch_size % world_size:
            raise ValueError(f"batch size {batch_size} is not divisible by the {world_size} processes")
        self.n, self.batch_size, self.iters, self.start_iter = n, batch_size, iters, start_iter
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self._perm_epoch, self._perm = -1, None

    def __len__(self) -> int:
        return max(self.iters - self.start_iter, 0)

    def _index(self, position: int) -> int:
        epoch, offset = divmod(position, self.n)
        if epoch != self._perm_epoch:
            self._perm = np.random.default_rng([self.seed & 0xFFFFFFFF, 0x5EED, epoch]).permutation(self.n)
            self._perm_epoch = epoch
        return int(self._perm[offset])

    def __iter__(self):
        for it in range(self.start_iter, self.iters):
            base = it * self.batch_size
            yield [(self._index(p), p) for p in range(base + self.rank, base + self.batch_size, self.world_size)]


def dataset_for_model(model: str, manifest: str | Path, split: str, *, frames: int | None = None,
                      size: int | None = None, use_mvd: bool = False, mean_mv="train", seed: int = 0, **kw):
    """The input dataset a network of name ``model`` ('3d', '2d', 'spatial') reads, with the
    paper's geometry unless ``frames``/``size`` are given."""
    from mvclass.models import DEFAULT_GEOMETRY

    if model not in DEFAULT_GEOMETRY:
        raise ValueError(f"unknown model {model!r}; expected one of {tuple(DEFAULT_GEOMETRY)}")
    f0, s0 = DEFAULT_GEOMETRY[model]
    if model == "spatial":
        return IDRFrames(manifest, split, size=size or s0, seed=seed, **kw)
    return MotionVolumes(manifest, split, frames=frames or f0, size=size or s0, layout=model,
                         use_mvd=use_mvd, mean_mv=mean_mv, seed=seed, **kw)
