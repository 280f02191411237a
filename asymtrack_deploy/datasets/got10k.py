"""GOT-10k, one split folder (``train/``, ``val/`` or ``test/``) as the download unpacks.

``list.txt`` names the sequence folders (without it: every sub-folder); per sequence the frames
``00000001.jpg``..., ``groundtruth.txt`` (x,y,w,h per frame; on test only the first line),
``absence.label`` (1 = absent) and ``cover.label`` (visible eighths, 0 = hidden) where the split
has them, and ``meta_info.ini`` (its ``resolution`` bounds the boxes in the official metric).
A frame is visible when it is neither absent nor fully covered.

An optional split file picks sequences: indices into ``list.txt`` (the official ``data_specs``
format) or sequence names.
"""
from __future__ import annotations

import re
from pathlib import Path

from .annotations import check_count, read_boxes, read_names, read_visibility, text_lines
from .errors import DatasetError
from .frames import FrameFiles, image_files
from .sequence import Sequence, SequenceList, require_dir

__all__ = ["GOT10k"]


class GOT10k(SequenceList):
    """``GOT10k(root)``: the sequences of a split folder; ``first_box_only`` for the test split,
    whose ground truth past the first frame is withheld."""

    def __init__(self, root: str | Path, split: str | Path | None = None, first_box_only: bool = False):
        self.root = require_dir(root, "a GOT-10k train/, val/ or test/ folder with list.txt")
        self.list_file = self.root / "list.txt"
        self.first_box_only = first_box_only
        names = read_names(self.list_file) if self.list_file.is_file() else self._subfolders()
        super().__init__(_apply_split(names, Path(split)) if split is not None else names)

    def _subfolders(self) -> list[str]:
        names = sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not names:
            raise DatasetError(self.list_file, "no such file, and no sequence folders beside it")
        return names

    def _read(self, index: int) -> Sequence:
        name = self.names[index]
        folder = self.root / name
        if not folder.is_dir():
            raise DatasetError(self.list_file, f"names {name!r}, but {folder} is not a folder")
        gt_path = folder / "groundtruth.txt"
        boxes = read_boxes(gt_path)
        files = FrameFiles(folder, len(image_files(folder)))
        check_count(gt_path, boxes, len(files), folder, self.first_box_only)
        visible = read_visibility(folder, len(files)) if len(boxes) == len(files) else None
        return Sequence(name, boxes, files, visible, _resolution(folder))


def _apply_split(names: list[str], split: Path) -> list[str]:
    chosen = []
    for number, entry in enumerate(read_names(split), start=1):
        if entry.isdigit():
            if int(entry) >= len(names):
                raise DatasetError(split, f"index {entry} is past the end of list.txt ({len(names)} sequences)", number)
            chosen.append(names[int(entry)])
        else:
            chosen.append(entry)
    return chosen


def _resolution(folder: Path) -> tuple[int, int] | None:
    """(width, height) from ``meta_info.ini``, when the split has it."""
    meta = folder / "meta_info.ini"
    if not meta.is_file():
        return None
    for number, line in enumerate(text_lines(meta), 1):
        key, _, value = line.partition(":")
        if key.strip() == "resolution":
            numbers = re.findall(r"\d+", value)
            if len(numbers) != 2:
                raise DatasetError(meta, f"resolution should be '(width, height)', got {value.strip()!r}", number)
            return int(numbers[0]), int(numbers[1])
    return None
