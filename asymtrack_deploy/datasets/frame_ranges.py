"""OTB-100 and UAV123: sequences defined by a table of frame ranges (``splits.py``), since some
start later in their image folder, end earlier, or share a folder with another sequence.

OTB-100: ``<Seq>/img/0001.jpg``, ``<Seq>/groundtruth_rect.txt``. UAV123: ``data_seq/UAV123/<seq>/
000001.jpg`` and ``anno/UAV123/<seq>.txt``, where NaN rows mark frames without the target.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import splits
from .annotations import check_count, read_boxes
from .errors import DatasetError
from .frames import FrameFiles
from .lasot import check_present
from .sequence import Sequence, SequenceList, require_dir

__all__ = ["FrameTable", "OTB100", "UAV123"]


class FrameTable(SequenceList):
    """Sequences of a frame-range table (rows: folder, first, last, digits, anno, omit);
    ``names``: only these rows."""

    label = "dataset"
    table: dict[str, dict] = {}
    allow_nan = False

    def __init__(self, root: str | Path, names: list[str] | None = None):
        self.root = require_dir(root, f"the {self.label} folder")
        rows = self.table
        if names is not None:
            unknown = [n for n in names if n not in rows]
            if unknown:
                raise ValueError(f"not {self.label} sequences: {', '.join(unknown)}")
            rows = {n: rows[n] for n in names}
        expected = f"the table's image folders, such as {next(iter(rows.values()))['folder']}/"
        check_present(self.root, list(rows), lambda n: self.root / rows[n]["folder"], f"{self.label} sequences", expected)
        self.rows = rows
        super().__init__(list(rows))

    def _read(self, index: int) -> Sequence:
        name = self.names[index]
        row = self.rows[name]
        first = row["first"] + row["omit"]
        files = FrameFiles(self.root / row["folder"], row["last"] - first + 1, first, row["digits"])
        for frame in (files[0], files[-1]):
            if not frame.is_file():
                raise DatasetError(frame, f"frame of sequence {name} not found")
        gt_path = self.root / row["anno"]
        boxes = read_boxes(gt_path, allow_nan=self.allow_nan)[row["omit"] :]
        check_count(gt_path, boxes, len(files), files.folder)
        visible = ~np.isnan(boxes).any(axis=1) if self.allow_nan else None
        return Sequence(name, boxes, files, visible)


class OTB100(FrameTable):
    label = "OTB-100"
    table = splits.OTB100


class UAV123(FrameTable):
    """``root`` holds ``data_seq/`` and ``anno/`` (or is their parent's ``UAV123/``)."""

    label = "UAV123"
    table = splits.UAV123
    allow_nan = True

    def __init__(self, root: str | Path, names: list[str] | None = None):
        root = Path(root)
        super().__init__(root / "UAV123" if (root / "UAV123" / "data_seq").is_dir() else root, names)
