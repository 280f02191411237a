"""Bad input through the C API (raw calls through the binding): each gives its status and a
message saying what was wrong, never a crash, and leaves the tracker's state as it was."""
from __future__ import annotations

import ctypes
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from asymtrack_deploy.c_tracker import Box, CTracker, CTrackerError, load_library

OK, INVALID, BAD_BUNDLE, UNSUPPORTED, NOT_INITIALIZED, RUNTIME = 0, 1, 2, 3, 4, 5
FRAME = np.full((120, 160, 3), 90, np.uint8)


@pytest.fixture(scope="module")
def tracker(c_build, demo_bundle):
    with CTracker(demo_bundle, c_build.library, threads=1) as t:
        yield t


def raw_init(t: CTracker, pixels=None, width=160, height=120, stride=480, fmt=1, box=(40.0, 30.0, 20.0, 20.0)):
    pointer = FRAME.ctypes.data if pixels is None else pixels
    box_arg = None if box is None else ctypes.byref(Box(*box))
    return t.lib.asymtrack_tracker_init(t.handle, pointer, width, height, stride, fmt, box_arg)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"pixels": 0}, "pixels is NULL"),
        ({"width": 0}, "at least 1 x 1"),
        ({"height": -5}, "at least 1 x 1"),
        ({"stride": 479}, "smaller than a row"),
        ({"stride": -480}, "smaller than a row"),
        ({"fmt": 0}, "unknown pixel format 0"),
        ({"fmt": 99}, "unknown pixel format 99"),
        ({"box": None}, "box is NULL"),
        ({"box": (math.nan, 1, 2, 3)}, "finite"),
        ({"box": (1, math.inf, 2, 3)}, "finite"),
        ({"box": (1, 2, 0, 3)}, "> 0"),
        ({"box": (1, 2, 3, -1)}, "> 0"),
        ({"box": (0, 0, 1e300, 1e300)}, "too large"),
        ({"box": (1e12, 0, 10, 10)}, "outside the 160 x 120 frame"),
        ({"box": (160, 0, 10, 10)}, "outside the 160 x 120 frame: it must overlap the frame"),
        ({"box": (-10, 0, 10, 10)}, "outside the 160 x 120 frame"),
        ({"box": (0, 0, 321, 20)}, "too large for the 160 x 120 frame: at most 2 times"),
    ],
)
def test_bad_init_arguments(tracker, changes, message):
    tracker.init(FRAME, (50, 40, 30, 30))
    state = tracker.get_state()
    assert raw_init(tracker, **changes) == INVALID
    assert message in tracker.last_error()
    assert tracker.get_state() == state  # unchanged
    tracker.update(FRAME)  # and still usable


def test_bad_update_arguments(tracker):
    tracker.init(FRAME, (50, 40, 30, 30))
    state = tracker.get_state()
    out, score = Box(), ctypes.c_float()
    lib, h = tracker.lib, tracker.handle
    assert lib.asymtrack_tracker_update(h, FRAME.ctypes.data, 160, 120, 480, 1, None, ctypes.byref(score)) == INVALID
    assert "out_box and out_score" in tracker.last_error()
    assert lib.asymtrack_tracker_update(h, FRAME.ctypes.data, 160, 120, 100, 1, ctypes.byref(out), ctypes.byref(score)) == INVALID
    assert lib.asymtrack_tracker_update(h, None, 160, 120, 480, 1, ctypes.byref(out), ctypes.byref(score)) == INVALID
    assert lib.asymtrack_tracker_set_state(h, ctypes.byref(Box(1, 2, math.nan, 4))) == INVALID
    assert lib.asymtrack_tracker_set_state(h, None) == INVALID
    assert lib.asymtrack_tracker_get_state(h, None) == INVALID
    assert lib.asymtrack_tracker_get_timing(h, None) == INVALID
    assert tracker.get_state() == state


def test_update_and_state_before_init(tracker):
    fresh = tracker.new_tracker()
    try:
        with pytest.raises(CTrackerError, match="ASYMTRACK_ERROR_NOT_INITIALIZED: update\\(\\) called before init"):
            fresh.update(FRAME)
        with pytest.raises(CTrackerError, match="NOT_INITIALIZED: no state yet"):
            fresh.get_state()
        fresh.set_state((1, 2, 3, 4))  # allowed before init, as in Python; update still needs init
        with pytest.raises(CTrackerError, match="before init"):
            fresh.update(FRAME)
    finally:
        fresh.close()


def test_null_handles_are_refused_or_ignored(tracker):
    lib = tracker.lib
    out = ctypes.c_void_p()
    assert lib.asymtrack_tracker_init(None, FRAME.ctypes.data, 160, 120, 480, 1, ctypes.byref(Box(1, 1, 5, 5))) == INVALID
    assert lib.asymtrack_tracker_update(None, None, 0, 0, 0, 0, None, None) == INVALID
    assert lib.asymtrack_tracker_get_state(None, None) == INVALID
    assert lib.asymtrack_tracker_create(None, ctypes.byref(out)) == INVALID
    assert lib.asymtrack_bundle_get_info(None, None) == INVALID
    assert lib.asymtrack_bundle_open(b"x", None, 0, None) == INVALID
    assert lib.asymtrack_tracker_last_error(None) == b"tracker is NULL"
    assert lib.asymtrack_bundle_last_error(None) == b"bundle is NULL"
    lib.asymtrack_tracker_destroy(None)
    lib.asymtrack_bundle_close(None)
    assert lib.asymtrack_status_name(3) == b"ASYMTRACK_ERROR_UNSUPPORTED" and lib.asymtrack_status_name(-1)


def open_error(c_build, folder, device: str = "CPU", threads: int = 1) -> CTrackerError:
    with pytest.raises(CTrackerError) as info:
        CTracker(folder, c_build.library, device=device, threads=threads)
    return info.value


def edited_copy(bundle: Path, tmp_path: Path, change) -> Path:
    copy = Path(shutil.copytree(bundle, tmp_path / "bundle"))
    manifest = json.loads((copy / "manifest.json").read_text())
    change(manifest)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


def test_missing_and_corrupt_bundles(c_build, demo_bundle, tmp_path):
    error = open_error(c_build, tmp_path / "nope")
    assert error.status == "ASYMTRACK_ERROR_BAD_BUNDLE" and "manifest.json: missing" in str(error)
    copy = Path(shutil.copytree(demo_bundle, tmp_path / "corrupt"))
    (copy / "manifest.json").write_text('{"schema_version": 2, "model": [1, 2')
    error = open_error(c_build, copy)
    assert error.status == "ASYMTRACK_ERROR_BAD_BUNDLE" and "not valid JSON (line 1, column" in str(error)
    (copy / "manifest.json").write_bytes(b"\xff\x00garbage")
    assert "not valid JSON" in str(open_error(c_build, copy))


def test_changed_and_missing_graph_files(c_build, demo_bundle, tmp_path):
    copy = Path(shutil.copytree(demo_bundle, tmp_path / "bundle"))
    data = bytearray((copy / "search.bin").read_bytes())
    data[len(data) // 2] ^= 1
    (copy / "search.bin").write_bytes(bytes(data))
    error = open_error(c_build, copy)
    assert error.status == "ASYMTRACK_ERROR_BAD_BUNDLE" and "search.bin: sha256 mismatch" in str(error)
    (copy / "search.bin").unlink()
    assert "search.bin: listed in manifest.json but missing" in str(open_error(c_build, copy))


@pytest.mark.parametrize(
    "change, status, message",
    [
        (lambda m: m.__setitem__("schema_version", 3), "UNSUPPORTED", "schema_version 3 is newer than this library"),
        (lambda m: m.__setitem__("schema_version", 1), "UNSUPPORTED",
         "re-export the bundle: asymtrack-deploy export --target openvino --precision fp32 --variant tiny"),
        (lambda m: m["tracker"]["crop"].__setitem__("interpolation", "cubic"), "UNSUPPORTED",
         "tracker.crop.interpolation 'cubic' is not a rule this library implements"),
        (lambda m: m["tracker"]["map_back"].__setitem__("origin", "crop_origin"), "UNSUPPORTED", "map_back.origin"),
        (lambda m: m.pop("tracker"), "BAD_BUNDLE", "tracker.crop.side is missing"),
        (lambda m: m["inference"].__setitem__("openvino_precision_hint", "u4"), "UNSUPPORTED", "openvino_precision_hint"),
        (lambda m: m["files"].__setitem__("../escape", {"sha256": "0" * 64, "bytes": 1}), "BAD_BUNDLE", "plain file name"),
    ],
)
def test_manifests_the_library_refuses(c_build, demo_bundle, tmp_path, change, status, message):
    error = open_error(c_build, edited_copy(demo_bundle, tmp_path, change))
    assert error.status == f"ASYMTRACK_ERROR_{status}" and message in str(error), str(error)


def test_bad_open_arguments(c_build, demo_bundle):
    assert "threads must be from 0 (OpenVINO's choice) to 1024, got -1" in str(open_error(c_build, demo_bundle, threads=-1))
    assert "to 1024, got 1025" in str(open_error(c_build, demo_bundle, threads=1025))
    error = open_error(c_build, demo_bundle, device="NO_SUCH_DEVICE")
    assert error.status == "ASYMTRACK_ERROR_RUNTIME" and "OpenVINO" in str(error)
    lib = load_library(c_build.library)
    handle = ctypes.c_void_p()
    assert lib.asymtrack_bundle_open(None, None, 0, ctypes.byref(handle)) == INVALID
    assert lib.asymtrack_bundle_last_error(handle) == b"folder is NULL or empty"
    assert lib.asymtrack_tracker_create(handle, ctypes.byref(ctypes.c_void_p())) == INVALID  # a failed open
    lib.asymtrack_bundle_close(handle)


def test_binding_checks_frames_before_calling_c(tracker):
    with pytest.raises(ValueError, match="uint8"):
        tracker.init(FRAME.astype(np.float32), (1, 1, 5, 5))
    with pytest.raises(ValueError, match="contiguous"):
        tracker.init(FRAME[:, ::2], (1, 1, 5, 5))
    with pytest.raises(ValueError, match="four numbers"):
        tracker.init(FRAME, (1, 2, 3))


def test_a_graph_file_linked_from_outside_is_refused_as_in_python(c_build, demo_bundle, tmp_path):
    import os

    from asymtrack_deploy.bundle import load_bundle

    copy = Path(shutil.copytree(demo_bundle, tmp_path / "bundle"))
    outside = tmp_path / "elsewhere.bin"
    shutil.move(copy / "search.bin", outside)
    os.symlink(outside, copy / "search.bin")
    error = open_error(c_build, copy)
    assert error.status == "ASYMTRACK_ERROR_BAD_BUNDLE" and "search.bin: a link to" in str(error)
    assert "outside the bundle" in str(error)
    with pytest.raises(ValueError, match=r"search\.bin: a link to .*outside the bundle"):
        load_bundle(copy)


@pytest.mark.parametrize(
    "change, c_message, python_message",
    [
        (lambda m: m["model"].__setitem__("search_factor", -4), "model.search_factor must be a number in",
         "model.search_factor must be in"),
        (lambda m: m["model"].__setitem__("template_size", 0), "model.template_size must be an integer in",
         "model.template_size must be in"),
        (lambda m: m["preprocess"].__setitem__("color_order", "bgr"), "preprocess.color_order 'bgr'",
         "preprocess.color_order 'bgr' is not supported"),
        (lambda m: m["state"].pop(), "state tensors", "must be the state tensors"),
        (lambda m: m["model"].__setitem__("variant", "base"), "model.variant 'base' takes 192 / 384 pixel crops",
         "model.variant 'base' takes 192 / 384 pixel crops"),
        (lambda m: m["preprocess"].__setitem__("mean", "abc"), "preprocess.mean must be 3 finite numbers",
         "preprocess.mean"),
        (lambda m: m["preprocess"].__setitem__("std", [0.2, "x", 0.2]), "preprocess.std must be 3 finite numbers",
         "need 3 finite numbers each"),
    ],
)
def test_the_c_library_and_python_refuse_the_same_manifests(c_build, demo_bundle, tmp_path, change, c_message,
                                                              python_message):
    from asymtrack_deploy.bundle import load_bundle

    copy = edited_copy(demo_bundle, tmp_path, change)
    assert c_message in str(open_error(c_build, copy))
    with pytest.raises(ValueError, match=python_message):
        load_bundle(copy)


def test_graph_dtypes_are_checked_as_in_python(c_build, demo_bundle, tmp_path):
    """A state tensor whose dtype the manifest misstates (everywhere it is listed): both refuse."""
    from asymtrack_deploy.runtimes import load_backend

    def change(m):
        name = m["state"][0]["name"]
        for t in [m["state"][0], *m["graphs"]["template"]["outputs"], *m["graphs"]["search"]["inputs"]]:
            if t["name"] == name:
                t["dtype"] = "float16"

    copy = edited_copy(demo_bundle, tmp_path, change)
    assert "of the manifest's shape and dtype" in str(open_error(c_build, copy))
    with pytest.raises(ValueError, match="differ from its manifest.json"):
        load_backend("openvino", bundle=copy)
