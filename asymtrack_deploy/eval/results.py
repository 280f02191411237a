"""Result files: the runner's per-sequence records and the layouts benchmarks expect.

A sequence's record is ``<seq>.txt`` (one ``x,y,w,h`` line per frame) plus ``<seq>_time.txt``
(seconds per frame, the first being initialisation) and ``<seq>_score.txt``; each file is
written to a temporary name and renamed, and ``<seq>.txt`` comes last, so its presence means the
sequence finished (the runner resumes by skipping those). Writers turn records into:

* GOT-10k submissions: ``<seq>/<seq>_001.txt`` (comma-separated) and ``<seq>/<seq>_time.txt``,
  zipped with the sequence folders at the top level (the evaluation server's layout);
* TrackingNet submissions: a flat zip of ``<seq>.txt``;
* LaSOT (and OTB/UAV) result folders: ``<seq>.txt``, as the LaSOT toolkit and pytracking read.
"""
from __future__ import annotations

import os
import secrets
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "SequenceRecord",
    "atomic_write_text",
    "write_record",
    "read_record",
    "record_exists",
    "write_got10k_submission",
    "write_trackingnet_submission",
    "write_lasot_results",
]


@dataclass
class SequenceRecord:
    """What a tracker produced on one sequence."""

    boxes: np.ndarray  # (N, 4) x, y, w, h; the first row is the initial box
    times: np.ndarray  # (N,) seconds; times[0] is init()
    scores: np.ndarray  # (N,) confidence; 1 for the initial frame

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        self.times = np.asarray(self.times, dtype=np.float64).reshape(-1)
        self.scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
        if not len(self.boxes) == len(self.times) == len(self.scores):
            raise ValueError(
                f"record lengths differ: {len(self.boxes)} boxes, {len(self.times)} times, {len(self.scores)} scores"
            )


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder and rename: a reader (or a resumed run)
    sees the old file or the whole new one, never a half-written one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # not mkstemp: its files are 0600, and results are meant to be shared (the umask applies)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _rows(values: np.ndarray, fmt: str, delimiter: str = ",") -> str:
    values = np.atleast_2d(values) if values.ndim > 1 else values[:, None]
    return "".join(delimiter.join(fmt % v for v in row) + "\n" for row in values)


def format_boxes(boxes: np.ndarray, delimiter: str = ",") -> str:
    return _rows(np.asarray(boxes, dtype=np.float64).reshape(-1, 4), "%.4f", delimiter)


def format_column(values: np.ndarray, fmt: str = "%.8f") -> str:
    return _rows(np.asarray(values, dtype=np.float64).reshape(-1), fmt)


def write_record(folder: Path, name: str, record: SequenceRecord) -> Path:
    """Write a sequence's record; ``<name>.txt`` last, as the completion marker."""
    folder = Path(folder)
    atomic_write_text(folder / f"{name}_time.txt", format_column(record.times))
    atomic_write_text(folder / f"{name}_score.txt", format_column(record.scores, "%.6f"))
    path = folder / f"{name}.txt"
    atomic_write_text(path, format_boxes(record.boxes))
    return path


def record_exists(folder: Path, name: str) -> bool:
    folder = Path(folder)
    return all((folder / f"{name}{suffix}.txt").is_file() for suffix in ("", "_time", "_score"))


def _load(path: Path, columns: int) -> np.ndarray:
    try:
        data = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"{path}: unreadable result file ({exc})") from None
    if data.shape[1] != columns:
        raise ValueError(f"{path}: expected {columns} comma-separated values per line, got {data.shape[1]}")
    return data


def read_record(folder: Path, name: str) -> SequenceRecord:
    folder = Path(folder)
    return SequenceRecord(
        boxes=_load(folder / f"{name}.txt", 4),
        times=_load(folder / f"{name}_time.txt", 1)[:, 0],
        scores=_load(folder / f"{name}_score.txt", 1)[:, 0],
    )


def _zip_folder(folder: Path, zip_path: Path) -> Path:
    """Zip ``folder``'s contents (not the folder itself), written atomically."""
    zip_path = Path(zip_path)
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = zip_path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    os.replace(tmp, zip_path)
    return zip_path


def write_got10k_submission(records: Mapping[str, SequenceRecord], folder: Path, zip_path: Path | None = None) -> Path:
    """GOT-10k layout in ``folder`` (``<seq>/<seq>_001.txt``, ``<seq>/<seq>_time.txt``; one
    repetition, as for a deterministic tracker) and, with ``zip_path``, the zip to upload."""
    folder = Path(folder)
    for name, record in records.items():
        atomic_write_text(folder / name / f"{name}_001.txt", format_boxes(record.boxes))
        atomic_write_text(folder / name / f"{name}_time.txt", format_column(record.times))
    return _zip_folder(folder, zip_path) if zip_path is not None else folder


def write_trackingnet_submission(records: Mapping[str, SequenceRecord], zip_path: Path) -> Path:
    """TrackingNet's upload: one zip, ``<seq>.txt`` at its top level, ``x,y,w,h`` per line."""
    zip_path = Path(zip_path)
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = zip_path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, record in sorted(records.items()):
            zf.writestr(f"{name}.txt", format_boxes(record.boxes))
    os.replace(tmp, zip_path)
    return zip_path


def write_lasot_results(records: Mapping[str, SequenceRecord], folder: Path) -> Path:
    """``<seq>.txt`` per sequence (comma-separated x,y,w,h) plus ``<seq>_time.txt``: what the
    LaSOT toolkit and pytracking's analysis read as one tracker's results."""
    folder = Path(folder)
    for name, record in records.items():
        atomic_write_text(folder / f"{name}.txt", format_boxes(record.boxes))
        atomic_write_text(folder / f"{name}_time.txt", format_column(record.times))
    return folder
