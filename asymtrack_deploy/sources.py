"""Frame sources (video files, image folders, cameras) and the built-in real sequence.

numpy and OpenCV only, so the runtime side can use it. Frames come out as OpenCV reads them:
HxWx3 uint8 BGR.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

__all__ = ["FrameSource", "open_source", "builtin_sequence", "BUILTIN_DIR", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
BUILTIN_DIR = Path(__file__).resolve().parent / "data" / "sequences"


@dataclass
class FrameSource:
    """An iterable of BGR frames with what is known about it up front."""

    description: str
    length: int | None
    fps: float | None
    _frames: Iterator[np.ndarray]

    def __iter__(self) -> Iterator[np.ndarray]:
        return self._frames


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def _read_images(files: list[Path]) -> Iterator[np.ndarray]:
    for path in files:
        frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if frame is None:
            raise ValueError(f"{path}: not a readable image")
        yield frame


def _read_capture(cap: cv2.VideoCapture) -> Iterator[np.ndarray]:
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            yield frame
    finally:
        cap.release()


def open_source(source: str | Path, limit: int | None = None) -> FrameSource:
    """A video file, a folder of images (sorted by name) or a camera index ("0")."""
    text = str(source)
    if text.isdigit():
        cap = cv2.VideoCapture(int(text))
        if not cap.isOpened():
            raise ValueError(f"camera {text}: cannot be opened")
        return FrameSource(f"camera {text}", limit, None, _limit(_read_capture(cap), limit))
    path = Path(source)
    if path.is_dir():
        files = _image_files(path)
        if not files:
            raise ValueError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
        files = files[:limit] if limit else files
        return FrameSource(str(path), len(files), None, _read_images(files))
    if not path.exists():
        raise ValueError(f"{path}: no such file or folder")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ValueError(f"{path}: not a video OpenCV can read")
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    if limit and count:
        count = min(count, limit)
    fps = cap.get(cv2.CAP_PROP_FPS) or None
    return FrameSource(str(path), count, fps, _limit(_read_capture(cap), limit))


def _limit(frames: Iterator[np.ndarray], limit: int | None) -> Iterator[np.ndarray]:
    for i, frame in enumerate(frames):
        if limit is not None and i >= limit:
            return
        yield frame


@dataclass(frozen=True)
class BuiltinSequence:
    name: str
    folder: Path
    init_box: tuple[float, float, float, float]
    source: str

    @property
    def files(self) -> list[Path]:
        return _image_files(self.folder)

    def frames(self) -> list[np.ndarray]:
        return list(_read_images(self.files))


def builtin_sequence(name: str = "vtest") -> BuiltinSequence:
    """The real sequence that ships with the package (a pedestrian in OpenCV's vtest.avi)."""
    folder = BUILTIN_DIR / name
    meta_path = folder / "sequence.json"
    if not meta_path.is_file():
        raise ValueError(f"no built-in sequence {name!r} (looked in {folder})")
    meta = json.loads(meta_path.read_text())
    return BuiltinSequence(name, folder, tuple(meta["init_box_xywh"]), meta["source"])
