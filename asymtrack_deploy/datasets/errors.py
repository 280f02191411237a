"""The one error of the data layer: a dataset file that cannot be read, named with its line."""
from __future__ import annotations

from pathlib import Path

__all__ = ["DatasetError"]


class DatasetError(ValueError):
    """A dataset file or folder that cannot be read; the message names it and, for text files,
    the line: ``DatasetError(path, "expected 4 numbers ...", line=3)``.

    The one-argument form (a finished message) is what pickling and DataLoader use to re-raise
    an error from a worker process.
    """

    def __init__(self, path: str | Path, problem: str | None = None, line: int | None = None):
        if problem is None:
            self.path, self.line = None, None
            super().__init__(str(path))
            return
        self.path, self.line = str(path), line
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}")
