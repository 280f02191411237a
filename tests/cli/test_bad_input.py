"""Every command on the bad inputs of issue 15: a one-line error and exit code 2, never a traceback
(exit 1 stays "parity failed" or a failure that is not the input's). Commands run in-process with
``catch_exceptions=False``, so an exception that escapes a command fails the test by itself."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from asymtrack_deploy.cli.main import app
from asymtrack_deploy.models import build_model, save_checkpoint
from asymtrack_deploy.sources import builtin_sequence
from tests.conftest import reference_checkpoint
from tests.export.conftest import shared_bundle

runner = CliRunner()
BOX = "638,240,50,82"


def run(*args: str, code: int = 2, says: str = ""):
    """Run a command; it must exit with ``code`` and one error line containing ``says``."""
    result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    text = " ".join(result.output.split())  # rich may wrap a long line in a narrow test terminal
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    if code:
        assert result.output.count("error:") == 1, result.output
    assert says in text, result.output
    return result


@pytest.fixture(scope="module")
def frames(tmp_path_factory) -> Path:
    """Six real frames; frame 3 is not an image."""
    folder = tmp_path_factory.mktemp("frames")
    for path in builtin_sequence().files[:6]:
        shutil.copy(path, folder / path.name)
    (folder / "0003.jpg").write_bytes(os.urandom(500))
    return folder


@pytest.fixture(scope="module")
def nan_checkpoint(tmp_path_factory) -> Path:
    model = build_model("tiny")
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    return save_checkpoint(model, tmp_path_factory.mktemp("nan") / "nan.pth")


@pytest.fixture(scope="module")
def mismatched_bundle(tmp_path_factory) -> Path:
    """A bundle whose manifest describes base's 192 / 384-pixel graphs (consistently, so the
    variant check passes) while its graphs are tiny's 128 / 256."""
    from tests.runtimes.test_manifest_vs_graphs import GRAPH_MISMATCHES

    copy = Path(shutil.copytree(shared_bundle(tmp_path_factory), tmp_path_factory.mktemp("m") / "bundle"))
    manifest = json.loads((copy / "manifest.json").read_text())
    GRAPH_MISMATCHES["sizes"](manifest)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


# -- track ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("init, says", [
    ("nan,0,10,10", "four finite numbers"), ("0,inf,10,10", "four finite numbers"),
    ("0,0,1e400,10", "four finite numbers"),
    ("0,0,100000,100000", "too large for the 768 x 576 frame"),  # was a MemoryError (112 GiB)
    ("5000,5000,10,10", "outside the 768 x 576 frame"),  # was snapped to a corner box
])
def test_track_bad_boxes(frames, init, says):
    run("track", builtin_sequence().folder, "--init", init, "--max-frames", "2", says=says)


@pytest.mark.parametrize("device, says", [("cuda", "no CUDA device is available"), ("junk", "is not a torch device")])
def test_track_bad_device(device, says):
    run("track", builtin_sequence().folder, "--init", BOX, "--device", device, says=says)


def test_track_unwritable_output_is_found_before_the_first_frame(tmp_path):
    result = run("track", builtin_sequence().folder, "--init", BOX, "-o", tmp_path / "no" / "such" / "boxes.txt",
                 says="cannot write the boxes there")
    assert "FPS" not in result.output  # nothing was tracked
    run("track", builtin_sequence().folder, "--init", BOX, "-o", tmp_path, says="cannot write the boxes there")


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_track_to_a_full_device_is_a_one_line_error():
    """ENOSPC was raised from the sink's exit as a traceback (issue 24, defect 5)."""
    run("track", builtin_sequence().folder, "--init", BOX, "--max-frames", "2", "-o", "/dev/full",
        says="/dev/full: cannot write the boxes (No space left on device)")
    assert Path("/dev/full").exists()


def test_track_bad_frame_is_named_and_the_boxes_before_it_are_kept(frames, tmp_path):
    out = tmp_path / "boxes.txt"
    run("track", frames, "--init", BOX, "-o", out,
        says=f"frame 3: {frames / '0003.jpg'}: not a readable image")
    lines = out.read_text().splitlines()
    assert len(lines) == 3 and lines[0] == "638.00,240.00,50.00,82.00"


def test_track_non_finite_weights(nan_checkpoint):
    run("track", builtin_sequence().folder, "--init", BOX, "--checkpoint", nan_checkpoint,
        says="tensors hold NaN or infinite values")


def test_track_manifest_that_disagrees_with_its_graphs(mismatched_bundle):
    run("track", builtin_sequence().folder, "--init", BOX, "--bundle", mismatched_bundle,
        says="the template graph's inputs differ from its manifest.json")


@pytest.mark.parametrize("target, name, how, says", [
    ("onnx", "search.onnx", "truncate", "search.onnx: ONNX Runtime cannot read this graph (Protobuf parsing failed.)"),
    ("openvino", "search.bin", "truncate", "(with search.bin): OpenVINO cannot read this graph (Incorrect weights"),
    ("openvino", "search.xml", "truncate", "search.xml (with search.bin): OpenVINO cannot read this graph"),
    ("openvino", "search.bin", "random", "search.xml (with search.bin): OpenVINO cannot read this graph"),
])
def test_track_a_damaged_graph_whose_digest_matches(tmp_path_factory, tmp_path, target, name, how, says):
    """Was InvalidProtobuf or OpenVINO's RuntimeError as a traceback (issue 24, defect 5)."""
    from tests.runtimes.backend_contract import damaged_copy

    if target == "openvino":
        pytest.importorskip("openvino")
        from tests.export.derived_bundles import shared_derived_bundle

        bundle = shared_derived_bundle(tmp_path_factory, "openvino", "fp32")
    else:
        bundle = shared_bundle(tmp_path_factory)
    copy = damaged_copy(bundle, tmp_path / "b", name, how)
    run("track", builtin_sequence().folder, "--init", BOX, "--bundle", copy, says=f"{says}")


def test_a_manifest_nested_100000_levels_deep(tmp_path):
    """Was a RecursionError from json.loads (issue 24, defect 5); the C library stops at 64 levels."""
    (tmp_path / "manifest.json").write_text("[" * 100_000)
    run("track", builtin_sequence().folder, "--init", BOX, "--bundle", tmp_path,
        says="manifest.json: not a manifest: JSON nesting deeper than 64 levels")
    run("info", "--bundle", tmp_path, says="JSON nesting deeper than 64 levels")


# -- parity, export, info, bench, serve -------------------------------------------------------------


def test_parity_min_iou_above_one_is_bad_input(tmp_path_factory):
    run("parity", "--bundle", shared_bundle(tmp_path_factory), "--checkpoint", reference_checkpoint("tiny"),
        "--min-iou", "1.5", "--max-frames", "2", says="the minimum IoU must be in [0, 1]")


def test_parity_of_a_manifest_that_disagrees_is_bad_input_not_a_fail(mismatched_bundle):
    run("parity", "--bundle", mismatched_bundle, "--max-frames", "2", says="differ from its manifest.json")


def test_export_into_a_folder_where_nothing_can_be_written(tmp_path):
    if os.geteuid() == 0:  # root writes anywhere a mode allows nothing; sysfs refuses even root
        parent = Path("/sys/asymtrack-deploy-test")
    else:
        parent = tmp_path / "read-only"
        parent.mkdir(mode=0o555)
    run("export", "--random-weights", "--out", parent / "bundle", says="cannot write the bundle there")


def _unwritable_folder(tmp_path: Path) -> Path:
    """A folder nothing can be created in, for root too (sysfs), else a read-only folder."""
    if os.geteuid() == 0:
        return Path("/sys/asymtrack-deploy-test")
    parent = tmp_path / "read-only"
    parent.mkdir(mode=0o555)
    return parent


def _quick(started: float) -> None:
    """Refused before any work: well under the seconds the work itself takes on this machine."""
    import time

    assert time.monotonic() - started < 20


@pytest.mark.parametrize("option", ["--json", "--plot"])
def test_bench_output_that_cannot_be_written_is_refused_before_the_benchmark(tmp_path, option):
    """Was found after the whole benchmark (137 s), with a traceback and the timings lost."""
    import time

    for path in (Path("/nonexistent/x.json"), _unwritable_folder(tmp_path) / "x.json", tmp_path):
        started = time.monotonic()
        run("bench", "--frames", "2", "--warmup", "0", "--rounds", "1", option, path, says="cannot write")
        _quick(started)


def test_eval_and_train_outputs_that_cannot_be_written_are_refused_first(tmp_path):
    import time

    root = _dataset(tmp_path / "data")
    blocked = _unwritable_folder(tmp_path)
    started = time.monotonic()
    run("eval", "--dataset", "folder", "--root", root, "--random-weights", "--out", blocked / "out",
        says="cannot write the results (--out) there")
    run("eval", "--dataset", "procedural", "--root", blocked / "proc", "--random-weights", "--out", tmp_path / "o",
        says="cannot write the procedural sequences (--root) there")
    _quick(started)
    assert not (tmp_path / "o").exists()
    run("train", "--data", f"folder={root}", "--out", blocked / "run", says="cannot write the training run (--out) there")


def test_train_out_naming_an_existing_file(tmp_path):
    """Was FileExistsError as a traceback (issue 24, defect 5)."""
    existing = tmp_path / "notes.txt"
    existing.write_text("mine")
    run("train", "--data", f"folder={_dataset(tmp_path / 'data')}", "--out", existing,
        says=f"{existing}: cannot write the training run (--out) there (it exists and is not a folder)")
    assert existing.read_text() == "mine"


def test_export_without_its_runtime_library_says_which_extra_to_install(tmp_path, monkeypatch):
    import importlib

    real = importlib.import_module

    def without_openvino(name, *args, **kwargs):
        if name.split(".")[0] == "openvino":
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", without_openvino)
    run("export", "--target", "openvino", "--random-weights", "--out", tmp_path / "b",
        says="pip install 'asymtrack-deploy[openvino]'")
    assert not (tmp_path / "b").exists()


def test_export_refuses_non_finite_and_misnamed_checkpoints(nan_checkpoint, tmp_path):
    run("export", "--checkpoint", nan_checkpoint, "--out", tmp_path / "a", says="NaN or infinite values")
    small = save_checkpoint(build_model("small"), tmp_path / "small.pth")
    run("export", "--checkpoint", small, "--variant", "base", "--out", tmp_path / "b",
        says="trained as AsymTrack-small (its recorded variant), not base")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.pth"]  # nothing written


@pytest.mark.parametrize("content", [os.urandom(3000), b"\x80\x04\x95" + os.urandom(100)])
def test_checkpoints_that_are_not_checkpoints(tmp_path, content):
    path = tmp_path / "file.pth"
    path.write_bytes(content)
    result = run("info", "--checkpoint", path, says=str(path))
    assert "weights_only" not in result.output


def test_bench_with_a_missing_checkpoint(tmp_path):
    run("bench", "--checkpoint", tmp_path / "none.pth", says="no such checkpoint")


def test_serve_a_folder_that_is_not_a_repository(tmp_path):
    run("serve", tmp_path, "--no-install", says="not an asymtrack-deploy Triton repository")


# -- eval -------------------------------------------------------------------------------------------


def _dataset(root: Path) -> Path:
    from tests.eval.eval_fixtures import folder_dataset

    folder_dataset(root, count=2, frames=5)
    return root


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("damage, says", [
    (lambda r: (r / "seq01" / "groundtruth.txt").write_text("3,4,0,10\n" * 5), "the first ground-truth box"),
    (lambda r: (r / "seq01" / "img" / "00000001.jpg").write_bytes(b"broken"), "00000001.jpg: not a readable image"),
    (lambda r: (r / "seq01" / "img" / "00000004.jpg").write_bytes(b"broken"), "00000004.jpg: not a readable image"),
    (lambda r: (r / "seq01" / "groundtruth.txt").write_text("3,4,10,10\n3,4,-5,10\n" + "3,4,10,10\n" * 3),
     "groundtruth.txt:2: a box needs finite values and a width and height >= 0"),
    (lambda r: (r / "seq01" / "groundtruth.txt").write_bytes(os.urandom(300)), "groundtruth.txt: not a text file"),
])
def test_eval_bad_ground_truth_and_frames_are_exit_2_with_any_workers(tmp_path, workers, damage, says):
    root = _dataset(tmp_path / "data")
    damage(root)
    run("eval", "--dataset", "folder", "--root", root, "--random-weights", "--workers", workers, "--out",
        tmp_path / "out", says=says)


def test_eval_summary_has_the_usual_permissions(tmp_path):
    root = _dataset(tmp_path / "data")
    old = os.umask(0o022)
    try:
        run("eval", "--dataset", "folder", "--root", root, "--random-weights", "--out", tmp_path / "out", code=0)
    finally:
        os.umask(old)
    summary = next((tmp_path / "out").rglob("summary.json"))
    assert summary.stat().st_mode & 0o777 == 0o644  # was 0600
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in (summary.parent / "raw").iterdir())
