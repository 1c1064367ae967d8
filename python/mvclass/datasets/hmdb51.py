"""HMDB-51 index over the official layout and the three 70/30 splits.

Layout: ``root/<class>/<video>.avi`` and ``root/testTrainMulti_7030_splits/`` holding
``<class>_test_split<N>.txt`` files whose lines read ``<video>.avi <0|1|2>``
(1 = training, 2 = testing, 0 = not used in split N).
"""
from __future__ import annotations

import re
from pathlib import Path

from ._common import Video, VideoDataset, check_files, format_problems, read_text_lines

_SPLIT_FILE_RE = re.compile(r"^(.+)_test_split([123])\.txt$")


def split_files(splits_dir: Path) -> dict[int, dict[str, Path]]:
    """{split: {class: file}} for every ``<class>_test_split<N>.txt`` in ``splits_dir``."""
    if not splits_dir.is_dir():
        raise FileNotFoundError(f"HMDB-51 split directory not found: {splits_dir}")
    out: dict[int, dict[str, Path]] = {1: {}, 2: {}, 3: {}}
    for p in sorted(splits_dir.iterdir()):
        m = _SPLIT_FILE_RE.match(p.name)
        if m:
            out[int(m.group(2))][m.group(1)] = p
    return out


class HMDB51(VideoDataset):
    """HMDB-51 split ``split`` (1, 2 or 3), training (``train=True``, flag 1) or test (flag 2).

    Classes are the split files' class names in sorted order (labels 0..50). ``splits_dir``
    defaults to ``root/testTrainMulti_7030_splits``; ``classes`` pins the expected class list
    (a split file for any other class is an error). Missing videos raise FileNotFoundError
    unless ``skip_missing=True``; malformed lines, bad flags and classes lacking this split's
    file raise ValueError listing every problem.
    """

    def __init__(self, root, split: int = 1, train: bool = True, *, splits_dir=None, classes=None,
                 skip_missing: bool = False):
        if split not in (1, 2, 3):
            raise ValueError(f"HMDB-51 split must be 1, 2 or 3, got {split!r}")
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"HMDB-51 root not found: {self.root}")
        self.splits_dir = Path(splits_dir) if splits_dir is not None else self.root / "testTrainMulti_7030_splits"
        self.split, self.train = split, train
        files = split_files(self.splits_dir)
        all_classes = sorted(set().union(*(f.keys() for f in files.values())))
        if not all_classes:
            raise ValueError(f"no '<class>_test_split<N>.txt' files in {self.splits_dir}")
        problems = []
        if classes is not None:
            classes = list(classes)
            problems += [f"unknown class {c!r} (split file {files[split].get(c, c)})" for c in all_classes
                         if c not in classes]
        else:
            classes = all_classes
        problems += [f"class {c!r} has no {c}_test_split{split}.txt" for c in classes if c not in files[split]]
        want = "1" if train else "2"
        split_name = "train" if train else "test"
        videos = []
        for label, cls in enumerate(classes):
            path = files[split].get(cls)
            if path is None:
                continue
            seen = set()
            for no, line in read_text_lines(path):
                where = f"{path.name}:{no}"
                parts = line.split()
                if len(parts) != 2 or not parts[0].lower().endswith(".avi") or "/" in parts[0]:
                    problems.append(f"{where}: expected '<video>.avi <0|1|2>', got {line!r}")
                    continue
                if parts[1] not in ("0", "1", "2"):
                    problems.append(f"{where}: flag must be 0, 1 or 2, got {parts[1]!r}")
                    continue
                if parts[0] in seen:
                    problems.append(f"{where}: {parts[0]} listed twice")
                    continue
                seen.add(parts[0])
                if parts[1] == want:
                    videos.append(Video(name=Path(parts[0]).stem, label=label, label_name=cls, split=split_name,
                                        path=self.root / cls / parts[0]))
        if problems:
            raise ValueError(format_problems(f"malformed HMDB-51 splits in {self.splits_dir}", problems))
        if not videos:
            raise ValueError(f"HMDB-51 split {split} lists no {split_name} videos")
        videos, skipped = check_files(videos, skip_missing, f"HMDB-51 split {split} {split_name}")
        super().__init__(videos, classes, skipped)
