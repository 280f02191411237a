"""LaSOT as the download unpacks: ``<class>/<class>-<k>/`` with ``img/00000001.jpg``...,
``groundtruth.txt`` and the absent-frame flags ``full_occlusion.txt`` and ``out_of_view.txt``
(one comma-separated line of 0/1 each). A frame is visible when neither flag is set.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .annotations import read_boxes, read_visibility
from .errors import DatasetError
from .frames import FrameFiles, image_files
from .sequence import Sequence, SequenceList, require_dir

__all__ = ["LaSOT", "check_present"]


class LaSOT(SequenceList):
    """``LaSOT(root)``: every sequence under ``root``; ``names``: only those (the test split,
    a training list), ``names_from`` saying where the list comes from in errors."""

    def __init__(self, root: str | Path, names: Iterable[str] | None = None, names_from: str = "the given names"):
        self.root = require_dir(root, "the LaSOT folder with one folder per class")
        if names is None:
            names = sorted(p.name for c in self.root.iterdir() if c.is_dir() for p in c.iterdir() if p.is_dir() and "-" in p.name)
            if not names:
                raise DatasetError(self.root, "no LaSOT sequences (expected <class>/<class>-<k>/groundtruth.txt)")
        names = list(names)
        check_present(self.root, names, self._folder, f"sequences from {names_from}", "<class>/<class>-<n>/ folders")
        super().__init__(names)

    def _folder(self, name: str) -> Path:
        nested = self.root / name.rsplit("-", 1)[0] / name
        return nested if nested.is_dir() else self.root / name

    def _read(self, index: int) -> Sequence:
        name = self.names[index]
        folder = self._folder(name)
        gt_path = folder / "groundtruth.txt"
        boxes = read_boxes(gt_path)
        n = len(boxes)
        for flag in ("full_occlusion.txt", "out_of_view.txt"):
            if not (folder / flag).is_file():
                raise DatasetError(folder / flag, "missing (LaSOT marks absent frames with it)")
        files = FrameFiles(folder / "img", n)
        available = len(image_files(folder / "img"))
        if available < n or not files[-1].is_file():
            raise DatasetError(gt_path, f"{n} boxes but {available} images in {folder / 'img'} (or {files[-1].name} missing)")
        return Sequence(name, boxes, files, read_visibility(folder, n))


def check_present(root: Path, names: list[str], folder_of, what: str, expected: str) -> None:
    """Every named sequence has its folder, or one error that counts the missing ones."""
    missing = [n for n in names if not folder_of(n).is_dir()]
    if missing:
        raise DatasetError(
            root, f"{len(missing)} of {len(names)} {what} are missing (first: {', '.join(missing[:3])}); expected {expected}"
        )
