"""asymtrack-deploy: AsymTrack from a PyTorch checkpoint to fast, verified inference.

Importing the package does not import torch: the runtime names (``Tracker``, ``load_backend``)
are numpy-only, and the torch-backed names (``build_model``, ``load_checkpoint``...) load on
first access.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "Tracker": "asymtrack_deploy.tracker",
    "BatchTracker": "asymtrack_deploy.tracker",
    "TrackResult": "asymtrack_deploy.tracker",
    "OpenCVTrackerAdapter": "asymtrack_deploy.tracker",
    "load_backend": "asymtrack_deploy.runtimes",
    "available_backends": "asymtrack_deploy.runtimes",
    "build_model": "asymtrack_deploy.models",
    "load_checkpoint": "asymtrack_deploy.models",
    "save_checkpoint": "asymtrack_deploy.models",
    "CheckpointError": "asymtrack_deploy.models",
    "VARIANTS": "asymtrack_deploy.models",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'asymtrack_deploy' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
