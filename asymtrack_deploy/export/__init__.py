"""Export: PyTorch checkpoint -> deployment bundle (torch, onnx and the converters live here).

``export_bundle(target, ...)`` dispatches through ``targets.TARGETS``; ``export_onnx`` is the
``onnx`` target. The graph wrappers (``wrappers``) are kept apart from the model; runtimes never
import this package. Heavy modules load on first use: ``import asymtrack_deploy.export`` alone
pulls in nothing but the target registry.
"""
from __future__ import annotations

import importlib

from .targets import TARGETS, export_bundle, get_exporter, target_names

__all__ = ["TARGETS", "export_bundle", "get_exporter", "target_names", "export_onnx", "ParityError"]

_LAZY = {
    "export_onnx": "asymtrack_deploy.export.onnx_target",
    "ParityError": "asymtrack_deploy.export.parity",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'asymtrack_deploy.export' has no attribute {name!r}")
