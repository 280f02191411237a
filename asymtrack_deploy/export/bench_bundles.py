"""Bundles exported on demand and kept between runs (what ``bench`` measures).

A bundle is keyed by variant, target, precision, batch, the weights (the checkpoint's digest, or
the random seed) and the exporting code (a digest of every module the export of that target
imports, found from the source), so neither a changed checkpoint nor a changed exporter (a new
graph form, other quantization settings, another crop rule) reuses a stale bundle.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
from pathlib import Path

from .. import catalogue
from ..bundle import MANIFEST_NAME

__all__ = ["cached_bundle", "code_key", "default_cache_dir"]


def default_cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "asymtrack-deploy" / "bench"


_ENTRY = "export.pipeline"  # what ``export_bundle`` runs, before the target's converter


def code_key(package: Path = Path(__file__).resolve().parents[1], target: str | None = None) -> str:
    """A short digest of the code an export of ``target`` runs (None: any target's): every module
    of the package at ``package`` that the export pipeline and the target's converter import,
    directly or not, anywhere in them (read from the source, so a new dependency counts without
    anyone listing it), and a converter's own file when it lives in another package."""
    starts, outside = [_ENTRY], []
    for entry in catalogue.targets().values():
        if entry.converter and target in (None, entry.name):
            module = entry.converter.partition(":")[0]
            if module.startswith(_PACKAGE + "."):
                starts.append(module.removeprefix(_PACKAGE + "."))
            else:
                outside.append(Path(importlib.util.find_spec(module).origin))
    digest = hashlib.sha256()
    for source in [*sorted(_imported_files(package, starts)), *outside]:
        name = source.relative_to(package) if source.is_relative_to(package) else source.name
        digest.update(str(name).encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:8]


_PACKAGE = "asymtrack_deploy"


def _imported_files(package: Path, starts: list[str]) -> set[Path]:
    """The files of ``starts`` and of every package module they import, transitively (with the
    ``__init__`` of each package on the way, which an import runs)."""
    seen: set[Path] = set()
    todo = [m for start in starts for m in _with_parents(start)]
    while todo:
        path = _module_file(package, todo.pop())
        if path is None or path in seen:
            continue
        seen.add(path)
        module = ".".join(path.relative_to(package).with_suffix("").parts).removesuffix(".__init__")
        todo += [m for found in _imports(package, module, path) for m in _with_parents(found)]
    return seen


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _module_file(package: Path, module: str) -> Path | None:
    base = package.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imports(package: Path, module: str, path: Path) -> list[str]:
    """The package modules that ``path`` (module ``module``) imports anywhere in it."""
    found = []
    here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [a.name.removeprefix(_PACKAGE + ".") for a in node.names if a.name.startswith(_PACKAGE + ".")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join([*here[: len(here) - node.level + 1], *([node.module] if node.module else [])])
            elif (node.module or "").startswith(_PACKAGE):
                base = node.module.removeprefix(_PACKAGE).lstrip(".")
            else:
                continue
            named = [f"{base}.{a.name}".lstrip(".") for a in node.names]
            found += [n for n in named if _module_file(package, n)] + ([base] if base else [])
    return found


def _weights_key(checkpoint: Path | None, seed: int) -> str:
    if checkpoint is None:
        return f"random{seed}"
    return hashlib.sha256(Path(checkpoint).read_bytes()).hexdigest()[:12]


def cached_bundle(target: str, precision: str, batch: int, *, variant: str, checkpoint: Path | None,
                  cache_dir: Path | None = None, seed: int = 0) -> Path:
    """The bundle folder for these settings, exported first if the cache has none.
    ``checkpoint`` None: seeded random weights (timing does not depend on the weights)."""
    from .pipeline import export_bundle

    key = f"{variant}-{target}-{precision}-b{batch}-{_weights_key(checkpoint, seed)}-code{code_key(target=target)}"
    folder = (cache_dir or default_cache_dir()) / key
    if not (folder / MANIFEST_NAME).is_file():
        weights = {"checkpoint": checkpoint} if checkpoint else {"checkpoint": None, "random_weights": True, "seed": seed}
        export_bundle(target, variant=variant, out_dir=folder, batch=batch, force=True, precision=precision, **weights)
    return folder
