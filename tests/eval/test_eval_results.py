"""Result records and the submission layouts each benchmark server expects."""
from __future__ import annotations

import zipfile

import numpy as np
import pytest

from asymtrack_deploy.eval.results import (
    SequenceRecord,
    read_record,
    record_exists,
    write_got10k_submission,
    write_lasot_results,
    write_record,
    write_trackingnet_submission,
)


def _record(n: int = 3, offset: float = 0.0) -> SequenceRecord:
    boxes = np.arange(n * 4, dtype=float).reshape(n, 4) + offset + 0.125
    return SequenceRecord(boxes, np.full(n, 0.01), np.linspace(1, 0.5, n))


def test_record_round_trip_and_completion_marker(tmp_path):
    rec = _record()
    assert not record_exists(tmp_path, "a")
    write_record(tmp_path, "a", rec)
    assert record_exists(tmp_path, "a")
    back = read_record(tmp_path, "a")
    np.testing.assert_allclose(back.boxes, rec.boxes)
    np.testing.assert_allclose(back.times, rec.times)
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*"))
    (tmp_path / "a.txt").unlink()  # a record without its boxes file is unfinished
    assert not record_exists(tmp_path, "a")


def test_record_errors(tmp_path):
    with pytest.raises(ValueError, match="3 boxes, 2 times"):
        SequenceRecord(np.zeros((3, 4)), np.zeros(2), np.zeros(3))
    write_record(tmp_path, "b", _record())
    (tmp_path / "b.txt").write_text("1,2,3\n")
    with pytest.raises(ValueError, match=r"b\.txt: expected 4 comma-separated values"):
        read_record(tmp_path, "b")


def test_got10k_submission_layout(tmp_path):
    records = {"GOT-10k_Test_000001": _record(), "GOT-10k_Test_000002": _record(2, 5)}
    zip_path = write_got10k_submission(records, tmp_path / "sub", tmp_path / "ours.zip")
    with zipfile.ZipFile(zip_path) as zf:
        names = sorted(zf.namelist())
        assert names == sorted(f"{s}/{s}_{kind}.txt" for s in records for kind in ("001", "time"))
        lines = zf.read("GOT-10k_Test_000001/GOT-10k_Test_000001_001.txt").decode().splitlines()
        assert lines[0] == "0.1250,1.1250,2.1250,3.1250" and len(lines) == 3
        assert zf.read("GOT-10k_Test_000002/GOT-10k_Test_000002_time.txt").decode().splitlines() == ["0.01000000"] * 2


def test_trackingnet_submission_is_flat(tmp_path):
    zip_path = write_trackingnet_submission({"seqB": _record(), "seqA": _record(1)}, tmp_path / "tn.zip")
    with zipfile.ZipFile(zip_path) as zf:
        assert zf.namelist() == ["seqA.txt", "seqB.txt"]
        assert zf.read("seqA.txt").decode() == "0.1250,1.1250,2.1250,3.1250\n"
    assert not (tmp_path / "tn.zip.tmp").exists()


def test_lasot_results_layout(tmp_path):
    folder = write_lasot_results({"cat-1": _record()}, tmp_path / "res")
    assert sorted(p.name for p in folder.iterdir()) == ["cat-1.txt", "cat-1_time.txt"]
    boxes = np.loadtxt(folder / "cat-1.txt", delimiter=",")
    assert boxes.shape == (3, 4)
