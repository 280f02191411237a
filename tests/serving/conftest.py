"""Bundles, frames and a real Triton server for the serving tests.

The bundles use the demo weights that ship with the package (they track: boxes follow the
pedestrian instead of wandering as random weights do). The server is the real ``tritonserver``
binary, installed into the cache from the nvidia-pytriton wheel on first use; where it cannot be
had or cannot run, the tests that need it skip with the reason.
"""
from __future__ import annotations

import platform
from pathlib import Path

import numpy as np
import pytest

FRAMES = 12  # per stream: a few short sequences keep the server tests to seconds


def _export(tmp_path_factory, name: str, target: str, batch: int) -> Path:
    path = tmp_path_factory.getbasetemp() / f"serving_{name}"
    if not (path / "manifest.json").is_file():
        from asymtrack_deploy.export import export_bundle
        from asymtrack_deploy.runtimes.torch_backend import default_checkpoint

        export_bundle(target, checkpoint=default_checkpoint(), variant="tiny", out_dir=path, batch=batch)
    return path


@pytest.fixture(scope="session")
def onnx_b1(tmp_path_factory) -> Path:
    return _export(tmp_path_factory, "onnx_b1", "onnx", 1)


@pytest.fixture(scope="session")
def onnx_b2(tmp_path_factory) -> Path:
    return _export(tmp_path_factory, "onnx_b2", "onnx", 2)


@pytest.fixture(scope="session")
def openvino_b1(tmp_path_factory) -> Path:
    pytest.importorskip("openvino")
    return _export(tmp_path_factory, "openvino_b1", "openvino", 1)


def flipped(frames: list[np.ndarray], box, axis: int | None):
    """The frames mirrored along ``axis`` (1: left-right, 0: up-down, None: as they are) and
    the first box mirrored with them: a different stream over the same real video."""
    if axis is None:
        return frames, tuple(box)
    height, width = frames[0].shape[:2]
    x, y, w, h = box
    moved = (width - x - w, y, w, h) if axis == 1 else (x, height - y - h, w, h)
    return [np.ascontiguousarray(np.flip(f, axis)) for f in frames], moved


@pytest.fixture(scope="session")
def streams():
    """Three streams of FRAMES real frames each: vtest as it is, mirrored, upside down."""
    from asymtrack_deploy.sources import builtin_sequence

    seq = builtin_sequence()
    frames = seq.frames()[:FRAMES]
    return [flipped(frames, seq.init_box, axis) for axis in (None, 1, 0)]


def reference_boxes(bundle: Path, frames, box) -> list[tuple]:
    """What the in-process Tracker gives over ``bundle``: the boxes of frames 1...n."""
    from asymtrack_deploy import Tracker
    from asymtrack_deploy.runtimes import load_bundle_backend

    with load_bundle_backend(bundle) as backend:
        tracker = Tracker(backend)
        tracker.init(frames[0], box)
        return [tracker.update(f).box for f in frames[1:]]


def server_or_skip():
    """The Triton binary, installed on first use, or a skip that says why it cannot be had."""
    pytest.importorskip("tritonclient.http", reason="tritonclient is not installed (pip install '.[serve]')")
    if platform.system() != "Linux" or platform.machine() != "x86_64":
        pytest.skip(f"the Triton binary from the nvidia-pytriton wheel runs on Linux x86_64, not {platform.platform()}")
    from asymtrack_deploy.serving.server import ServerError, find_server

    try:
        return find_server(install=True)
    except ServerError as exc:
        pytest.skip(f"no Triton server binary here: {exc}")


@pytest.fixture(scope="module")
def repository(onnx_b1, tmp_path_factory) -> Path:
    from asymtrack_deploy.serving import write_repository

    return write_repository(onnx_b1, tmp_path_factory.mktemp("repo") / "repo", max_batch=8)


@pytest.fixture(scope="module")
def server(repository):
    """One real server on 127.0.0.1 with free ports for the module's tests."""
    server_or_skip()
    from asymtrack_deploy.serving import ServerError, TritonServer

    server = TritonServer(repository, host="127.0.0.1", log_path=repository.parent / "tritonserver.log")
    try:
        server.start()
    except ServerError as exc:
        pytest.skip(f"the Triton server does not run here: {exc}")
    yield server
    server.stop()
