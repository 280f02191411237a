"""The one ``Sequence`` type every reader returns, and ``SequenceList``, a dataset's sequences
read lazily.

A sequence is frames (files on disk, or a callable that renders frame i) and one ground-truth
box per frame (only the first when the benchmark withholds the rest), with the dataset's
per-frame visibility where it has any. Evaluation tracks it frame by frame; training samples
pairs of ``usable`` frames from it; calibration crops it.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections import abc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..boxes import valid_boxes
from .errors import DatasetError
from .frames import read_frame

__all__ = ["Sequence", "SequenceList", "require_dir"]


@dataclass(frozen=True, eq=False)
class Sequence:
    """One video (or one still image: a sequence of one frame).

    ``files`` are the frame files in order (empty when ``render(i)`` makes frame i);
    ``boxes`` the ground truth (x, y, w, h per frame); ``visible`` the dataset's per-frame
    "target visible" flags (None: the dataset does not say); ``image_size`` (width, height)
    when the dataset records it; ``source`` where the sequence comes from, when worth saying.
    """

    name: str
    boxes: np.ndarray
    files: abc.Sequence[Path] = ()
    visible: np.ndarray | None = None
    image_size: tuple[int, int] | None = None
    render: Callable[[int], np.ndarray] | None = None
    source: str = ""

    def __len__(self) -> int:
        return len(self.boxes) if self.render is not None else len(self.files)

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` (from 0) as BGR uint8."""
        return self.render(index) if self.render is not None else read_frame(self.files[index])

    def iter_frames(self) -> Iterator[np.ndarray]:
        return (self.frame(i) for i in range(len(self)))

    def frames(self) -> list[np.ndarray]:
        """Every frame, decoded (for short sequences)."""
        return list(self.iter_frames())

    @property
    def folder(self) -> Path | None:
        """The folder of the frame files (None for rendered sequences)."""
        return Path(self.files[0]).parent if len(self.files) else None

    @property
    def init_box(self) -> tuple[float, float, float, float]:
        return tuple(float(v) for v in self.boxes[0])

    @property
    def annotated(self) -> bool:
        """True when every frame has ground truth (so metrics can be computed)."""
        return len(self.boxes) == len(self) and len(self) > 1

    @property
    def usable(self) -> np.ndarray:
        """Per annotated frame: the target is visible (where flagged) and its box is valid;
        the frames a training pair may be drawn from."""
        usable = valid_boxes(self.boxes)
        return usable if self.visible is None else usable & np.asarray(self.visible, dtype=bool)

    def resolve_image_size(self) -> tuple[int, int]:
        """(width, height): from the dataset's metadata, else from the first frame."""
        if self.image_size is not None:
            return self.image_size
        frame = self.frame(0)
        return int(frame.shape[1]), int(frame.shape[0])


class SequenceList(ABC):
    """The sequences of one dataset, each read (and checked) when first asked for, then kept:
    a training set of thousands of videos opens at once, and ``check()`` reads everything up
    front where a malformed file must fail before any work (evaluation).

    Subclasses give the names and ``_read(index)``; ``is_video`` False marks still images;
    ``cache_limit`` bounds the sequences kept (None: all).
    """

    is_video = True
    cache_limit: int | None = None

    def __init__(self, names: list[str]):
        self.names = names if isinstance(names, list) else list(names)
        self._cache: dict[int, Sequence] = {}

    @abstractmethod
    def _read(self, index: int) -> Sequence: ...

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> Sequence:
        if index not in self._cache:
            if self.cache_limit is not None and len(self._cache) >= self.cache_limit:
                self._cache.clear()  # cheap to read again; keeps memory flat
            sequence = self._read(index)
            if self.cache_limit != 0:
                self._cache[index] = sequence
            return sequence
        return self._cache[index]

    def __iter__(self) -> Iterator[Sequence]:
        return (self[i] for i in range(len(self)))

    def check(self) -> None:
        """Read every sequence now (raises ``DatasetError`` on the first bad file)."""
        for i in range(len(self)):
            self[i]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} sequences)"


def require_dir(root: str | Path, what: str) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(root, f"no such folder (expected {what})")
    return root
