"""Atomic folder writing: build in a temporary folder beside the target, rename at the end.

A crash, a failed check or Ctrl-C midway leaves no half-written bundle, and an existing bundle
stays intact until the new one is complete. Replacing an existing bundle needs ``force``; a
folder that is not a bundle is never deleted, force or not. Bundles (``export``) and Triton
repositories (``serving.repository``) are both written through here.

What a killed process leaves behind, the next write to the same target puts right first
(``recover``): a staging folder (``.NAME.PID.XXXX.partial``) of a process that is gone is
removed, and an old folder set aside for a replace (``.NAME.PID.XXXX.old``) is renamed back when
the kill came between the two renames (the target is missing), or removed when the new folder
is in place. Folders of a process that is still running are left alone. The finding and the
restoring live in ``folders`` (the bundle reader restores an interrupted replace too).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .bundle import MANIFEST_NAME
from .interrupted_writes import leftovers, restore_replaced

__all__ = ["staged_bundle", "check_target", "recover"]


def check_target(out_dir: Path, force: bool, marker: str = MANIFEST_NAME, what: str = "a bundle") -> None:
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
            f"{out_dir} exists and is not {what} written by asymtrack-deploy (no {marker}); refusing to replace it "
            "even with force=True"
        )


@contextmanager
def staged_bundle(out_dir: str | os.PathLike, force: bool = False, marker: str = MANIFEST_NAME,
                  what: str = "a bundle") -> Iterator[Path]:
    """Yield an empty staging folder; on normal exit it becomes ``out_dir``, on any exception
    it is removed and ``out_dir`` is left as it was."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    recover(out_dir)
    check_target(out_dir, force, marker, what)
    stage = _aside(out_dir, ".partial")
    try:
        os.chmod(stage, 0o755)  # mkdtemp makes 0700; a bundle is meant to be shared
        yield stage
        check_target(out_dir, force, marker, what)  # someone may have created it meanwhile
        _move_into_place(stage, out_dir)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _aside(out_dir: Path, suffix: str) -> Path:
    """A new folder beside ``out_dir`` named for this process: ``.NAME.PID.XXXX<suffix>``."""
    return Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.{os.getpid()}.", suffix=suffix, dir=out_dir.parent))


def _move_into_place(stage: Path, out_dir: Path) -> None:
    """Rename ``stage`` to ``out_dir``. An old bundle is first renamed aside and deleted only
    once the new one is in place (a directory rename cannot overwrite a non-empty folder)."""
    if not out_dir.exists():
        os.rename(stage, out_dir)
        return
    old = _aside(out_dir, ".old")
    os.rmdir(old)
    os.rename(out_dir, old)
    try:
        os.rename(stage, out_dir)
    except BaseException:
        os.rename(old, out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


def recover(out_dir: str | os.PathLike) -> list[str]:
    """Put right what killed writes of ``out_dir`` left beside it (see the module docstring);
    returns what was done, one line each."""
    out_dir = Path(out_dir)
    done = []
    restored = restore_replaced(out_dir)
    if restored is not None:
        done.append(f"restored {out_dir} from {restored.name} (a replace was interrupted)")
    for leftover in leftovers(out_dir):
        shutil.rmtree(leftover, ignore_errors=True)
        done.append(f"removed {leftover.name}, left by an interrupted write")
    return done
