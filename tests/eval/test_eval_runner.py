"""The runner: sequential and parallel runs agree, a killed run resumes to the same summary,
a failing sequence is named."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from asymtrack_deploy.eval import TrackerSpec, load_dataset, run_dataset
from asymtrack_deploy.eval.report import compare

from eval_fixtures import BlobSpec, folder_dataset

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def _metrics(summary: dict) -> dict:
    """The accuracy part of a summary (speed differs from run to run)."""
    per_seq = {n: {k: v for k, v in s.items() if k in ("AUC", "AO", "avg_overlap")} for n, s in summary["per_sequence"].items()}
    return {"metrics": summary["metrics"], "per_sequence": per_seq}


def test_track_and_evaluate_folder(tmp_path):
    folder_dataset(tmp_path / "data", count=2, frames=6)
    ds = load_dataset("folder", tmp_path / "data")
    result = run_dataset(ds, BlobSpec(), tmp_path / "out")
    assert result.ran == ["seq00", "seq01"]
    summary = json.loads((result.folder / "summary.json").read_text())
    assert summary["metrics"]["pytracking"]["AUC"] > 60  # the blob tracker follows the target
    assert summary["speed"]["frames"] == 12 and summary["speed"]["fps"] > 0
    assert (result.folder / "success.png").stat().st_size > 1000
    assert sorted(p.name for p in (result.folder / "results").glob("*.txt"))[:2] == ["seq00.txt", "seq00_time.txt"]
    again = run_dataset(ds, BlobSpec(), tmp_path / "out")
    assert again.ran == [] and _metrics(again.summary) == _metrics(result.summary)


def test_parallel_workers_give_the_same_metrics(tmp_path):
    folder_dataset(tmp_path / "data", count=3, frames=5)
    ds = load_dataset("folder", tmp_path / "data")
    inline = run_dataset(ds, BlobSpec(label="one"), tmp_path / "out")
    parallel = run_dataset(ds, BlobSpec(label="two"), tmp_path / "out", workers=2)
    assert sorted(parallel.ran) == ["seq00", "seq01", "seq02"]
    assert _metrics(parallel.summary) == _metrics(inline.summary)
    rows = compare([inline.summary, parallel.summary])
    assert rows[0]["metric"] == "AUC" and all(r["diff"][1] == 0 for r in rows if r["metric"] != "FPS")


_SCRIPT = """
import sys
sys.path[:0] = [{here!r}, {repo!r}]
from eval_fixtures import BlobSpec
from asymtrack_deploy.eval import TrackerSpec, load_dataset, run_dataset

if __name__ == "__main__":
    run_dataset(load_dataset("folder", {data!r}), BlobSpec(delay={delay}), {out!r}, workers=2)
"""


def test_killed_run_resumes_to_the_same_summary(tmp_path):
    folder_dataset(tmp_path / "data", count=6, frames=6)
    ds = load_dataset("folder", tmp_path / "data")
    reference = run_dataset(ds, BlobSpec(), tmp_path / "uninterrupted")

    script = tmp_path / "run.py"
    script.write_text(_SCRIPT.format(here=str(HERE), repo=str(REPO), data=str(tmp_path / "data"),
                                     delay=0.15, out=str(tmp_path / "out")))
    raw = tmp_path / "out" / "folder" / "blob" / "raw"
    proc = subprocess.Popen([sys.executable, str(script)], start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not list(raw.glob("seq*[0-9].txt")):
            assert proc.poll() is None, "the run ended before it could be interrupted"
            assert time.monotonic() < deadline, "no sequence finished in time"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the run and its two worker processes
        proc.wait()
    done = sorted(p.stem for p in raw.glob("seq*[0-9].txt"))
    assert 1 <= len(done) < 6, done
    resumed = run_dataset(ds, BlobSpec(), tmp_path / "out")
    assert set(resumed.ran) == {s.name for s in ds.sequences} - set(done)
    assert _metrics(resumed.summary) == _metrics(reference.summary)


def test_a_failing_sequence_is_named(tmp_path):
    folder_dataset(tmp_path / "data", count=2, frames=4)
    (tmp_path / "data" / "seq01" / "img" / "00000003.jpg").write_bytes(b"not a jpeg")
    ds = load_dataset("folder", tmp_path / "data")
    # a bad frame is bad input (a ValueError, exit 2), with one worker or several
    with pytest.raises(ValueError, match=r"sequence seq01: .*00000003\.jpg: not a readable image"):
        run_dataset(ds, BlobSpec(), tmp_path / "out")
    # the finished sequence was kept: a fixed rerun only tracks the failed one
    assert (tmp_path / "out" / "folder" / "blob" / "raw" / "seq00.txt").is_file()


def test_a_worker_that_cannot_build_its_tracker_says_why(tmp_path):
    folder_dataset(tmp_path / "data", count=2, frames=3)
    ds = load_dataset("folder", tmp_path / "data")
    with pytest.raises(ValueError, match="building the tracker failed: .*no_such_bundle"):
        run_dataset(ds, TrackerSpec("bad", bundle=str(tmp_path / "no_such_bundle")), tmp_path / "out", workers=2)


def test_submission_only_dataset(tmp_path):
    from eval_fixtures import trackingnet_tree

    trackingnet_tree(tmp_path / "tn", count=2, frames=4)
    result = run_dataset(load_dataset("trackingnet", tmp_path / "tn"), BlobSpec(), tmp_path / "out")
    assert result.summary["metrics"] == {} and Path(result.files["submission"]).name == "blob_trackingnet.zip"
    assert "plot" not in result.files and np.isfinite(result.summary["speed"]["fps"])
