"""Killed writes are put right by the next one (issue 15, case 7): a kill between the two renames
of a replace left --out missing and the old bundle hidden in a `.old` folder, and every killed
export left a `.partial` folder that nothing removed."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from typer.testing import CliRunner

from asymtrack_deploy.cli.main import app
from asymtrack_deploy.runtimes import load_bundle_backend
from asymtrack_deploy.staged_folder import recover, staged_bundle

ROOT = Path(__file__).resolve().parents[2]


def _killed(code: str, out: Path) -> None:
    """Run ``code`` in a fresh interpreter with ``out`` and ``staging`` defined; it kills itself."""
    head = f"import os, signal, time\nfrom pathlib import Path\nfrom asymtrack_deploy import staged_folder as staging\nout = Path({str(out)!r})\n"
    result = subprocess.run([sys.executable, "-c", head + textwrap.dedent(code)], cwd=ROOT, timeout=60)
    assert result.returncode == -9


def _bundle(path: Path, text: str) -> Path:
    path.mkdir(parents=True)
    (path / "manifest.json").write_text(text)
    return path


def _siblings(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir())


KILLED_BETWEEN_RENAMES = """
    real, calls = os.rename, []
    def rename(a, b):
        calls.append(b)
        if len(calls) == 2:  # out was moved aside; the new bundle is not in place yet
            os.kill(os.getpid(), signal.SIGKILL)
        real(a, b)
    os.rename = rename
    with staging.staged_bundle(out, force=True) as stage:
        (stage / "manifest.json").write_text("new")
"""


def test_a_kill_between_the_two_renames_is_undone_by_the_next_write(tmp_path):
    out = _bundle(tmp_path / "bundle", "old")
    _killed(KILLED_BETWEEN_RENAMES, out)
    assert not out.exists() and any(n.endswith(".old") for n in _siblings(out))
    with pytest.raises(RuntimeError, match="the next export fails"):
        with staged_bundle(out, force=True):
            raise RuntimeError("the next export fails")
    assert (out / "manifest.json").read_text() == "old"  # restored, and kept through a failed export
    assert _siblings(out) == ["bundle"]


def test_a_killed_export_leaves_no_partial_folder_behind_the_next_one(tmp_path):
    out = tmp_path / "bundle"
    _killed("""
        with staging.staged_bundle(out) as stage:
            (stage / "template.onnx").write_bytes(b"half")
            os.kill(os.getpid(), signal.SIGKILL)
    """, out)
    assert any(n.endswith(".partial") for n in _siblings(out))
    with staged_bundle(out) as stage:
        (stage / "manifest.json").write_text("new")
    assert _siblings(out) == ["bundle"]


def test_a_finished_replace_whose_old_folder_was_not_yet_deleted(tmp_path):
    out = _bundle(tmp_path / "bundle", "new")
    _bundle(tmp_path / ".bundle.999999999.abc.old", "old")  # no such process
    assert recover(out) == ["removed .bundle.999999999.abc.old, left by an interrupted write"]
    assert (out / "manifest.json").read_text() == "new" and _siblings(out) == ["bundle"]


def test_folders_of_a_running_process_are_left_alone(tmp_path):
    import os

    live = _bundle(tmp_path / f".bundle.{os.getppid()}.abc.partial", "in progress")  # pytest's parent runs
    assert recover(tmp_path / "bundle") == [] and live.is_dir()


def test_readers_restore_a_bundle_that_an_interrupted_replace_left_aside(bundle_copy, monkeypatch):
    """info --bundle, track and every backend (all through load_bundle) used to say "no such
    bundle folder" while the complete old bundle sat beside it until the next export."""
    out, manifest = bundle_copy, (bundle_copy / "manifest.json").read_bytes()
    _killed(KILLED_BETWEEN_RENAMES, out)
    assert not out.exists()
    result = CliRunner().invoke(app, ["info", "--bundle", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "manifest.json").read_bytes() == manifest
    assert not [n for n in _siblings(out) if n.endswith(".old")]  # a reader restores; removing is the writer's

    _killed(KILLED_BETWEEN_RENAMES, out)
    with pytest.warns(RuntimeWarning, match="restored from .*, where an interrupted export --force had left it"):
        load_bundle_backend(out).close()
    assert (out / "manifest.json").read_bytes() == manifest

    _killed(KILLED_BETWEEN_RENAMES, out)
    old = out.parent / next(n for n in _siblings(out) if n.endswith(".old"))

    def refused(a, b):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("asymtrack_deploy.interrupted_writes.os.rename", refused)
    result = CliRunner().invoke(app, ["info", "--bundle", str(out)])
    assert result.exit_code == 2
    assert (f"no such bundle folder; an interrupted export --force left the previous bundle in {old}, which could "
            f"not be renamed back (Permission denied): mv '{old}' '{out}'") in " ".join(result.output.split())
