"""One exported tiny bundle per test session, shared by the export and runtime tests.

Exports take seconds, so the bundles live in the session's base temp folder and are made on
first use; ``shared_bundle`` is importable from other test folders (``tests/runtimes``) and
finds the same folder, so each batch size is exported once per session.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import reference_checkpoint


def shared_bundle(tmp_path_factory: pytest.TempPathFactory, batch: int = 1) -> Path:
    """The tiny reference checkpoint exported to ONNX with ``batch``; exported at first call."""
    path = tmp_path_factory.getbasetemp() / f"shared_tiny_onnx_b{batch}"
    if not (path / "manifest.json").is_file():
        from asymtrack_deploy.export import export_onnx

        export_onnx(reference_checkpoint("tiny"), "tiny", path, batch=batch)
    return path


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory) -> Path:
    return shared_bundle(tmp_path_factory, batch=1)


@pytest.fixture(scope="session")
def tiny_bundle_b2(tmp_path_factory) -> Path:
    return shared_bundle(tmp_path_factory, batch=2)


@pytest.fixture
def bundle_copy(tiny_bundle, tmp_path) -> Path:
    """A private copy of the shared bundle that a test may damage."""
    import shutil

    return Path(shutil.copytree(tiny_bundle, tmp_path / "bundle"))
