"""Export: PyTorch checkpoint -> deployment bundle (torch, onnx and the converters live here).

``export_bundle(target, ...)`` runs the one export pipeline (``pipeline``) with the target's
converter from the registry (``catalogue.targets()``); ``export_onnx`` is the ``onnx`` target with positional
essentials. The graph wrappers (``wrappers``) are kept apart from the model; runtimes never import
this package. Heavy modules load on first use: ``import asymtrack_deploy.export`` alone imports
neither torch nor any converter.
"""
from __future__ import annotations

import importlib

from ..catalogue import target_names

__all__ = ["export_bundle", "export_onnx", "target_names", "ParityError", "cached_bundle"]

_LAZY = {
    "export_bundle": "asymtrack_deploy.export.pipeline",
    "export_onnx": "asymtrack_deploy.export.pipeline",
    "cached_bundle": "asymtrack_deploy.export.bench_bundles",
    "ParityError": "asymtrack_deploy.parity",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'asymtrack_deploy.export' has no attribute {name!r}")
