"""TrackingNet as the download unpacks: chunks (``TRAIN_<k>/``, ``TEST/``), each with
``anno/<video>.txt`` (x,y,w,h per frame; on TEST only the first line) and
``frames/<video>/0.jpg``, ``1.jpg``... (numbered from 0).
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .annotations import check_count, read_boxes
from .errors import DatasetError
from .frames import FrameFiles, image_files
from .sequence import Sequence, SequenceList, require_dir

__all__ = ["TrackingNet", "TRACKINGNET_EXCLUDED"]

# Sequences the official sampler never draws (broken annotations in TrackingNet's training set).
TRACKINGNET_EXCLUDED = frozenset({"ceH46gqMWak_0", "ak89dpHVmHc_1", "a3dbdHben-o_2", "p6Rtu645O08_0", "aDxRlCI40wo_0"})


class TrackingNet(SequenceList):
    """``TrackingNet(root)``: the videos of every ``TRAIN_<k>`` chunk under ``root``;
    ``chunks``: these chunk folders instead (``[root / "TEST"]`` for the test set)."""

    def __init__(self, root: str | Path, chunks: Iterable[str | Path] | None = None):
        self.root = require_dir(root, "the TrackingNet folder with TRAIN_<k>/ chunks")
        folders = [Path(c) for c in chunks] if chunks is not None else self._training_chunks()
        self._videos = [(chunk, video) for chunk in folders for video in _videos(chunk)]
        super().__init__([video for _, video in self._videos])

    def _training_chunks(self) -> list[Path]:
        found = sorted((p for p in self.root.glob("TRAIN_*") if p.name[6:].isdigit()), key=lambda p: int(p.name[6:]))
        if not found:
            raise DatasetError(self.root, "no TRAIN_<k> folders (expected TRAIN_<k>/anno and TRAIN_<k>/frames)")
        return found

    def _read(self, index: int) -> Sequence:
        chunk, video = self._videos[index]
        gt_path = chunk / "anno" / f"{video}.txt"
        boxes = read_boxes(gt_path)
        files = FrameFiles(chunk / "frames" / video, len(image_files(chunk / "frames" / video)), first=0, digits=0)
        check_count(gt_path, boxes, len(files), files.folder, first_only=True)
        return Sequence(video, boxes, files)


def _videos(chunk: Path) -> list[str]:
    for sub in ("anno", "frames"):
        if not (chunk / sub).is_dir():
            raise DatasetError(chunk / sub, f"not found (expected TrackingNet's {chunk.name}/anno and {chunk.name}/frames)")
    videos = sorted(p.stem for p in (chunk / "anno").glob("*.txt") if p.stem not in TRACKINGNET_EXCLUDED)
    if not videos:
        raise DatasetError(chunk / "anno", "no <sequence>.txt annotation files")
    return videos
