"""Bundles exported on demand and kept between runs (what ``bench`` measures).

A bundle is keyed by variant, target, precision, batch and the weights (the checkpoint's
digest, or the random seed), so a changed checkpoint never reuses a stale bundle.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..bundle import MANIFEST_NAME

__all__ = ["cached_bundle", "default_cache_dir"]


def default_cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "asymtrack-deploy" / "bench"


def _weights_key(checkpoint: Path | None, seed: int) -> str:
    if checkpoint is None:
        return f"random{seed}"
    return hashlib.sha256(Path(checkpoint).read_bytes()).hexdigest()[:12]


def cached_bundle(target: str, precision: str, batch: int, *, variant: str, checkpoint: Path | None,
                  cache_dir: Path | None = None, seed: int = 0) -> Path:
    """The bundle folder for these settings, exported first if the cache has none.
    ``checkpoint`` None: seeded random weights (timing does not depend on the weights)."""
    from .pipeline import export_bundle

    key = f"{variant}-{target}-{precision}-b{batch}-{_weights_key(checkpoint, seed)}"
    folder = (cache_dir or default_cache_dir()) / key
    if not (folder / MANIFEST_NAME).is_file():
        weights = {"checkpoint": checkpoint} if checkpoint else {"checkpoint": None, "random_weights": True, "seed": seed}
        export_bundle(target, variant=variant, out_dir=folder, batch=batch, force=True, precision=precision, **weights)
    return folder
