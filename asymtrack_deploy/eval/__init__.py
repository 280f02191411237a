"""Benchmark evaluation: the benchmarks by name (read through the data layer, ``datasets/``),
one-pass metrics in the pytracking and got10k conventions, result and submission writers, a
resumable parallel runner and a TraX server for the VOT toolkit. numpy and OpenCV only
(matplotlib for plots, vot-trax for TraX, both lazily); trackers are built from a backend, never
from ``models/``.
"""
from __future__ import annotations

from ..datasets import DatasetError, Sequence
from .named_datasets import Dataset, dataset_names, load_dataset
from .report import compare, evaluate, headline, plot_success
from .results import SequenceRecord, read_record, write_got10k_submission, write_lasot_results, write_trackingnet_submission
from .runner import RunResult, TrackerSpec, run_dataset, track_sequence

__all__ = [
    "Dataset",
    "DatasetError",
    "RunResult",
    "Sequence",
    "SequenceRecord",
    "TrackerSpec",
    "compare",
    "dataset_names",
    "evaluate",
    "headline",
    "load_dataset",
    "plot_success",
    "read_record",
    "run_dataset",
    "track_sequence",
    "write_got10k_submission",
    "write_lasot_results",
    "write_trackingnet_submission",
]
