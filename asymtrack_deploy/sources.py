"""Frame sources (video files, image folders, cameras) and the built-in real sequence.

numpy and OpenCV only, so the runtime side can use it. Frames come out as OpenCV reads them:
HxWx3 uint8 BGR. Image folders are listed and decoded by the data layer (``datasets.frames``),
so every folder of frames in the toolkit is read in the same order.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .datasets import IMAGE_SUFFIXES, Sequence, image_files, read_frame, try_read_frame

__all__ = ["FrameSource", "open_source", "sample_frames", "spread", "builtin_sequence", "video_capture", "BUILTIN_DIR",
           "IMAGE_SUFFIXES"]

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
        files = image_files(path)
        files = files[:limit] if limit else files
        return FrameSource(str(path), len(files), None, (read_frame(f) for f in files))
    if not path.exists():
        raise ValueError(f"{path}: no such file or folder")
    cap = video_capture(path)
    if not cap.isOpened():
        raise ValueError(f"{path}: not a video OpenCV can read")
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    if limit and count:
        count = min(count, limit)
    fps = cap.get(cv2.CAP_PROP_FPS) or None
    return FrameSource(str(path), count, fps, _limit(_read_capture(cap), limit))


# FFmpeg's own log level for OpenCV's video reader: fatal only (8). Its decoders report stream
# oddities they recover from at the error level (h264: "A non-intra slice in an IDR NAL unit" in
# ordinary MP4s such as box.mp4), which are not the user's business; a video that cannot be read
# is reported by this module. Set OPENCV_FFMPEG_LOGLEVEL (e.g. 16, errors) to see them.
_FFMPEG_LOGLEVEL = "8"


def video_capture(path: str | Path) -> cv2.VideoCapture:
    """``cv2.VideoCapture`` of a file, FFmpeg's messages quiet unless the user asked for them
    (OpenCV reads the variable when it opens its first FFmpeg capture)."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", _FFMPEG_LOGLEVEL)
    return cv2.VideoCapture(str(path))


def _limit(frames: Iterator[np.ndarray], limit: int | None) -> Iterator[np.ndarray]:
    for i, frame in enumerate(frames):
        if limit is not None and i >= limit:
            return
        yield frame


def spread(total: int, count: int) -> list[int]:
    """At most ``count`` indices spread evenly over range(total)."""
    if total <= count:
        return list(range(total))
    return sorted({int(round(v)) for v in np.linspace(0, total - 1, count)})


def sample_frames(source: str | Path, count: int) -> list[np.ndarray]:
    """At most ``count`` frames spread evenly over a video file or an image folder, for work
    that wants a sample of the footage rather than all of it. Images and video frames OpenCV
    cannot decode are passed over; a source with none it can is a ValueError."""
    path = Path(source)
    if path.is_dir():
        files = image_files(path)
        frames = [f for f in (try_read_frame(files[i]) for i in spread(len(files), count)) if f is not None]
        if not frames:
            raise ValueError(f"{path}: no readable frame (OpenCV could not decode any of its {len(files)} images)")
        return frames
    if not path.exists():
        raise ValueError(f"{path}: no such file or folder")
    return _sample_video(path, count)


def _sample_video(path: Path, count: int) -> list[np.ndarray]:
    """Only the wanted frames are decoded (``grab`` skips the rest)."""
    cap = video_capture(path)
    try:
        if not cap.isOpened():
            raise ValueError(f"{path}: not a video OpenCV can read, and not a folder")
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        wanted = set(spread(total, count)) if total > 0 else set(range(count))
        frames = []
        for index in range(max(wanted) + 1):
            if not cap.grab():
                break
            if index in wanted:
                ok, frame = cap.retrieve()
                if ok and frame is not None:
                    frames.append(frame)
    finally:
        cap.release()
    if not frames:
        raise ValueError(f"{path}: no readable frame in this video")
    return frames


def builtin_sequence(name: str = "vtest") -> Sequence:
    """The real sequence that ships with the package (a pedestrian in OpenCV's vtest.avi):
    its frames and the annotated first box (the only one); ``source`` says where it was cut."""
    folder = BUILTIN_DIR / name
    meta_path = folder / "sequence.json"
    if not meta_path.is_file():
        raise ValueError(f"no built-in sequence {name!r} (looked in {folder})")
    meta = json.loads(meta_path.read_text())
    box = np.asarray([meta["init_box_xywh"]], dtype=np.float64)
    return Sequence(name, box, tuple(image_files(folder)), source=meta["source"])
