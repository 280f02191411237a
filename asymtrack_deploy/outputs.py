"""Files the toolkit writes for a user: checked before the work, written so that nothing is lost.

Every command checks its output locations first (``check_writable``): a location where nothing
can be written is a ValueError naming it within the first second, not a traceback after an hour
of work. A file output (``check_output_file``) is also refused when it is one of the run's inputs
(the same file by any name: a link, a hard link, a frame of the source folder) and, when it
exists, unless the caller was told to replace it (``--force``).

``StagedFile`` writes a file under a temporary name beside it (``.NAME.PID.partial.SUFFIX``:
the suffix stays last, as video writers pick the container from it) and renames it into place
only when the caller commits, so a rejected run leaves an earlier file byte for byte and a
killed run leaves its partial output under the temporary name. A character device or a FIFO
(``/dev/null``, ``/dev/stdout``, a named pipe) is written to as it is, as a stream: it is never
unlinked, truncated or renamed over.
"""
from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

__all__ = ["check_writable", "check_output_file", "is_stream", "StagedFile", "input_files", "other_process_alive"]


def check_writable(path: str | os.PathLike, what: str, folder: bool = False, beside: bool = False) -> None:
    """Refuse, before any work, an output where nothing can be written: a ValueError
    ``"PATH: cannot write WHAT there (why)"``. A file's folder must exist; a ``folder`` output
    may be created, so its nearest existing ancestor must take new entries (``beside``: a folder
    built beside ``path`` and renamed into place, so its parent must). Tried for real (a file is
    created and removed): permissions alone say nothing on a read-only mount, or to root."""
    path = Path(path)
    if is_stream(path):
        if not os.access(path, os.W_OK):
            raise ValueError(f"{path}: cannot write {what} there (permission denied)")
        return
    if folder:
        if path.exists() and not path.is_dir():
            raise ValueError(f"{path}: cannot write {what} there (it exists and is not a folder)")
        base = path if path.is_dir() and not beside else _nearest_existing(path.parent)
    else:
        if path.is_dir():
            raise ValueError(f"{path}: cannot write {what} there (it is a folder; give a file name)")
        base = path.parent
        if not base.exists():
            raise ValueError(f"{path}: cannot write {what} there (no folder {base})")
    if not base.is_dir():
        raise ValueError(f"{path}: cannot write {what} there ({base} is not a folder)")
    _probe(path, base, what)


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _probe(path: Path, folder: Path, what: str) -> None:
    try:
        fd, name = tempfile.mkstemp(prefix=".asymtrack-write-check-", dir=folder)
    except OSError as exc:
        raise ValueError(f"{path}: cannot write {what} there ({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(name)


def is_stream(path: str | os.PathLike) -> bool:
    """A character device, FIFO or socket: written as a stream, never replaced or removed."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def input_files(paths: Iterable[str | os.PathLike | None]) -> list[Path]:
    """The files a run reads: each given path, and for a folder the folder and the files in it
    (a frame folder, a bundle)."""
    found = []
    for path in (Path(p) for p in paths if p is not None):
        found.append(path)
        if path.is_dir():
            found += [p for p in path.iterdir() if p.is_file()]
    return found


def check_output_file(path: str | os.PathLike, what: str, force: bool, inputs: Iterable[Path] = ()) -> None:
    """Every check of a file output before anything is opened (ValueError saying what is wrong):
    not one of ``inputs`` by any name, not a folder or a block device, an existing file only
    with ``force``, and its folder writable."""
    path = Path(path)
    for source in inputs:
        if _same_file(path, source):
            raise ValueError(f"{path}: this is an input of the run ({source}); writing {what} there would destroy it")
    if path.exists() and not path.is_dir() and not is_stream(path):
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise ValueError(f"{path}: cannot write {what} there (not a regular file, a character device or a FIFO)")
        if not force:
            raise ValueError(f"{path} already exists; pass --force to replace it")
    check_writable(path, what)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): compare the names links resolve to
        return os.path.realpath(a) == os.path.realpath(b)


class StagedFile:
    """A file output written under ``temp`` and renamed to ``path`` by ``commit``; ``discard``
    removes what was written. For a stream (``is_stream``) ``temp`` is ``path`` itself and both
    calls leave it alone."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.stream = is_stream(self.path)
        self.temp = self.path if self.stream else self.path.with_name(
            f".{self.path.stem}.{os.getpid()}.partial{self.path.suffix}")

    def open_fd(self) -> int:
        """A write-only descriptor of ``temp``: created with the usual permissions (the umask
        applies), never through a link; a stream is opened as it is, without truncation."""
        if self.stream:
            return os.open(self.temp, os.O_WRONLY)
        return os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o666)

    def commit(self) -> None:
        if not self.stream:
            os.replace(self.temp, self.path)

    def discard(self) -> None:
        if not self.stream:
            self.temp.unlink(missing_ok=True)


def other_process_alive(pid: str) -> bool:
    """Whether ``pid`` (as found in a temporary name: ``.NAME.PID....partial``) is another
    process that still runs: its half-written output is not a leftover to clean up."""
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True
