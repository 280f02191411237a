"""Frame files: which images a folder holds (in frame order), numbered frame names, decoding.

OpenCV reads frames as HxWx3 uint8 BGR; a file it cannot decode is a ``DatasetError`` naming it.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .errors import DatasetError

__all__ = ["IMAGE_SUFFIXES", "FrameFiles", "image_files", "read_frame", "try_read_frame"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")  # PPM: what C tools write


def _natural_key(path: Path):
    """Numbered names in numeric order (0, 1, ..., 9, 10), others after them by name."""
    return (0, int(path.stem), "") if path.stem.isdigit() else (1, 0, path.stem)


def image_files(folder: str | Path) -> list[Path]:
    """The images of a folder in frame order; a missing or image-less folder is an error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(folder, "image folder not found")
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    if not files:
        raise DatasetError(folder, f"no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    return sorted(files, key=_natural_key)


def try_read_frame(path: str | Path) -> np.ndarray | None:
    """The decoded frame (BGR uint8), or None where OpenCV cannot read it."""
    return cv2.imread(str(path), cv2.IMREAD_COLOR)


def read_frame(path: str | Path) -> np.ndarray:
    """The decoded frame (BGR uint8); a missing or undecodable file is a ``DatasetError``."""
    frame = try_read_frame(path)
    if frame is None:
        raise DatasetError(path, "not a readable image (missing, or not an image OpenCV can decode)")
    return frame


@dataclass(frozen=True)
class FrameFiles:
    """``count`` numbered frame files (``folder/00000001.jpg``...), listed without holding a
    path per frame: a training set of thousands of long videos keeps only this per video.
    Indexes and slices like a tuple of paths."""

    folder: Path
    count: int
    first: int = 1
    digits: int = 8
    suffix: str = ".jpg"

    def __len__(self) -> int:
        return self.count

    def _path(self, index: int) -> Path:
        if not -self.count <= index < self.count:
            raise IndexError(f"frame {index} of {self.count} in {self.folder}")
        number = self.first + (index % self.count)
        return self.folder / f"{number:0{self.digits}d}{self.suffix}"

    def __getitem__(self, index):
        if isinstance(index, slice):
            return tuple(self._path(i) for i in range(*index.indices(self.count)))
        return self._path(index)

    def __iter__(self) -> Iterator[Path]:
        return (self._path(i) for i in range(self.count))
