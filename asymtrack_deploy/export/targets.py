"""Export targets by name: one module and one registry entry per target.

``TARGETS`` maps a target name to ``"module:function"``; the module is imported only when that
target is asked for, so listing targets (the CLI's ``--target`` choices) imports neither torch
nor any converter. Every target function takes the common options
``(checkpoint, variant, out_dir, batch, force, *, random_weights, seed, ...)`` and returns the
loaded ``bundle.Bundle``; target-specific options (precision, calibration data...) follow as
keywords.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable

__all__ = ["TARGETS", "target_names", "get_exporter", "export_bundle"]

TARGETS: dict[str, str] = {
    "onnx": "asymtrack_deploy.export.onnx_target:export_onnx",
    "openvino": "asymtrack_deploy.export.openvino_target:export_openvino",
    "onnxruntime": "asymtrack_deploy.export.onnxruntime_target:export_onnxruntime",
    "tensorrt": "asymtrack_deploy.export.tensorrt_target:export_tensorrt",
    "triton": "asymtrack_deploy.export.triton_target:export_triton",
}


def target_names() -> list[str]:
    return list(TARGETS)


def get_exporter(target: str) -> Callable:
    """The export function of ``target`` (its module is imported now)."""
    if target not in TARGETS:
        raise ValueError(f"unknown export target {target!r}: expected one of {', '.join(TARGETS)}")
    module_name, func_name = TARGETS[target].split(":")
    return getattr(importlib.import_module(module_name), func_name)


def export_bundle(target: str, **options):
    """``export_bundle("onnx", checkpoint=PATH, variant="tiny", out_dir=DIR, batch=1)``."""
    return get_exporter(target)(**options)
