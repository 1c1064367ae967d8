"""The record every dataset yields (:class:`Video`) and what the indexes share."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

_MAX_LISTED = 20  # problems named in an error message before "... and N more"


@dataclass(frozen=True)
class Video:
    """One labelled video of a dataset.

    Exactly one of ``path`` (a file FFmpeg reads) and ``render`` (a picklable zero-argument
    callable returning a (T,H,W,3) uint8 RGB array) is set; :meth:`source` gives what
    :func:`mvclass.encode_cropped` takes either way.
    """

    name: str  # unique within the dataset; the per-video file is <name>.npz
    label: int  # 0-based class index
    label_name: str
    split: str  # "train" or "test"
    path: Path | None = None
    render: Callable[[], np.ndarray] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if (self.path is None) == (self.render is None):
            raise ValueError(f"video {self.name!r}: give exactly one of path and render")

    @classmethod
    def from_array(cls, name: str, label: int, label_name: str, split: str, array: np.ndarray) -> "Video":
        """A video held in memory as a (T,H,W,3) uint8 RGB array (pickled whole to workers)."""
        a = np.asarray(array)
        if a.dtype != np.uint8 or a.ndim != 4 or a.shape[3] != 3:
            raise ValueError(f"video {name!r}: expected a (T,H,W,3) uint8 array, got {a.dtype} {a.shape}")
        return cls(name, label, label_name, split, render=_ArraySource(a))

    def source(self):
        """A path string or an RGB array: what ``encode_cropped`` and ``read_video`` accept."""
        return str(self.path) if self.path is not None else self.render()

    @property
    def array(self) -> np.ndarray:
        """The video as a (T,H,W,3) uint8 RGB array (decoded with PyAV for files)."""
        if self.render is not None:
            return self.render()
        from mvclass.io import read_video, yuv420_to_rgb

        return np.stack([yuv420_to_rgb(*p) for p in read_video(self.path).frames()])


class _ArraySource:
    """A picklable zero-argument callable returning a fixed array."""

    def __init__(self, array: np.ndarray):
        self.array = array

    def __call__(self) -> np.ndarray:
        return self.array


def format_problems(title: str, problems: Sequence[str]) -> str:
    """``title`` followed by the first problems, one per line, and a count of the rest."""
    lines = [f"{title} ({len(problems)}):"] + [f"  {p}" for p in problems[:_MAX_LISTED]]
    if len(problems) > _MAX_LISTED:
        lines.append(f"  ... and {len(problems) - _MAX_LISTED} more")
    return "\n".join(lines)


def read_text_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, stripped text) of the non-blank lines; CRLF and a BOM are accepted."""
    if not path.is_file():
        raise FileNotFoundError(f"split/index file not found: {path}")
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    return [(i, ln.strip()) for i, ln in enumerate(text.splitlines(), 1) if ln.strip()]


class VideoDataset(Sequence):
    """A list of :class:`Video` with its class names; ``skipped`` names videos left out."""

    def __init__(self, videos: list[Video], classes: list[str], skipped: list[str] | None = None):
        names = [v.name for v in videos]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(format_problems("duplicate video names", dup))
        self.videos = videos
        self.classes = classes
        self.skipped = skipped or []

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, i):
        return self.videos[i]

    def __iter__(self) -> Iterator[Video]:
        return iter(self.videos)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def labels(self) -> np.ndarray:
        return np.array([v.label for v in self.videos], np.int64)

    def verify(self, skip: bool = False) -> list[tuple[str, str]]:
        """Open every file-backed video with PyAV and decode its first frame.

        Returns (name, problem) for the unreadable ones; ``skip=True`` also drops them from the
        dataset (recorded in ``skipped``), otherwise a ValueError lists them.
        """
        import av

        bad = []
        for v in self.videos:
            if v.path is None:
                continue
            try:
                with av.open(str(v.path)) as c:
                    if not c.streams.video:
                        raise ValueError("no video stream")
                    next(c.decode(video=0))
            except StopIteration:
                bad.append((v.name, "no frames"))
            except Exception as e:  # any decoder failure makes the file unusable
                bad.append((v.name, f"{type(e).__name__}: {e}"))
        if bad and not skip:
            raise ValueError(format_problems("unreadable videos", [f"{n}: {p}" for n, p in bad]))
        if bad:
            drop = {n for n, _ in bad}
            self.videos = [v for v in self.videos if v.name not in drop]
            self.skipped += [f"{n}: {p}" for n, p in bad]
        return bad

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} videos, {self.num_classes} classes)"


def check_files(videos: list[Video], skip_missing: bool, what: str) -> tuple[list[Video], list[str]]:
    """Drop (skip_missing) or refuse (FileNotFoundError) videos whose file does not exist."""
    missing = [v for v in videos if v.path is not None and not v.path.is_file()]
    if not missing:
        return videos, []
    report = [str(v.path) for v in missing]
    if not skip_missing:
        raise FileNotFoundError(format_problems(f"{what}: videos listed in the split but missing on disk", report)
                                + "\n(pass skip_missing=True to leave them out)")
    warnings.warn(format_problems(f"{what}: skipping missing videos", report), stacklevel=3)
    drop = {v.name for v in missing}
    return [v for v in videos if v.name not in drop], [f"{p}: missing" for p in report]
