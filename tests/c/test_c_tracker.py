"""The C tracker against the Python Tracker over the OpenVINO backend of the same bundle:
free-running through asymtrack-track on the built-in sequence (demo and random weights),
teacher-forced on vtest.avi through the binding, the official tracker steps, the manifest's
clip margin followed by both, several trackers on one bundle, and the C++ example."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from asymtrack_deploy import Tracker
from asymtrack_deploy.c_tracker import CTracker
from asymtrack_deploy.runtimes import load_backend
from asymtrack_deploy.sources import builtin_sequence
from tests.conftest import reference_file

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
FREE_RUNNING_TOL_PX = 0.01
TEACHER_FORCED_TOL_PX = 0.001
OFFICIAL_STEP_TOL_PX = 0.05


def python_tracker(bundle: Path) -> Tracker:
    return Tracker(load_backend("openvino", bundle=bundle, threads=1))


def python_track(bundle: Path, frames, init_box) -> np.ndarray:
    tracker = python_tracker(bundle)
    tracker.init(frames[0], init_box)
    rows = [list(init_box) + [1.0]]
    for frame in frames[1:]:
        result = tracker.update(frame)
        rows.append(list(result.box) + [result.score])
    return np.array(rows)


def write_ppm_frames(frames, folder: Path) -> Path:
    folder.mkdir()
    for i, frame in enumerate(frames):
        height, width = frame.shape[:2]
        header = f"P6\n{width} {height}\n255\n".encode()
        (folder / f"{i:05d}.ppm").write_bytes(header + np.ascontiguousarray(frame[:, :, ::-1]).tobytes())
    return folder


def run_track(c_build, bundle: Path, frames_dir: Path, box) -> subprocess.CompletedProcess:
    box_text = ",".join(repr(float(v)) for v in box)
    return subprocess.run([str(c_build.track), "--threads", "1", str(bundle), str(frames_dir), box_text],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("bundle_fixture", ["demo_bundle", "random_bundle"])
def test_asymtrack_track_follows_the_python_tracker(c_build, bundle_fixture, request, tmp_path):
    bundle = request.getfixturevalue(bundle_fixture)
    sequence = builtin_sequence()
    frames = sequence.frames()
    done = run_track(c_build, bundle, write_ppm_frames(frames, tmp_path / "frames"), sequence.init_box)
    assert done.returncode == 0, done.stderr
    c_rows = np.array([[float(v) for v in line.split(",")] for line in done.stdout.splitlines()])
    expected = python_track(bundle, frames, sequence.init_box)
    assert c_rows.shape == expected.shape == (len(frames), 5)
    worst = np.abs(c_rows[:, :4] - expected[:, :4]).max(axis=1)
    assert worst.max() <= FREE_RUNNING_TOL_PX, f"frames over {FREE_RUNNING_TOL_PX} px: {np.flatnonzero(worst > FREE_RUNNING_TOL_PX)}"
    assert np.abs(c_rows[:, 4] - expected[:, 4]).max() <= 1e-5
    if bundle_fixture == "demo_bundle":  # the trained tracker moves: the comparison is not of a still box
        assert np.abs(expected[-1, :2] - expected[0, :2]).max() > 5


def c_rows_of(done: subprocess.CompletedProcess) -> np.ndarray:
    assert done.returncode == 0, done.stderr
    return np.array([[float(v) for v in line.split(",")] for line in done.stdout.splitlines()])


def test_asymtrack_track_reads_the_jpeg_frames_python_reads_box_for_box(c_build, demo_bundle):
    """The built-in sequence's own JPEG files, read by asymtrack-track and by cv2.imread for the
    Python Tracker: the same boxes. (libjpeg gives OpenCV's pixels exactly; stb_image, used
    when CMake finds no libjpeg, differs by a few levels and the free-running tracks part.)"""
    sequence = builtin_sequence()
    done = run_track(c_build, demo_bundle, sequence.folder, sequence.init_box)
    if "JPEG decoder: libjpeg" not in done.stderr:
        pytest.skip("runtime-c built without libjpeg (apt-get install libjpeg-dev): JPEG pixels differ from OpenCV's")
    expected = python_track(demo_bundle, sequence.frames(), sequence.init_box)
    assert np.abs(c_rows_of(done)[:, :4] - expected[:, :4]).max() <= FREE_RUNNING_TOL_PX
    assert np.abs(expected[-1, :2] - expected[0, :2]).max() > 5  # the track moves


def test_asymtrack_track_reads_png_frames_box_for_box(c_build, demo_bundle, tmp_path):
    """PNG is lossless: stb_image and OpenCV decode the same pixels, with or without libjpeg."""
    sequence = builtin_sequence()
    frames = sequence.frames()[:12]
    (tmp_path / "png").mkdir()
    for index, frame in enumerate(frames):
        cv2.imwrite(str(tmp_path / "png" / f"{index:05d}.png"), frame)
    done = run_track(c_build, demo_bundle, tmp_path / "png", sequence.init_box)
    expected = python_track(demo_bundle, frames, sequence.init_box)
    assert np.abs(c_rows_of(done)[:, :4] - expected[:, :4]).max() <= FREE_RUNNING_TOL_PX


def read_video(path: Path, count: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < count:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def test_teacher_forced_on_vtest(c_build, demo_bundle):
    if not VTEST.is_file():
        pytest.skip(f"{VTEST} not found (Debian package opencv-doc)")
    frames = read_video(VTEST, 60)
    init_box = (638.0, 240.0, 50.0, 82.0)
    python = python_tracker(demo_bundle)
    python.init(frames[0], init_box)
    worst = 0.0
    with CTracker(demo_bundle, c_build.library, threads=1) as c_tracker:
        c_tracker.init(frames[0], init_box)
        for frame in frames[1:]:
            c_tracker.set_state(python.state)  # both search around the Python track's previous box
            c_box, c_score = c_tracker.update(frame)
            result = python.update(frame)
            worst = max(worst, float(np.abs(np.subtract(c_box, result.box)).max()))
            assert abs(c_score - result.score) <= 1e-5
    assert worst <= TEACHER_FORCED_TOL_PX


def test_bf16_bundle_runs_in_bf16_like_the_python_backend(c_build, tmp_path_factory):
    """A bf16 bundle compiles with the bf16 hint in C too, and both trackers agree step by step."""
    import openvino

    if "BF16" not in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        pytest.skip("this CPU has no bf16 arithmetic: the C library refuses bf16 bundles on it")
    from tests.export.derived_bundles import shared_derived_bundle

    bundle = shared_derived_bundle(tmp_path_factory, "openvino", "bf16", demo=True)
    frames = builtin_sequence().frames()[:6]
    python = python_tracker(bundle)
    python.init(frames[0], builtin_sequence().init_box)
    with CTracker(bundle, c_build.library, threads=1) as c_tracker:
        assert c_tracker.get_info()["inference_precision"] == "bf16"
        c_tracker.init(frames[0], builtin_sequence().init_box)
        for frame in frames[1:]:
            c_tracker.set_state(python.state)
            c_box, _ = c_tracker.update(frame)
            assert np.abs(np.subtract(c_box, python.update(frame).box)).max() <= TEACHER_FORCED_TOL_PX


def replay_official_steps(tracker) -> float:
    """Each step of track_tiny.json from its own previous state; the worst pixel error."""
    steps = json.loads(reference_file("track_tiny.json").read_text())
    frames = [cv2.imread(str(reference_file(f"frames/{name}"))) for name in steps["frames"]]
    tracker.init(frames[0], steps["init_box_xywh"])
    worst = 0.0
    for k, index in enumerate(steps["frame_index"]):
        tracker.set_state(steps["prev_state_xywh"][k])
        box, _ = tracker.update(frames[index])
        worst = max(worst, float(np.abs(np.subtract(box, steps["next_state_xywh"][k])).max()))
    return worst


def test_official_tracker_steps(c_build, reference_bundle):
    with CTracker(reference_bundle, c_build.library, threads=1) as tracker:
        assert tracker.get_info()["inference_precision"] == "f32"
        assert replay_official_steps(tracker) < OFFICIAL_STEP_TOL_PX


def test_both_trackers_follow_the_manifest_clip_margin(c_build, reference_bundle, tmp_path):
    """The manifest is not hashed: editing its clip margin keeps the bundle valid, and an
    official step whose width is clipped to the margin changes in both trackers alike."""
    steps = json.loads(reference_file("track_tiny.json").read_text())
    k = next(k for k, state in enumerate(steps["next_state_xywh"]) if state[2] == 10.0)  # 0 (full set), 2 (compact)
    frames = [cv2.imread(str(reference_file(f"frames/{name}"))) for name in steps["frames"]]
    bundle = Path(shutil.copytree(reference_bundle, tmp_path / "bundle"))
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["tracker"]["clip"]["margin"] = 37.5
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    python = python_tracker(bundle)
    assert python.clip_margin == 37.5
    python.init(frames[0], steps["init_box_xywh"])
    python.state = steps["prev_state_xywh"][k]
    expected = python.update(frames[steps["frame_index"][k]]).box
    with CTracker(bundle, c_build.library, threads=1) as tracker:
        assert tracker.get_info()["clip_margin"] == 37.5
        tracker.init(frames[0], steps["init_box_xywh"])
        tracker.set_state(steps["prev_state_xywh"][k])
        box, _ = tracker.update(frames[steps["frame_index"][k]])
    assert expected[2] == 37.5
    assert np.abs(np.subtract(box, expected)).max() < 1e-6


@pytest.mark.parametrize("size", [1, 2])
def test_tiny_frames_give_the_same_boxes_inside_them(c_build, demo_bundle, size):
    """A frame smaller than the clip margin: both trackers keep the box inside it, alike."""
    frame = np.full((size, size, 3), 128, np.uint8)
    python = python_tracker(demo_bundle)
    python.init(frame, (0, 0, 2 * size, 2 * size))
    expected = [python.update(frame).box for _ in range(3)]
    with CTracker(demo_bundle, c_build.library, threads=1) as tracker:
        tracker.init(frame, (0, 0, 2 * size, 2 * size))
        got = [tracker.update(frame)[0] for _ in range(3)]
    assert np.abs(np.subtract(got, expected)).max() < 1e-6
    for x, y, w, h in got:
        assert 0 <= x and 0 <= y and x + w <= size and y + h <= size


def test_trackers_on_one_bundle_keep_their_own_template(c_build, demo_bundle):
    """Two targets on one bundle, updated alternately, give what each gives alone."""
    frames = builtin_sequence().frames()[:8]
    boxes = [(247.0, 202.0, 38.0, 88.0), (480.0, 300.0, 60.0, 90.0)]
    alone = []
    for box in boxes:
        with CTracker(demo_bundle, c_build.library, threads=1) as tracker:
            tracker.init(frames[0], box)
            alone.append([tracker.update(frame) for frame in frames[1:]])
    first = CTracker(demo_bundle, c_build.library, threads=1)
    second = first.new_tracker()
    first.init(frames[0], boxes[0])
    second.init(frames[0], boxes[1])
    for k, frame in enumerate(frames[1:]):
        if k < 3:
            assert first.update(frame) == alone[0][k]
        elif k == 3:
            first.close()  # the bundle stays alive while the second tracker uses it
        assert second.update(frame) == alone[1][k]
    second.close()


def test_cpp_example_runs(c_build, demo_bundle):
    if not c_build.example.is_file():
        pytest.skip("no C++ compiler: the example was not built")
    done = subprocess.run([str(c_build.example), str(demo_bundle)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 4


def test_asymtrack_track_failures_exit_non_zero_with_the_message(c_build, demo_bundle, tmp_path):
    frames_dir = write_ppm_frames(builtin_sequence().frames()[:2], tmp_path / "frames")
    missing = run_track(c_build, tmp_path / "nope", frames_dir, (1, 1, 10, 10))
    assert missing.returncode != 0 and "manifest.json: missing" in missing.stderr
    empty = run_track(c_build, demo_bundle, tmp_path, (1, 1, 10, 10))
    assert empty.returncode != 0 and "no frame files (.jpg .jpeg .png .bmp .ppm .pgm) in" in empty.stderr
    (frames_dir / "00002.jpg").write_bytes(b"\xff\xd8 not a JPEG")
    broken = run_track(c_build, demo_bundle, frames_dir, (1, 1, 10, 10))
    assert broken.returncode != 0 and "00002.jpg: cannot decode it as an image" in broken.stderr
    bad_box = run_track(c_build, demo_bundle, frames_dir, (1, 1, 0, 10))
    assert bad_box.returncode != 0 and "width and height must be > 0" in bad_box.stderr
    for threads in ("99999999999", "-1", "4x"):
        done = subprocess.run([str(c_build.track), "--threads", threads, str(demo_bundle), str(frames_dir), "1,1,10,10"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and f"--threads takes an integer from 0 to 1024, got: {threads}" in done.stderr
