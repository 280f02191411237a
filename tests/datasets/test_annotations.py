"""The shared parsing of annotation files: one message per kind of malformed line, whichever
benchmark the file belongs to, and an error that survives being sent between processes."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from asymtrack_deploy.datasets import DatasetError, FrameFiles, image_files, read_boxes, read_flags, read_visibility


def _write(path, text):
    path.write_text(text)
    return path


def test_boxes_accept_commas_tabs_and_spaces(tmp_path):
    gt = _write(tmp_path / "gt.txt", "1,2,3,4\n5\t6\t7\t8\n9 10 11 12\n\n")
    boxes = read_boxes(gt)
    assert boxes.dtype == np.float64
    np.testing.assert_array_equal(boxes, np.arange(1, 13).reshape(3, 4))


@pytest.mark.parametrize(
    "text, message",
    [
        ("1,2,3,4\n1,2,3\n", r"gt\.txt:2: expected 4 numbers \(x, y, w, h\), got 3: '1,2,3'"),
        ("1,2,3,4\n1,x,3,4\n", r"gt\.txt:2: expected 4 numbers \(x, y, w, h\), got '1,x,3,4'"),
        ("1,2,3,4\n\n1,2,3,4\n", r"gt\.txt:2: blank line inside the ground truth"),
        ("1,2,3,4\nnan,2,3,4\n", r"gt\.txt:2: NaN box \(this dataset annotates every frame\)"),
        ("\n\n", r"gt\.txt: empty ground-truth file"),
    ],
)
def test_malformed_boxes_name_file_and_line(tmp_path, text, message):
    with pytest.raises(DatasetError, match=message):
        read_boxes(_write(tmp_path / "gt.txt", text))


def test_nan_rows_where_allowed_and_missing_or_binary_files(tmp_path):
    boxes = read_boxes(_write(tmp_path / "gt.txt", "1,2,3,4\nNaN,NaN,NaN,NaN\n"), allow_nan=True)
    assert np.isnan(boxes[1]).all()
    with pytest.raises(DatasetError, match=r"nope\.txt: ground-truth file not found"):
        read_boxes(tmp_path / "nope.txt")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe1,2,3,4")
    with pytest.raises(DatasetError, match=r"bin\.txt: not a text file"):
        read_boxes(tmp_path / "bin.txt")


def test_flags_per_line_or_on_one_line_in_range_and_counted(tmp_path):
    np.testing.assert_array_equal(read_flags(_write(tmp_path / "a.label", "0\n1\n0\n"), 3, 0, 1), [0, 1, 0])
    np.testing.assert_array_equal(read_flags(_write(tmp_path / "b.txt", "0,1,0\n"), 3, 0, 1), [0, 1, 0])
    with pytest.raises(DatasetError, match=r"c\.label:2: expected an integer in \[0, 8\], got 9"):
        read_flags(_write(tmp_path / "c.label", "8\n9\n"), 2, 0, 8)
    with pytest.raises(DatasetError, match=r"d\.txt: 2 labels for 3 frames"):
        read_flags(_write(tmp_path / "d.txt", "0,0"), 3, 0, 1)


def test_visibility_combines_every_flag_file_a_folder_has(tmp_path):
    assert read_visibility(tmp_path, 4) is None
    _write(tmp_path / "absence.label", "0\n1\n0\n0\n")
    _write(tmp_path / "cover.label", "8\n8\n0\n3\n")
    np.testing.assert_array_equal(read_visibility(tmp_path, 4), [True, False, False, True])
    _write(tmp_path / "out_of_view.txt", "0,0,0,0")
    with pytest.raises(DatasetError, match=r"full_occlusion\.txt: missing \(LaSOT-style flags come as a pair\)"):
        read_visibility(tmp_path, 4)


def test_error_keeps_file_and_line_and_survives_pickling(tmp_path):
    error = DatasetError(tmp_path / "gt.txt", "bad", 3)
    assert (error.path, error.line, str(error)) == (str(tmp_path / "gt.txt"), 3, f"{tmp_path / 'gt.txt'}:3: bad")
    assert str(pickle.loads(pickle.dumps(error))) == str(error)
    assert isinstance(error, ValueError)


def test_frame_files_index_and_slice_like_a_tuple(tmp_path):
    files = FrameFiles(tmp_path, 12, first=0, digits=0)
    assert len(files) == 12 and files[0].name == "0.jpg" and files[-1].name == "11.jpg"
    assert [p.name for p in files[9:]] == ["9.jpg", "10.jpg", "11.jpg"] and list(files)[3] == files[3]
    with pytest.raises(IndexError):
        files[12]


def test_images_are_listed_in_frame_order(tmp_path):
    for name in ("10.jpg", "2.jpg", "1.png", "notes.txt", "cover.jpg"):
        _write(tmp_path / name, "")
    assert [p.name for p in image_files(tmp_path)] == ["1.png", "2.jpg", "10.jpg", "cover.jpg"]
    with pytest.raises(DatasetError, match=r"nope: image folder not found"):
        image_files(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"empty: no images \(\.jpg"):
        image_files(tmp_path / "empty")
