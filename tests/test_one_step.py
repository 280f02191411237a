"""One per-frame step, driven by the bundle's manifest, wherever a bundle is tracked.

An ONNX Runtime and an OpenVINO bundle get other clip margins (0 and 25) in the manifest's own
rule field (``tracker.clip.margin``; the graph files are untouched, so their digests still hold).
On a sequence where the clip rule fires on every frame (the built-in video scaled to 1/6: the
pedestrian is about 8 x 14 pixels, narrower than any of these margins, near the right edge),
``Tracker``, ``BatchTracker``, serving's ``StreamTable`` (in process) and the C library give the
same boxes, and those boxes are not the default margin's.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from asymtrack_deploy import BatchTracker, Tracker
from asymtrack_deploy.bundle import load_bundle
from asymtrack_deploy.runtimes import load_bundle_backend
from asymtrack_deploy.serving.streams import StreamTable
from asymtrack_deploy.sources import builtin_sequence
from asymtrack_deploy.tracker_spec import DEFAULT_CLIP_MARGIN
from tests.c.conftest import c_build  # noqa: F401 - the C library fixture
from tests.serving.conftest import onnx_b1, openvino_b1  # noqa: F401 - the bundle fixtures

MARGINS = (0.0, 25.0)
TOL_PX = 0.01
SCALE = 6  # frames shrunk by this: the target becomes narrower than the clip margins
FRAMES = 12


@pytest.fixture(scope="module")
def small_sequence() -> tuple[list[np.ndarray], tuple[float, ...]]:
    seq = builtin_sequence()
    frames = [cv2.resize(f, (f.shape[1] // SCALE, f.shape[0] // SCALE), interpolation=cv2.INTER_AREA)
              for f in seq.frames()[:FRAMES]]
    return frames, tuple(v / SCALE for v in seq.init_box)


@pytest.fixture(scope="module", params=["onnx_b1", "openvino_b1"])
def bundle(request) -> Path:
    return request.getfixturevalue(request.param)


def with_margin(bundle: Path, margin: float, folder: Path) -> Path:
    """A copy of ``bundle`` whose manifest says ``tracker.clip.margin = margin``."""
    copy = Path(shutil.copytree(bundle, folder / f"margin_{margin:g}"))
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["tracker"]["clip"]["margin"] = margin
    (copy / "manifest.json").write_text(json.dumps(manifest))
    load_bundle(copy, verify=True)  # the graph files' digests still hold
    return copy


def tracker_boxes(backend, frames, box) -> np.ndarray:
    tracker = Tracker(backend)
    tracker.init(frames[0], box)
    return np.array([tracker.update(f).box for f in frames[1:]])


def batch_tracker_boxes(backend, frames, box) -> np.ndarray:
    tracker = BatchTracker(backend)
    tracker.init([frames[0]], [box])
    return np.array([tracker.update([f])[0].box for f in frames[1:]])


def stream_table_boxes(backend, frames, box) -> np.ndarray:
    table = StreamTable(backend)
    table.start([(7, frames[0], box)])
    return np.array([table.track([(7, f)])[0].box for f in frames[1:]])


@pytest.mark.parametrize("margin", MARGINS)
def test_every_python_loop_follows_the_manifests_clip_margin(bundle, margin, small_sequence, tmp_path):
    frames, box = small_sequence
    with load_bundle_backend(bundle) as backend:
        default = tracker_boxes(backend, frames, box)
    with load_bundle_backend(with_margin(bundle, margin, tmp_path)) as backend:
        assert backend.info.rules.clip_margin == margin
        boxes = {loop.__name__: loop(backend, frames, box)
                 for loop in (tracker_boxes, batch_tracker_boxes, stream_table_boxes)}
    for name, found in boxes.items():
        assert np.abs(found - boxes["tracker_boxes"]).max() < TOL_PX, name
    _check_the_clip_fired(boxes["tracker_boxes"], default, margin)


def _check_the_clip_fired(boxes: np.ndarray, default: np.ndarray, margin: float) -> None:
    """The default margin widened every box to 10 px; this margin gives other boxes."""
    assert (default[:, 2:] >= DEFAULT_CLIP_MARGIN - 1e-6).all() and (default[:, 2] == DEFAULT_CLIP_MARGIN).any()
    if margin > DEFAULT_CLIP_MARGIN:
        assert (boxes[:, 2:] >= margin - 1e-6).all() and (boxes[:, 2] == margin).any()
    else:
        assert (boxes[:, 2] < DEFAULT_CLIP_MARGIN).any()  # boxes the default clip would have widened
    assert np.abs(boxes - default).max() > 1.0


@pytest.mark.parametrize("margin", MARGINS)
def test_the_c_library_follows_it_alike(c_build, openvino_b1, margin, small_sequence, tmp_path):  # noqa: F811
    """The C library (built by tests/c's CMake fixture; skipped without a toolchain) on the same
    edited OpenVINO bundle gives the Python tracker's boxes."""
    from asymtrack_deploy.c_tracker import CTracker

    frames, box = small_sequence
    bundle = with_margin(openvino_b1, margin, tmp_path)
    with load_bundle_backend(bundle) as backend:
        expected = tracker_boxes(backend, frames, box)
    with CTracker(bundle, c_build.library, threads=1) as tracker:
        assert tracker.get_info()["clip_margin"] == margin
        tracker.init(frames[0], box)
        found = np.array([tracker.update(f)[0] for f in frames[1:]])
    assert np.abs(found - expected).max() < TOL_PX
