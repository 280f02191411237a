"""The frames every timed tracker loop runs on: decoded once, cycled through (the Python rows,
the C library's row and the C-versus-Python comparison all step through them the same way)."""
from __future__ import annotations

import numpy as np

__all__ = ["read_frames", "cycled_frame"]


def read_frames(frames_dir: str) -> list[np.ndarray]:
    from ..sources import open_source

    return list(open_source(frames_dir))


def cycled_frame(frames: list[np.ndarray], step: int) -> tuple[np.ndarray, bool]:
    """The frame of tracker update ``step`` when updates cycle through ``frames[1:]``, and whether
    the tracker restarts from the initial box first (at the start of each cycle)."""
    steps = len(frames) - 1
    return frames[1 + step % steps], step % steps == 0
