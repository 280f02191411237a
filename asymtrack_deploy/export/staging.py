"""Atomic bundle writing: build in a temporary folder beside the target, rename at the end.

A crash, a failed check or Ctrl-C midway leaves no half-written bundle, and an existing bundle
stays intact until the new one is complete. Replacing an existing bundle needs ``force``; a
folder that is not a bundle is never deleted, force or not.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..bundle import MANIFEST_NAME

__all__ = ["staged_bundle", "check_target"]


def check_target(out_dir: Path, force: bool, marker: str = MANIFEST_NAME) -> None:
    """Refuse an existing target unless ``force``, and refuse a folder without ``marker`` (the
    file that says this toolkit wrote it: a bundle's manifest, a repository's record)."""
    if not out_dir.exists() and not out_dir.is_symlink():
        return
    if not out_dir.is_dir() or out_dir.is_symlink():
        raise FileExistsError(f"{out_dir} exists and is not a folder; choose another output folder")
    if not force:
        raise FileExistsError(f"{out_dir} already exists; pass force=True to replace it")
    if any(out_dir.iterdir()) and not (out_dir / marker).is_file():
        raise FileExistsError(
            f"{out_dir} exists and is not a bundle (no {marker}); refusing to replace it even with force=True"
        )


@contextmanager
def staged_bundle(out_dir: str | os.PathLike, force: bool = False, marker: str = MANIFEST_NAME) -> Iterator[Path]:
    """Yield an empty staging folder; on normal exit it becomes ``out_dir``, on any exception
    it is removed and ``out_dir`` is left as it was."""
    out_dir = Path(out_dir)
    check_target(out_dir, force, marker)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent))
    try:
        os.chmod(stage, 0o755)  # mkdtemp makes 0700; a bundle is meant to be shared
        yield stage
        check_target(out_dir, force, marker)  # someone may have created it meanwhile
        _move_into_place(stage, out_dir)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _move_into_place(stage: Path, out_dir: Path) -> None:
    """Rename ``stage`` to ``out_dir``. An old bundle is first renamed aside and deleted only
    once the new one is in place (a directory rename cannot overwrite a non-empty folder)."""
    if not out_dir.exists():
        os.rename(stage, out_dir)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old", dir=out_dir.parent))
    os.rmdir(old)
    os.rename(out_dir, old)
    try:
        os.rename(stage, out_dir)
    except BaseException:
        os.rename(old, out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)
