"""Annotation text files: boxes, per-frame flags, lists of names, and the visibility conventions.

Every reader of every benchmark parses through here, so a malformed file gives the same
``DatasetError`` wherever it is read: the file, the line and what was expected.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .errors import DatasetError

__all__ = ["read_boxes", "read_flags", "read_names", "read_visibility", "text_lines", "check_count"]

_SEPARATORS = re.compile(r"[,\s]+")


def text_lines(path: Path, missing: str = "no such file") -> list[str]:
    """The lines of a UTF-8 text file, trailing blank lines dropped."""
    if not path.is_file():
        raise DatasetError(path, missing)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DatasetError(path, f"not a text file ({exc.reason} at byte {exc.start})") from exc
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _numbers(path: Path, number: int, line: str) -> list[float]:
    try:
        return [float(v) for v in _SEPARATORS.split(line.strip()) if v]
    except ValueError:
        raise DatasetError(path, f"expected 4 numbers (x, y, w, h), got {line.strip()!r}", number) from None


def read_boxes(path: str | Path, allow_nan: bool = False) -> np.ndarray:
    """Boxes x, y, w, h (float64), one per line, separated by commas, tabs or spaces (all three
    occur in the wild). Trailing blank lines are fine; a blank line in between, a line without
    exactly four numbers or (unless allowed: frames without the target) NaN is an error naming
    the file and line."""
    path = Path(path)
    lines = text_lines(path, missing="ground-truth file not found")
    if not lines:
        raise DatasetError(path, "empty ground-truth file (expected one x,y,w,h line per frame)")
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            raise DatasetError(path, "blank line inside the ground truth", number)
        values = _numbers(path, number, line)
        if len(values) != 4:
            raise DatasetError(path, f"expected 4 numbers (x, y, w, h), got {len(values)}: {line.strip()!r}", number)
        if not allow_nan and any(np.isnan(values)):
            raise DatasetError(path, "NaN box (this dataset annotates every frame)", number)
        if values[2] < 0 or values[3] < 0 or any(np.isinf(values)):  # zero: the target absent (LaSOT)
            raise DatasetError(path, f"a box needs finite values and a width and height >= 0, got {line.strip()!r}",
                               number)
        rows.append(values)
    return np.asarray(rows, dtype=np.float64)


def _flag(path: Path, text: str, low: float, high: float, integer: bool, number: int) -> float:
    kind = "an integer" if integer else "a number"
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        raise DatasetError(path, f"expected {kind} in [{low}, {high}], got {text!r}", number) from None
    if not low <= value <= high:
        raise DatasetError(path, f"expected {kind} in [{low}, {high}], got {value}", number)
    return value


def read_flags(path: Path, count: int, low: float, high: float, integer: bool = True) -> np.ndarray:
    """Per-frame labels in [low, high]: one per line (GOT-10k's ``cover.label``) or
    comma-separated on one line (LaSOT's flags), exactly ``count`` of them."""
    values = []
    for number, line in enumerate(text_lines(path), 1):
        for text in _SEPARATORS.split(line.strip()):
            if text:
                values.append(_flag(path, text, low, high, integer, number))
    if len(values) != count:
        raise DatasetError(path, f"{len(values)} labels for {count} frames")
    return np.asarray(values)


def read_names(path: Path) -> list[str]:
    """One name per line (``list.txt``, split files); a list without names is an error."""
    names = [line.strip() for line in text_lines(path) if line.strip()]
    if not names:
        raise DatasetError(path, "lists no sequences")
    return names


_LASOT_PAIR = ("full_occlusion.txt", "out_of_view.txt")


def read_visibility(folder: Path, count: int) -> np.ndarray | None:
    """Per-frame "target visible" from whichever flag files a sequence folder has (all that are
    there must agree to call a frame visible), or None where it has none:
    ``absence.label`` (GOT-10k, 1 = absent), ``cover.label`` (GOT-10k, visible eighths, 0 =
    hidden), ``visibility.txt`` (the procedural set, visible fraction) and the LaSOT pair
    ``full_occlusion.txt`` + ``out_of_view.txt`` (1 = hidden)."""
    flags = []
    if (folder / "absence.label").is_file():
        flags.append(read_flags(folder / "absence.label", count, 0, 1) == 0)
    if (folder / "cover.label").is_file():
        flags.append(read_flags(folder / "cover.label", count, 0, 8) > 0)
    if (folder / "visibility.txt").is_file():
        flags.append(read_flags(folder / "visibility.txt", count, 0, 1, integer=False) > 0)
    present = [(folder / name).is_file() for name in _LASOT_PAIR]
    if any(present):
        missing = _LASOT_PAIR[present.index(False)] if not all(present) else None
        if missing:
            raise DatasetError(folder / missing, "missing (LaSOT-style flags come as a pair)")
        flags += [read_flags(folder / name, count, 0, 1) == 0 for name in _LASOT_PAIR]
    return np.logical_and.reduce(flags) if flags else None


def check_count(gt_path: Path, boxes: np.ndarray, frames: int, folder: Path, first_only: bool = False) -> None:
    """One box per frame, or (``first_only``: benchmarks that withhold the rest) one box."""
    if len(boxes) == frames or (first_only and len(boxes) == 1):
        return
    raise DatasetError(gt_path, f"{len(boxes)} boxes for {frames} images in {folder}")
