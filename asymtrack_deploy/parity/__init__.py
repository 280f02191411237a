"""Accuracy parity of converted graphs against the PyTorch reference, in two measures.

* ``crops``: the export-time numeric check, both graphs on real crop pairs, max box difference;
* ``tracking``: teacher-forced and free-running tracking on video, per-frame IoU (the
  ``asymtrack-deploy parity`` command);
* ``tolerances``: the one table of thresholds, per precision and measure.

Both compare backends, so nothing here imports torch or a runtime library.
"""
from .crops import ParityCrops, ParityError, compare_on_crops, parity_crops
from .tolerances import TOLERANCES, Tolerance, tolerance_for
from .tracking import ParityReport, ParityThresholds, box_iou, run_parity

__all__ = [
    "ParityCrops",
    "ParityError",
    "ParityReport",
    "ParityThresholds",
    "TOLERANCES",
    "Tolerance",
    "box_iou",
    "compare_on_crops",
    "parity_crops",
    "run_parity",
    "tolerance_for",
]
