"""benchmarks/gpu.sh, the one prepared call for the GPU machine, run here in its dry-run mode
(CPU, small counts, GPU tests collected and skipped), and the RESULTS.md GPU section made from
what it writes. A dry run's figures are CPU figures: make_results refuses them by default."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from gpu_report import target_rows  # noqa: E402


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    env = {**os.environ, "OUT": str(out), "PYTHON": sys.executable}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu.sh"), "--dry-run"], env=env,
                          capture_output=True, text=True, timeout=1500)
    return out, done


@pytest.mark.slow
def test_dry_run_passes_and_fits_what_the_device_tool_returns(dry_run):
    out, done = dry_run
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    files = sorted(p.name for p in out.iterdir())
    assert files == ["bench-cpu-streams4.json", "bench-cpu-streams4.png", "bench-cpu.json", "bench-cpu.png",
                     "gpu-run.json", "gpu-run.log", "profile.json"]  # at most 8 come back, none in folders
    run = json.loads((out / "gpu-run.json").read_text())
    assert run["mode"] == "dry" and [s["name"] for s in run["steps"]] == [
        "install", "versions", "tests", "bench", "bench_streams", "profile"]
    assert all(s["rc"] == 0 for s in run["steps"])
    tests = run["tests"]
    assert tests["passed"] == tests["failed"] == 0 and tests["skipped"] >= 13  # collected, skipped without CUDA
    assert any("needs a CUDA device" in r for r in tests["skip_reasons"])
    assert "== summary (dry mode)" in done.stdout


@pytest.mark.slow
def test_gpu_section_from_the_dry_run(dry_run, tmp_path):
    out, _ = dry_run
    make = [sys.executable, str(ROOT / "benchmarks" / "make_results.py"), str(out / "gpu-run.json"), "-o", str(tmp_path / "R.md")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    refused = subprocess.run(make, env=env, capture_output=True, text=True)
    assert refused.returncode != 0 and "dry run" in refused.stderr and not (tmp_path / "R.md").exists()
    subprocess.run(make + ["--allow-dry-run"], env=env, check=True, capture_output=True)
    text = (tmp_path / "R.md").read_text()
    assert "## DRY RUN on CPU" in text and "## GPU:" not in text
    for part in ("Tests marked `gpu`", "### One target", "### 4 targets", "official PyTorch (eager) (baseline)",
                 "### Issue 16 targets", "| best row: search p50 | < 0.5 ms |", "--streams 4: target-frames per second",
                 "### Profile", "### Not run", "torch fp16: CUDA only"):
        assert part in text, part


def _row(label, p50, fps, speedup, baseline=False):
    return {"label": label, "precision": "fp16", "baseline": baseline, "search": {"p50": p50}, "fps": fps,
            "speedup_search_p50": speedup, "streams": 1}


def test_targets_read_off_the_best_row():
    single = {"rows": [_row("base", 8.0, 120.0, 1.0, baseline=True), _row("slow", 1.0, 700.0, 8.0), _row("fast", 0.4, 1500.0, 20.0)]}
    streams = {"settings": {"streams": 32}, "rows": [_row("base", 90.0, 300.0, 1.0, baseline=True), _row("g", 3.0, 9000.0, 30.0)]}
    rows = {target: (measured, status) for target, _, measured, status in target_rows(single, streams)}
    assert rows["best row: search p50"] == ("0.400 ms (fast fp16)", "met")
    assert rows["best row: search speed-up over the eager baseline"] == ("20.0x (fast fp16)", "met")
    assert rows["--streams 32: target-frames per second"] == ("9000 (g fp16)", "**missed**")
