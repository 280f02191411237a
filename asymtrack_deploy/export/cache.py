"""Bundles exported on demand and kept between runs (what ``bench`` measures).

A bundle is keyed by variant, target, precision, batch, the weights (the checkpoint's digest, or
the random seed) and the exporting code (a digest of the sources that decide what an export
writes), so neither a changed checkpoint nor a changed exporter (a new graph form, other
quantization settings) reuses a stale bundle.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..bundle import MANIFEST_NAME

__all__ = ["cached_bundle", "code_key", "default_cache_dir"]


def default_cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "asymtrack-deploy" / "bench"


# The sources whose change changes an exported bundle (package-relative files and folders).
_EXPORT_SOURCES = ("export", "models", "parity", "catalogue.py", "tracker_spec.py", "bundle.py")


def code_key(package: Path = Path(__file__).resolve().parents[1]) -> str:
    """A short digest of the exporting code of the package at ``package`` (this installation's)."""
    digest = hashlib.sha256()
    for name in _EXPORT_SOURCES:
        path = package / name
        for source in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(str(source.relative_to(package)).encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:8]


def _weights_key(checkpoint: Path | None, seed: int) -> str:
    if checkpoint is None:
        return f"random{seed}"
    return hashlib.sha256(Path(checkpoint).read_bytes()).hexdigest()[:12]


def cached_bundle(target: str, precision: str, batch: int, *, variant: str, checkpoint: Path | None,
                  cache_dir: Path | None = None, seed: int = 0) -> Path:
    """The bundle folder for these settings, exported first if the cache has none.
    ``checkpoint`` None: seeded random weights (timing does not depend on the weights)."""
    from .pipeline import export_bundle

    key = f"{variant}-{target}-{precision}-b{batch}-{_weights_key(checkpoint, seed)}-code{code_key()}"
    folder = (cache_dir or default_cache_dir()) / key
    if not (folder / MANIFEST_NAME).is_file():
        weights = {"checkpoint": checkpoint} if checkpoint else {"checkpoint": None, "random_weights": True, "seed": seed}
        export_bundle(target, variant=variant, out_dir=folder, batch=batch, force=True, precision=precision, **weights)
    return folder
