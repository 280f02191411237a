"""What an interrupted atomic folder write leaves beside its target, found and put right.

``staged_folder`` writes a folder (a bundle, a Triton repository) in a ``.NAME.PID.XXXX.partial``
folder beside it and, to replace one, first renames the old folder aside to
``.NAME.PID.XXXX.old``. A kill between those two renames leaves no folder at NAME and the complete
old one beside it. The writer's next run puts that right (``staged_folder.recover``); a reader
(``bundle.load_bundle``: track, info, every backend) restores the set-aside folder with
``restore_replaced`` instead of saying that there is no bundle. Standard library only: the
bundle reader, at the bottom of the layers, uses it.
"""
from __future__ import annotations

import os
from pathlib import Path

from .outputs import other_process_alive

__all__ = ["leftovers", "restore_replaced"]


def leftovers(out_dir: Path) -> list[Path]:
    """The ``.partial`` and ``.old`` folders of ``out_dir`` whose process is gone, newest first
    (the newest ``.old`` is the folder to restore)."""
    if not out_dir.parent.is_dir():
        return []
    prefix = f".{out_dir.name}."
    found = [p for p in out_dir.parent.iterdir() if p.name.startswith(prefix) and p.is_dir() and not p.is_symlink()
             and p.name.endswith((".partial", ".old")) and not _owner_alive(p.name[len(prefix):])]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def restore_replaced(out_dir: str | os.PathLike) -> Path | None:
    """When ``out_dir`` is missing and a replace of it was interrupted, rename the old folder back
    and return the name it had; None when there is nothing to restore. An OSError (a folder
    the reader may not rename in) propagates: the caller names the folder and the command."""
    out_dir = Path(out_dir)
    if out_dir.exists() or out_dir.is_symlink():
        return None
    for leftover in leftovers(out_dir):
        if leftover.name.endswith(".old"):
            os.rename(leftover, out_dir)
            return leftover
    return None


def _owner_alive(rest: str) -> bool:
    """Whether the process named in ``PID.XXXX.partial`` runs (names without a pid: gone)."""
    return other_process_alive(rest.split(".", 1)[0])
