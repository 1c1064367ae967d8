"""Datasets of labelled videos and the builder that turns them into MV datasets.

- :class:`UCF101`, :class:`HMDB51`: indexes over the official layouts and split files.
- :class:`SyntheticMotion`: rendered clips labelled by motion pattern, with known flow.
- :func:`build_mv_dataset`: encode a dataset into per-video .npz files and a manifest.
- :func:`load_mv_file`, :func:`read_manifest`: read what the builder wrote.
"""
from ._common import Video, VideoDataset
from .build import (BuildReport, MANIFEST_COLUMNS, MANIFEST_EXTRA_COLUMNS, NPZ_KEYS, build_mv_dataset, classifier_rates, load_mv_file,
                    read_manifest)
from .hmdb51 import HMDB51
from .synthetic import MOTION_CLASSES, SyntheticMotion
from .ucf101 import UCF101

__all__ = ["Video", "VideoDataset", "UCF101", "HMDB51", "SyntheticMotion", "MOTION_CLASSES", "build_mv_dataset",
           "BuildReport", "load_mv_file", "read_manifest", "classifier_rates", "MANIFEST_COLUMNS", "MANIFEST_EXTRA_COLUMNS", "NPZ_KEYS"]
