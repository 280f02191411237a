"""README.md keeps its promises: the blocks it marks with a ``tests/test_readme.py`` comment run as
written, on the built-in data: the Python snippets after their visible set-up block (``sh``: a
bundle and two frames) in a folder holding an official-format checkpoint (the reference
vectors' random-weight tiny checkpoint) as ``AsymTrack_T.pth.tar`` and
``weights/AsymTrack_T.pth.tar``; the CI excerpt; and every line of the C quick start (``bash``)
in a folder with a copy of ``runtime-c/`` and nothing else."""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from asymtrack_deploy.datasets import image_files
from asymtrack_deploy.sources import BUILTIN_DIR
from tests.conftest import reference_checkpoint

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- tests/test_readme.py runs"
CHECKPOINT = "AsymTrack_T.pth.tar"


def marked_blocks() -> list[tuple[int, str, str]]:
    """(line number, language, code) of each fenced block right after a marker comment."""
    lines = (ROOT / "README.md").read_text().splitlines()
    blocks = []
    for i, line in enumerate(lines):
        if line.startswith(MARKER):
            fence = lines[i + 1]
            assert fence.startswith("```"), f"README.md:{i + 2}: a marker must sit right above a fenced block"
            end = lines.index("```", i + 2)
            blocks.append((i + 3, fence[3:].strip(), "\n".join(lines[i + 2 : end])))
    return blocks


PYTHON = [(line, code) for line, lang, code in marked_blocks() if lang == "python"]
CI = [code for _, lang, code in marked_blocks() if lang == "yaml"]
SHELL = [code for _, lang, code in marked_blocks() if lang == "bash"]  # the C quick start
SETUP = [code for _, lang, code in marked_blocks() if lang == "sh"]  # the Python snippets' set-up


def test_the_readme_marks_its_snippets_and_the_ci_excerpt():
    assert len(PYTHON) >= 2 and len(CI) == 1 and len(SHELL) == 1 and len(SETUP) == 1


def _shell_env() -> dict:
    """This Python's bin folder first (asymtrack-deploy, python), and this checkout importable."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


@pytest.mark.slow
def test_c_quick_start_runs_as_written_and_both_trackers_give_the_same_boxes(tmp_path):
    """Every line of the README's C section, from a fresh clone's point of view (a folder with
    runtime-c/ and nothing built or exported), then the two box files compared."""
    from tests.c.conftest import openvino_cmake_dir, require_toolchain

    require_toolchain()
    openvino_cmake_dir()
    shutil.copytree(ROOT / "runtime-c", tmp_path / "runtime-c", ignore=shutil.ignore_patterns("build*"))
    said = _run_shell_block(tmp_path, SHELL[0])
    c_boxes = [[float(v) for v in line.split(",")] for line in (tmp_path / "boxes-c.txt").read_text().splitlines()]
    python_boxes = [[float(v) for v in line.split(",")] for line in (tmp_path / "boxes-python.txt").read_text().splitlines()]
    assert len(c_boxes) == len(python_boxes) == len(image_files(BUILTIN_DIR / "vtest"))
    assert "no --checkpoint: exporting the demo weights" in said
    if "JPEG decoder: libjpeg" not in said:
        pytest.skip("runtime-c built without libjpeg (apt-get install libjpeg-dev): its JPEG pixels differ from OpenCV's")
    worst = max(abs(c - p) for c_row, p_row in zip(c_boxes, python_boxes) for c, p in zip(c_row[:4], p_row))
    assert worst <= 0.005 + 0.001, worst  # the Python file has 2 decimals


@pytest.fixture(scope="module")
def ci_run(tmp_path_factory):
    """The CI excerpt's commands, run in a folder with weights/AsymTrack_T.pth.tar (pip aside:
    the package is installed; its extras are checked below)."""
    folder = tmp_path_factory.mktemp("readme")
    (folder / "weights").mkdir()
    shutil.copy(reference_checkpoint("tiny"), folder / "weights" / CHECKPOINT)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    runs = []
    for command in _run_lines(CI[0]):
        if command.startswith("pip install"):
            continue
        runs.append(subprocess.run(["bash", "-c", command], cwd=folder, env=env, capture_output=True, text=True,
                                   timeout=900))
        assert runs[-1].returncode == 0, f"{command}\n{runs[-1].stderr}"
    return folder, runs


def _run_lines(yaml_text: str) -> list[str]:
    return [line.split("- run:", 1)[1].strip() for line in yaml_text.splitlines() if line.startswith("- run:")]


def test_ci_excerpt_installs_extras_that_exist():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    pip = [c for c in _run_lines(CI[0]) if c.startswith("pip install")]
    assert pip, "the CI excerpt installs the package"
    for command in pip:
        requirement = shlex.split(command)[-1]
        named = re.fullmatch(r"asymtrack-deploy\[([\w,-]+)\]", requirement)
        assert named and set(named[1].split(",")) <= set(extras), requirement


@pytest.mark.slow
def test_ci_excerpt_exports_and_passes_parity(ci_run):
    folder, runs = ci_run
    report = json.loads((folder / "parity.json").read_text())
    assert report["passed"] and report["frames"] == len(image_files(BUILTIN_DIR / "vtest"))
    assert "parity: frames, teacher-forced and free-running" in runs[-1].stderr  # a log line per stage


def _run_shell_block(folder: Path, block: str) -> str:
    """Each command line of a shell block, in ``folder``; their stderr."""
    said = ""
    for command in [line for line in block.splitlines() if line.strip() and not line.startswith("#")]:
        done = subprocess.run(["bash", "-c", command], cwd=folder, env=_shell_env(), capture_output=True, text=True,
                              timeout=1200)
        assert done.returncode == 0, f"{command}\n{done.stderr[-3000:]}"
        said += done.stderr
    return said


@pytest.fixture(scope="module")
def snippet_folder(ci_run):
    """The README's visible set-up commands run in the CI run's folder, and the official-format
    checkpoint the set-up text asks for."""
    folder, _ = ci_run
    _run_shell_block(folder, SETUP[0])
    assert (folder / "out" / "tiny-onnx" / "manifest.json").is_file()
    assert all((folder / f"frame{index}.jpg").is_file() for index in range(2))
    shutil.copy(folder / "weights" / CHECKPOINT, folder / CHECKPOINT)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("line, code", PYTHON, ids=[f"README.md:{line}" for line, _ in PYTHON])
def test_python_snippet_runs_as_written(snippet_folder, line, code, monkeypatch, capsys):
    monkeypatch.chdir(snippet_folder)
    namespace: dict = {"__name__": "__readme__"}
    exec(compile(code, f"README.md:{line}", "exec"), namespace)
    if "tracker" in namespace:  # the Python API: a box and a score for the second frame
        result = namespace["result"]
        assert len(result.box) == 4 and 0.0 <= result.score <= 1.0
    else:  # the PyTorch side: a normalised box and the printed box in the frame
        assert tuple(namespace["pred"].shape) == (1, 4)
        printed = capsys.readouterr().out
        assert re.match(r"\[[-\d.e, ]+\] [\d.]+", printed), printed
