"""Shared fixtures: the official reference vectors and small real inputs."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REFERENCE_DIR = Path(os.environ.get("ASYMTRACK_REFERENCE_DIR", Path(__file__).resolve().parents[1] / ".." / "shared" / "reference")).resolve()
VARIANTS = ("tiny", "small", "base")


def reference_file(name: str) -> Path:
    path = REFERENCE_DIR / name
    if not path.exists():
        pytest.skip(f"reference vector {name} not found in {REFERENCE_DIR} (set ASYMTRACK_REFERENCE_DIR)")
    return path


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not REFERENCE_DIR.is_dir():
        pytest.skip(f"reference vectors not found at {REFERENCE_DIR} (set ASYMTRACK_REFERENCE_DIR)")
    return REFERENCE_DIR


def reference_checkpoint(variant: str) -> Path:
    return reference_file(f"asymtrack_{variant}_random_seed0.pth.tar")
