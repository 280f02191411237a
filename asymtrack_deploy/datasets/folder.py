"""Sequence folders, the generic layout (and the one the procedural renderer writes).

A sequence folder holds ``groundtruth.txt`` (or ``groundtruth_rect.txt``; x,y,w,h per frame,
separated by commas, tabs or spaces; NaN rows mark frames without the target; one line only
when the rest is withheld) and its frames in ``img/`` or beside the ground truth, in name
order. Optional visibility flags: ``absence.label``, ``cover.label``, ``visibility.txt`` or
LaSOT's ``full_occlusion.txt`` + ``out_of_view.txt``. A folder of such folders is a dataset.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .annotations import check_count, read_boxes, read_visibility
from .errors import DatasetError
from .frames import image_files
from .sequence import Sequence, SequenceList, require_dir

__all__ = ["SequenceFolder", "is_sequence_folder", "sequence_files", "read_sequence_folder", "GROUNDTRUTH_NAMES"]

GROUNDTRUTH_NAMES = ("groundtruth.txt", "groundtruth_rect.txt")


def is_sequence_folder(folder: Path) -> bool:
    return any((folder / name).is_file() for name in GROUNDTRUTH_NAMES)


def sequence_files(folder: Path) -> tuple[list[Path], Path]:
    """(frame files in order, ground-truth file) of a sequence folder."""
    gt_path = next((folder / n for n in GROUNDTRUTH_NAMES if (folder / n).is_file()), None)
    if gt_path is None:
        raise DatasetError(folder / GROUNDTRUTH_NAMES[0], f"ground-truth file not found (sequence {folder.name})")
    return image_files(folder / "img" if (folder / "img").is_dir() else folder), gt_path


def read_sequence_folder(folder: Path) -> Sequence:
    """One sequence folder, checked: one box per frame (or only the first), a first box to
    start from; frames with a NaN box or a visibility flag saying so are not visible."""
    files, gt_path = sequence_files(folder)
    boxes = read_boxes(gt_path, allow_nan=True)
    check_count(gt_path, boxes, len(files), files[0].parent, first_only=True)
    visible = None
    if len(boxes) == len(files):
        visible = read_visibility(folder, len(files))
        if np.isnan(boxes).any():
            present = ~np.isnan(boxes).any(axis=1)
            visible = present if visible is None else visible & present
    if np.isnan(boxes[0]).any():
        raise DatasetError(gt_path, "the first frame needs a box to start tracking", 1)
    return Sequence(folder.name, boxes, tuple(files), visible)


class SequenceFolder(SequenceList):
    """``SequenceFolder(root)``: every sub-folder of ``root`` is a sequence folder (or ``root``
    is one itself)."""

    def __init__(self, root: str | Path):
        self.root = require_dir(root, "a folder of sequences, each with groundtruth.txt")
        if is_sequence_folder(self.root):
            self._folders = [self.root]
        else:
            self._folders = sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
            if not self._folders:
                raise DatasetError(self.root, "empty folder, no <sequence>/groundtruth.txt found")
        super().__init__([f.name for f in self._folders])

    def _read(self, index: int) -> Sequence:
        return read_sequence_folder(self._folders[index])
