"""Dataset readers: each benchmark layout reads back what was written; malformed trees fail
before tracking with an error that names the file (and line)."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from asymtrack_deploy.eval import DatasetError, dataset_names, load_dataset
from asymtrack_deploy.datasets.splits import LASOT_TEST, OTB100, UAV123
from asymtrack_deploy.eval.named_datasets import read_otb, read_uav

from eval_fixtures import SIZE, folder_dataset, got10k_tree, lasot_tree, render, target_boxes, trackingnet_tree, write_boxes


def test_cli_dataset_choices_match_the_registry():
    from asymtrack_deploy.cli.eval import DatasetName

    assert [d.value for d in DatasetName] == dataset_names()


def test_eval_imports_neither_torch_nor_models_nor_train():
    code = ("import sys, asymtrack_deploy.eval, asymtrack_deploy.eval.trax_server, asymtrack_deploy.cli.eval; "
            "bad = [m for m in sys.modules if m.split('.')[0] == 'torch' "
            "or m.startswith(('asymtrack_deploy.models', 'asymtrack_deploy.train'))]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


def test_split_tables():
    assert len(LASOT_TEST) == 280 and len(set(LASOT_TEST)) == 280
    assert len(OTB100) == 100 and len(UAV123) == 123
    assert OTB100["Tiger1"]["omit"] == 5 and UAV123["bird1_2"]["first"] == 775


def test_folder_layout(tmp_path):
    gts = folder_dataset(tmp_path, count=2, frames=5)
    ds = load_dataset("folder", tmp_path)
    assert [s.name for s in ds.sequences] == ["seq00", "seq01"]
    seq = ds.sequences[0]
    assert len(seq) == 5 and seq.files[0].name == "00000001.jpg" and seq.annotated
    np.testing.assert_array_equal(seq.boxes, gts["seq00"])
    assert seq.resolve_image_size() == SIZE
    assert ds.protocol == "default" and ds.limit(1).sequences == ds.sequences[:1]


def test_folder_with_nan_rows_marks_them_absent(tmp_path):
    gt = target_boxes(4, 0)
    render(gt, tmp_path / "s" / "img", [f"{i}.jpg" for i in range(4)])
    rows = gt.copy()
    rows[2] = np.nan
    write_boxes(tmp_path / "s" / "groundtruth_rect.txt", rows, delimiter="\t")
    ds = load_dataset("folder", tmp_path)
    assert ds.rules == "uav"
    np.testing.assert_array_equal(ds.sequences[0].visible, [True, True, False, True])


def test_got10k_val_and_test(tmp_path):
    val = got10k_tree(tmp_path, "val", count=2, frames=5, absent=(3,))
    got10k_tree(tmp_path, "test", count=2, frames=5)
    ds = load_dataset("got10k-val", tmp_path)
    assert ds.protocol == "got10k" and ds.submission is None
    seq = ds.sequences[0]
    assert seq.image_size == SIZE
    np.testing.assert_array_equal(seq.visible, val[seq.name][1])
    test = load_dataset("got10k_test", tmp_path / "test")  # the split folder itself works too
    assert test.protocol == "none" and test.submission == "got10k"
    assert test.sequences[0].boxes.shape == (1, 4) and len(test.sequences[0]) == 5
    assert not test.sequences[0].annotated


def test_lasot_layout_with_absent_flags(tmp_path):
    tree = lasot_tree(tmp_path, names=("cat-1", "dog-7"), frames=5, absent=(1, 2))
    ds = load_dataset("lasot", tmp_path)
    assert ds.rules == "lasot" and [s.name for s in ds.sequences] == ["cat-1", "dog-7"]
    np.testing.assert_array_equal(ds.sequences[1].visible, tree["dog-7"][1])
    assert ds.sequences[0].files[-1] == tmp_path / "cat" / "cat-1" / "img" / "00000005.jpg"


def test_lasot_without_list_expects_the_test_split(tmp_path):
    lasot_tree(tmp_path, names=("cat-1",), frames=3)
    (tmp_path / "testing_set.txt").unlink()
    with pytest.raises(DatasetError, match="279 of 280 sequences"):
        load_dataset("lasot", tmp_path)


def test_trackingnet_layout(tmp_path):
    trackingnet_tree(tmp_path, count=2, frames=12)
    ds = load_dataset("trackingnet", tmp_path)
    assert ds.submission == "trackingnet" and ds.protocol == "none"
    seq = ds.sequences[0]
    # frames sort numerically: 0, 1, ..., 9, 10, 11 (not 0, 1, 10, 11, 2)
    assert [p.stem for p in seq.files[:4]] == ["0", "1", "2", "3"] and seq.files[-1].stem == "11"


def test_otb_table_ranges(tmp_path):
    # Tiger1: frames 1..354 on disk, the first 5 skipped (initOmit); Jogging has two targets.
    gt = target_boxes(354, 0)
    render(gt[:6], tmp_path / "Tiger1" / "img", [f"{i:04d}.jpg" for i in range(1, 7)])
    render(gt[-1:], tmp_path / "Tiger1" / "img", ["0354.jpg"])
    write_boxes(tmp_path / "Tiger1" / "groundtruth_rect.txt", gt)
    jog = target_boxes(307, 1)
    render(jog[:1], tmp_path / "Jogging" / "img", ["0001.jpg"])
    render(jog[-1:], tmp_path / "Jogging" / "img", ["0307.jpg"])
    write_boxes(tmp_path / "Jogging" / "groundtruth_rect.1.txt", jog, delimiter="\t")
    write_boxes(tmp_path / "Jogging" / "groundtruth_rect.2.txt", jog + 1, delimiter=" ")
    ds = read_otb(tmp_path, names=["Tiger1", "Jogging_1", "Jogging_2"])
    tiger = ds.sequences[0]
    assert len(tiger) == 349 and tiger.files[0].name == "0006.jpg"
    np.testing.assert_array_equal(tiger.boxes[0], gt[5])
    np.testing.assert_array_equal(ds.sequences[2].boxes, jog + 1)
    with pytest.raises(DatasetError, match="97 of 100 OTB-100 sequences are missing"):
        load_dataset("otb", tmp_path)


def test_uav_subsequence_of_a_shared_folder(tmp_path):
    gt = target_boxes(703, 0)
    gt[10] = np.nan
    folder = tmp_path / "data_seq" / "UAV123" / "bird1"
    render(gt[:1], folder, ["000775.jpg"])
    render(gt[:1], folder, ["001477.jpg"])
    write_boxes(tmp_path / "anno" / "UAV123" / "bird1_2.txt", gt)
    seq = read_uav(tmp_path, names=["bird1_2"]).sequences[0]
    assert len(seq) == 703 and seq.files[0].name == "000775.jpg" and not seq.visible[10]


# -- malformed trees -----------------------------------------------------------------------------
def test_missing_groundtruth_names_the_file(tmp_path):
    folder_dataset(tmp_path, count=2, frames=3)
    (tmp_path / "seq01" / "groundtruth.txt").unlink()
    with pytest.raises(DatasetError, match=r"seq01/groundtruth\.txt: ground-truth file not found"):
        load_dataset("folder", tmp_path)


def test_line_with_three_numbers_names_file_and_line(tmp_path):
    folder_dataset(tmp_path, count=1, frames=4)
    gt = tmp_path / "seq00" / "groundtruth.txt"
    lines = gt.read_text().splitlines()
    lines[2] = "1,2,3"
    gt.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"groundtruth\.txt:3: expected 4 numbers \(x, y, w, h\), got 3"):
        load_dataset("folder", tmp_path)


def test_text_in_groundtruth_names_file_and_line(tmp_path):
    got10k_tree(tmp_path, "val", count=1, frames=3)
    gt = next((tmp_path / "val").glob("*/groundtruth.txt"))
    gt.write_text("1,2,3,4\n1,2,x,4\n1,2,3,4\n")
    with pytest.raises(DatasetError, match=r"groundtruth\.txt:2: expected 4 numbers \(x, y, w, h\), got '1,2,x,4'"):
        load_dataset("got10k-val", tmp_path)


def test_empty_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="empty folder"):
        load_dataset("folder", tmp_path / "empty")
    folder_dataset(tmp_path / "ds", count=1, frames=3)
    shutil.rmtree(tmp_path / "ds" / "seq00" / "img")
    (tmp_path / "ds" / "seq00" / "img").mkdir()
    with pytest.raises(DatasetError, match=r"seq00/img: no images"):
        load_dataset("folder", tmp_path / "ds")


def test_count_mismatch_and_bad_flags(tmp_path):
    folder_dataset(tmp_path, count=1, frames=4)
    (tmp_path / "seq00" / "img" / "00000004.jpg").unlink()
    with pytest.raises(DatasetError, match=r"groundtruth\.txt: 4 boxes for 3 images"):
        load_dataset("folder", tmp_path)
    lasot_tree(tmp_path / "lasot", names=("cat-1",), frames=4)
    (tmp_path / "lasot" / "cat" / "cat-1" / "out_of_view.txt").write_text("0,0,0\n")
    with pytest.raises(DatasetError, match=r"out_of_view\.txt: 3 labels for 4 frames"):
        load_dataset("lasot", tmp_path / "lasot")


def test_got10k_list_names_a_missing_folder(tmp_path):
    got10k_tree(tmp_path, "val", count=2, frames=3)
    shutil.rmtree(next(p for p in (tmp_path / "val").iterdir() if p.is_dir()))
    with pytest.raises(DatasetError, match=r"list\.txt: names 'GOT-10k_Val_000001'"):
        load_dataset("got10k-val", tmp_path)


def test_unknown_dataset_and_root(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'vot'"):
        load_dataset("vot", tmp_path)
    with pytest.raises(DatasetError, match="dataset root not found"):
        load_dataset("lasot", tmp_path / "nope")


def test_procedural_renders_with_scikit_image_or_says_what_is_missing(tmp_path):
    try:
        import skimage  # noqa: F401
    except ImportError:
        with pytest.raises(DatasetError, match="scikit-image"):
            load_dataset("procedural", tmp_path / "proc")
        return
    ds = load_dataset("procedural", tmp_path / "proc", num_sequences=2, length=4)
    assert len(ds) == 2 and all(s.annotated for s in ds.sequences)
    # a second load reads the rendered tree without rendering again
    again = load_dataset("procedural", tmp_path / "proc", num_sequences=2, length=4)
    assert [s.name for s in again.sequences] == [s.name for s in ds.sequences]


def test_a_procedural_root_holds_the_set_a_run_asks_for(tmp_path):
    """After a run on 2 sequences, a run on 3 of the same set gets 3 (the first two unchanged,
    the third rendered), one on 1 gets the first; another length or seed is refused with what
    the root holds, never evaluated silently on the wrong set."""
    pytest.importorskip("skimage", reason="the procedural set renders scikit-image's sample photographs")
    root = tmp_path / "proc"
    first = load_dataset("procedural", root, num_sequences=2, length=4)
    stamp = (root / first.sequences[0].name / "groundtruth.txt").stat().st_mtime_ns
    more = load_dataset("procedural", root, num_sequences=3, length=4)
    assert [s.name for s in more.sequences[:2]] == [s.name for s in first.sequences] and len(more) == 3
    assert (root / first.sequences[0].name / "groundtruth.txt").stat().st_mtime_ns == stamp
    assert json.loads((root / "procedural.json").read_text())["count"] == 3
    assert [s.name for s in load_dataset("procedural", root, num_sequences=1, length=4).sequences] == [first.sequences[0].name]
    with pytest.raises(DatasetError, match=r"holds 3 sequences of 4 frames .*seed 0.*, not 8 sequences of 100 frames"):
        load_dataset("procedural", root)
    with pytest.raises(DatasetError, match="seed 1"):
        load_dataset("procedural", root, num_sequences=2, length=4, seed=1)


def test_a_folder_that_is_not_a_procedural_root_is_refused(tmp_path):
    (tmp_path / "mine" / "seq").mkdir(parents=True)
    with pytest.raises(DatasetError, match=r"mine: not empty and not a procedural evaluation root .*--dataset folder"):
        load_dataset("procedural", tmp_path / "mine")


def _render_in_a_process(root: Path, count: int, length: int) -> subprocess.Popen:
    code = f"from asymtrack_deploy.datasets import procedural_root; procedural_root({str(root)!r}, {count}, length={length})"
    return subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2])


def _frames_written(root: Path) -> int:
    return sum(1 for _ in root.glob(".procedural_0_*.partial/img/*.jpg")) if root.is_dir() else 0


def test_a_render_killed_midway_is_finished_by_the_next_run(tmp_path):
    """Issue 24, defect 3: a kill while the procedural root was first rendered left half a
    sequence and no procedural.json, and every later run refused the root."""
    pytest.importorskip("skimage", reason="the procedural set renders scikit-image's sample photographs")
    root = tmp_path / "proc"
    process = _render_in_a_process(root, count=2, length=40)
    try:
        deadline = time.monotonic() + 300
        while _frames_written(root) < 3 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.poll() is None, "the render ended before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
    assert not (root / "procedural_0_00000").exists()  # the half-rendered sequence is not under its name
    data = load_dataset("procedural", root, num_sequences=2, length=40)  # finishes instead of refusing
    assert [len(s.boxes) for s in data.sequences] == [40, 40]
    assert sorted(p.name for p in root.iterdir()) == ["procedural.json", "procedural_0_00000", "procedural_0_00001"]
    fresh = load_dataset("procedural", tmp_path / "fresh", num_sequences=2, length=40)
    for a, b in zip(data.sequences, fresh.sequences):
        assert (root / a.name / "groundtruth.txt").read_text() == (tmp_path / "fresh" / b.name / "groundtruth.txt").read_text()


def test_a_root_left_by_an_older_render_without_its_record_is_finished(tmp_path):
    """What a kill left before rendering was staged: this set's sequence folders, the last one
    partial (no sequence.json, frames missing), no procedural.json."""
    pytest.importorskip("skimage", reason="the procedural set renders scikit-image's sample photographs")
    from asymtrack_deploy.datasets import render_sequences

    root = tmp_path / "proc"
    whole, partial = render_sequences(root, 2, length=4)
    stamp = (whole / "groundtruth.txt").stat().st_mtime_ns
    (partial / "sequence.json").unlink()
    (partial / "groundtruth.txt").unlink()
    (partial / "img" / "00000004.jpg").write_bytes(b"\xff\xd8 half a JPEG")
    data = load_dataset("procedural", root, num_sequences=3, length=4)
    assert len(data) == 3 and all(len(s.boxes) == 4 for s in data.sequences)
    assert (whole / "groundtruth.txt").stat().st_mtime_ns == stamp  # the complete one is kept
    assert cv2.imread(str(partial / "img" / "00000004.jpg")) is not None
    assert json.loads((root / "procedural.json").read_text())["count"] == 3
