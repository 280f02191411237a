"""benchmarks/make_results.py keeps the committed section names of RESULTS.md."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _make_results(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_results.py"), *map(str, args)],
                          cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


def test_a_new_run_keeps_the_committed_section_name_and_the_notes(tmp_path):
    shutil.copy(ROOT / "benchmarks" / "cpu-2core.json", tmp_path / "run.json")  # the README's `--json run.json`
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## cpu-2core\n\nold table\n\n<!-- notes -->\nsee cpu-2core above\n<!-- /notes -->\n")
    done = _make_results(tmp_path / "run.json", "-o", results, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = results.read_text()
    assert "## cpu-2core\n" in text and "## run" not in text and "old table" not in text
    assert "see cpu-2core above" in text and "![FPS per backend](cpu-2core.png)" in text
    assert (tmp_path / "cpu-2core.png").is_file()


def test_without_a_committed_section_the_name_is_the_file_name_or_name(tmp_path):
    shutil.copy(ROOT / "benchmarks" / "cpu-2core.json", tmp_path / "laptop.json")
    results = tmp_path / "RESULTS.md"
    assert _make_results(tmp_path / "laptop.json", "-o", results, cwd=tmp_path).returncode == 0
    assert "## laptop\n" in results.read_text()
    assert _make_results(tmp_path / "laptop.json", "-o", results, "--name", "xeon", cwd=tmp_path).returncode == 0
    assert "## xeon\n" in results.read_text() and "## laptop" not in results.read_text()
    assert _make_results(tmp_path / "laptop.json", "-o", results, "--name", "a", "--name", "b", cwd=tmp_path).returncode != 0
