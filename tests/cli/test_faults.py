"""Commands stopped from outside, in real processes (issue 15, cases 2 and 7): `track` stopped by
SIGINT or SIGTERM keeps every box it made, flushed as it went; `kill -9` of `eval --workers 2`
takes its worker processes and the resource tracker with it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")  # 795 frames: tracking outlasts the test
COMMAND = [sys.executable, "-m", "asymtrack_deploy.cli.main"]


def _wait_for(condition, timeout: float = 120.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.is_file() else []


@pytest.mark.skipif(not VTEST.is_file(), reason="needs vtest.avi from Debian's opencv-doc package")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_track_stopped_by_a_signal_keeps_every_box(tmp_path, sig):
    out = tmp_path / "boxes.txt"
    process = subprocess.Popen([*COMMAND, "track", str(VTEST), "--init", "638,240,50,82", "-o", str(out)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    partial = tmp_path / f".boxes.{process.pid}.partial.txt"  # where the README says the boxes are meanwhile
    try:
        _wait_for(lambda: len(_lines(partial)) >= 3 or process.poll() is not None, what="the first boxes")
        assert process.poll() is None, process.stderr.read()  # still tracking: the boxes came as computed
        assert not out.exists()  # the final name appears when the run ends
        process.send_signal(sig)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    lines = _lines(out)
    assert process.returncode == 0, stderr
    assert f"stopped by {sig.name}: {len(lines)} boxes written to {out}" in " ".join(stderr.split())
    assert 3 <= len(lines) < 795 and lines[0] == "638.00,240.00,50.00,82.00"
    assert all(len(line.split(",")) == 4 for line in lines) and "Traceback" not in stderr
    assert not partial.exists()


@pytest.mark.skipif(not VTEST.is_file(), reason="needs vtest.avi from Debian's opencv-doc package")
def test_track_killed_keeps_the_earlier_output_and_its_own_boxes_beside_it(tmp_path):
    out = tmp_path / "boxes.txt"
    out.write_text("earlier results\n")
    process = subprocess.Popen([*COMMAND, "track", str(VTEST), "--init", "638,240,50,82", "-o", str(out), "--force"],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partial = tmp_path / f".boxes.{process.pid}.partial.txt"
    try:
        _wait_for(lambda: len(_lines(partial)) >= 3 or process.poll() is not None, what="the first boxes")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
    assert out.read_text() == "earlier results\n"
    assert len(_lines(partial)) >= 3 and _lines(partial)[0] == "638.00,240.00,50.00,82.00"


@pytest.mark.skipif(not VTEST.is_file(), reason="needs vtest.avi from Debian's opencv-doc package")
def test_track_to_stdout_streams_each_box(tmp_path):
    process = subprocess.Popen([*COMMAND, "track", str(VTEST), "--init", "638,240,50,82"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = [process.stdout.readline() for _ in range(3)]  # arrive before the run ends (a pipe, not a tty)
        assert process.poll() is None
        process.send_signal(signal.SIGINT)
        rest, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert first[0] == "638.00,240.00,50.00,82.00\n" and all(len(x.split(",")) == 4 for x in rest.splitlines())


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's reaping is left


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_kill_9_of_eval_takes_its_workers_with_it(tmp_path):
    from tests.eval.eval_fixtures import folder_dataset

    folder_dataset(tmp_path / "data", count=6, frames=150)
    process = subprocess.Popen([*COMMAND, "eval", "--dataset", "folder", "--root", str(tmp_path / "data"),
                                "--random-weights", "--workers", "2", "--out", str(tmp_path / "out")],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children: list[int] = []
    try:
        # two workers and the resource tracker; wait until the workers have built their trackers
        _wait_for(lambda: len(_children(process.pid)) >= 3 or process.poll() is not None, what="the workers")
        time.sleep(3.0)
        children = _children(process.pid)
        assert process.poll() is None and len(children) >= 3, children
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        _wait_for(lambda: not any(_alive(pid) for pid in children), timeout=30, what="the workers to exit")
    finally:
        process.kill()
        for pid in filter(_alive, children):  # what a failure left (they were this test's processes)
            os.kill(pid, signal.SIGKILL)
