"""UCF-101 index over the official layout and split lists.

Layout: ``root/<Class>/v_<Class>_gXX_cYY.avi`` and ``root/ucfTrainTestlist/`` holding
``classInd.txt`` (``<1-based index> <Class>``), ``trainlist0N.txt`` (``Class/file.avi <index>``)
and ``testlist0N.txt`` (``Class/file.avi``), CRLF line endings as distributed.
"""
from __future__ import annotations

import re
from pathlib import Path

from ._common import Video, VideoDataset, check_files, format_problems, read_text_lines

# The official files spell some classes differently in directory and file names
# (HandstandPushups/v_HandStandPushups_...), so the name pattern is checked case-insensitively.
_FILE_RE = re.compile(r"^v_([A-Za-z]+)_g(\d{2})_c(\d{2})\.avi$")


def read_class_index(path: Path) -> list[str]:
    """Class names in label order (label = classInd index - 1)."""
    rows, problems = {}, []
    for no, line in read_text_lines(path):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            problems.append(f"{path.name}:{no}: expected '<index> <Class>', got {line!r}")
            continue
        idx = int(parts[0])
        if idx in rows:
            problems.append(f"{path.name}:{no}: index {idx} listed twice")
        rows[idx] = parts[1]
    if not problems and sorted(rows) != list(range(1, len(rows) + 1)):
        problems.append(f"{path.name}: indexes must run 1..{len(rows)} without gaps")
    if not problems and len(set(rows.values())) != len(rows):
        problems.append(f"{path.name}: a class is listed twice")
    if problems:
        raise ValueError(format_problems(f"malformed class index {path}", problems))
    if not rows:
        raise ValueError(f"class index {path} is empty")
    return [rows[i] for i in range(1, len(rows) + 1)]


class UCF101(VideoDataset):
    """UCF-101 split ``split`` (1, 2 or 3), training (``train=True``) or test list.

    ``lists_dir`` defaults to ``root/ucfTrainTestlist``. Labels are 0-based from classInd.
    Listed videos missing under ``root`` raise FileNotFoundError naming them, unless
    ``skip_missing=True`` (then they are left out, warned about and kept in ``skipped``).
    Malformed lines, unknown classes and labels that contradict classInd raise ValueError.
    """

    def __init__(self, root, split: int = 1, train: bool = True, *, lists_dir=None, skip_missing: bool = False):
        if split not in (1, 2, 3):
            raise ValueError(f"UCF-101 split must be 1, 2 or 3, got {split!r}")
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"UCF-101 root not found: {self.root}")
        self.lists_dir = Path(lists_dir) if lists_dir is not None else self.root / "ucfTrainTestlist"
        self.split = split
        self.train = train
        classes = read_class_index(self.lists_dir / "classInd.txt")
        lookup = {c.lower(): i for i, c in enumerate(classes)}
        list_path = self.lists_dir / f"{'trainlist' if train else 'testlist'}{split:02d}.txt"
        videos, problems = [], []
        split_name = "train" if train else "test"
        for no, line in read_text_lines(list_path):
            where = f"{list_path.name}:{no}"
            parts = line.split()
            if len(parts) not in (1, 2) or (train and len(parts) != 2):
                problems.append(f"{where}: expected 'Class/v_Class_gXX_cYY.avi{' <label>' if train else ''}', got {line!r}")
                continue
            rel = parts[0].replace("\\", "/")
            cls, _, fname = rel.partition("/")
            m = _FILE_RE.match(fname)
            if not cls or not m or "/" in fname:
                problems.append(f"{where}: not a 'Class/v_Class_gXX_cYY.avi' path: {rel!r}")
                continue
            if cls.lower() not in lookup:
                problems.append(f"{where}: unknown class {cls!r} (not in classInd.txt)")
                continue
            label = lookup[cls.lower()]
            if m.group(1).lower() != cls.lower():
                problems.append(f"{where}: file {fname!r} does not belong to class directory {cls!r}")
                continue
            if len(parts) == 2:
                if not parts[1].isdigit():
                    problems.append(f"{where}: label {parts[1]!r} is not an integer")
                    continue
                if int(parts[1]) - 1 != label:
                    problems.append(f"{where}: label {parts[1]} contradicts classInd ({cls} is {label + 1})")
                    continue
            videos.append(Video(name=Path(fname).stem, label=label, label_name=classes[label], split=split_name,
                                path=self.root / cls / fname))
        if problems:
            raise ValueError(format_problems(f"malformed UCF-101 split list {list_path}", problems))
        if not videos:
            raise ValueError(f"UCF-101 split list {list_path} lists no videos")
        videos, skipped = check_files(videos, skip_missing, f"UCF-101 split {split} {split_name}")
        super().__init__(videos, classes, skipped)
