"""Runtime backends behind one numpy interface, loaded by name.

Which class implements a backend, the library it needs and the pip extra that installs it are
entries of the registry (``catalogue.backends()``, plugins included); a backend's module is imported only when that backend is asked
for, so ``import asymtrack_deploy.runtimes`` pulls in neither torch nor any runtime library.
"""
from __future__ import annotations

import importlib.util

from .. import catalogue
from .base import Backend, BackendInfo, BackendUnavailable, NonFiniteOutputError, require

__all__ = [
    "Backend",
    "BackendInfo",
    "BackendUnavailable",
    "NonFiniteOutputError",
    "available_backends",
    "backend_names",
    "load_backend",
    "load_bundle_backend",
    "require",
]


def backend_names() -> list[str]:
    return catalogue.backend_names()


def available_backends() -> list[str]:
    """Backends whose runtime library is installed here (checked without importing it)."""
    return [e.name for e in catalogue.backends().values() if importlib.util.find_spec(e.library) is not None]


def load_backend(name: str, **options) -> Backend:
    """``load_backend("torch", variant="tiny", checkpoint=PATH, device="cpu")`` or
    ``load_backend("onnxruntime", bundle=DIR)``; options go to the backend's constructor."""
    entry = catalogue.backend_entry(name)
    if importlib.util.find_spec(entry.library) is None:
        raise BackendUnavailable(entry.missing or (
            f"backend {name!r} needs {entry.library}, which is not installed. "
            f"Install it with: pip install 'asymtrack-deploy[{entry.extra}]'"
        ))
    return catalogue.load_object(entry.cls)(**options)


def load_bundle_backend(bundle, backend: str | None = None, **options) -> Backend:
    """The backend for an exported bundle, chosen from its manifest's target unless given."""
    from ..bundle import load_bundle

    target = load_bundle(bundle, verify=False).target
    if backend is None and target not in catalogue.targets():
        raise ValueError(f"{bundle}: no backend runs target {target!r}")
    return load_backend(backend or catalogue.target_entry(target).backend, bundle=bundle, **options)
