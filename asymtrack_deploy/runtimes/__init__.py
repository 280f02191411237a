"""Runtime backends behind one numpy interface, loaded by name.

The registry maps a backend name to the module and class that implement it; the module is
imported only when that backend is asked for, so ``import asymtrack_deploy.runtimes`` pulls in
neither torch nor any runtime library. Adding a backend touches ``_REGISTRY`` only.
"""
from __future__ import annotations

import importlib
import importlib.util

from .base import Backend, BackendInfo, BackendUnavailable, require

__all__ = [
    "Backend",
    "BackendInfo",
    "BackendUnavailable",
    "available_backends",
    "load_backend",
    "load_bundle_backend",
    "require",
]

# name -> (module, class, the library it needs, the pip extra that installs it)
_REGISTRY: dict[str, tuple[str, str, str, str]] = {
    "torch": ("asymtrack_deploy.runtimes.torch_backend", "TorchBackend", "torch", "torch"),
    "torch-official": ("asymtrack_deploy.runtimes.torch_backend", "OfficialTorchBackend", "torch", "torch"),
    "onnxruntime": ("asymtrack_deploy.runtimes.onnxruntime_backend", "OnnxRuntimeBackend", "onnxruntime", "onnxruntime"),
    "openvino": ("asymtrack_deploy.runtimes.openvino_backend", "OpenVinoBackend", "openvino", "openvino"),
    "tensorrt": ("asymtrack_deploy.runtimes.tensorrt_backend", "TensorRTBackend", "tensorrt", "tensorrt"),
}


def backend_names() -> list[str]:
    return list(_REGISTRY)


def available_backends() -> list[str]:
    """Backends whose runtime library is installed here (checked without importing it)."""
    return [name for name, (_, _, lib, _) in _REGISTRY.items() if importlib.util.find_spec(lib) is not None]


def load_backend(name: str, **options) -> Backend:
    """``load_backend("torch", variant="tiny", checkpoint=PATH, device="cpu")`` or
    ``load_backend("onnxruntime", bundle=DIR)``; options go to the backend's constructor."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown backend {name!r}: expected one of {', '.join(_REGISTRY)}")
    module_name, class_name, lib, extra = _REGISTRY[name]
    if importlib.util.find_spec(lib) is None:
        raise BackendUnavailable(
            f"backend {name!r} needs {lib}, which is not installed. "
            f"Install it with: pip install 'asymtrack-deploy[{extra}]'"
        )
    module = importlib.import_module(module_name)
    return getattr(module, class_name)(**options)


# bundle target (manifest) -> the backend that runs it by default
_TARGET_BACKEND = {"onnx": "onnxruntime", "onnxruntime": "onnxruntime", "openvino": "openvino", "tensorrt": "tensorrt"}


def load_bundle_backend(bundle, backend: str | None = None, **options) -> Backend:
    """The backend for an exported bundle, chosen from its manifest's target unless given."""
    from ..bundle import load_bundle

    target = load_bundle(bundle, verify=False).target
    name = backend or _TARGET_BACKEND.get(target)
    if name is None:
        raise ValueError(f"{bundle}: no backend runs target {target!r}")
    return load_backend(name, bundle=bundle, **options)
