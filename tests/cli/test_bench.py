"""`asymtrack-deploy bench` on the ONNX Runtime backend: JSON fields, chart, results page."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from asymtrack_deploy.cli.main import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def _fake_host(monkeypatch, load1: float, others_share: float):
    """A host reading that grows by one second per call: ``others_share`` of both cores used by
    processes other than bench's, at a 1-minute load average of ``load1``."""
    from asymtrack_deploy.bench import host

    clock = iter(range(10**6))

    def sample(pid=None):
        t = float(next(clock))
        return host.HostSample(load1, busy_s=2 * t * others_share, own_s=0.0, steal_s=0.0, total_s=2 * t)

    monkeypatch.setattr(host, "sample_host", sample)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)


def test_bench_onnxruntime_json_plot_and_results_page(tmp_path, monkeypatch):
    _fake_host(monkeypatch, load1=0.1, others_share=0.0)  # a quiet host: no warning
    out_json, plot = tmp_path / "run.json", tmp_path / "fps.png"
    args = ["bench", "--backends", "onnxruntime", "--precisions", "fp32", "--frames", "5", "--warmup", "1",
            "--cache-dir", str(tmp_path / "cache"), "--json", str(out_json), "--plot", str(plot)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "baseline" in result.output and "onnxruntime" in result.output
    # not a terminal: a line per row as it loads and warms up, then per row and round with the time left
    assert "onnxruntime fp32: warming up" in result.stderr and "onnxruntime fp32: ready" in result.stderr
    assert "bench: measuring rows in 5 interleaved rounds 10/10 round 5/5" in result.stderr and " s left" in result.stderr
    assert "WARNING" not in result.output and "too busy" not in result.output
    run = json.loads(out_json.read_text())
    assert run["host"]["busy"] is False and run["host"]["reasons"] == [] and run["host"]["cores"] == 2
    assert run["host"]["load_before"] == 0.1 and run["host"]["others_cpu_pct"] == 0.0
    assert {"machine", "settings", "rows", "skipped"} <= set(run)
    assert run["machine"]["logical_cpus"] >= 1 and "onnxruntime" in run["machine"]["versions"]
    assert "isa" in run["machine"] and "steal_pct" in run["machine"] and run["settings"]["rounds"] == 5
    baseline, ort = run["rows"]
    assert baseline["baseline"] and baseline["speedup_search_p50"] == 1.0 and baseline["speedup_search_p50_rounds"] == [1.0] * 5
    assert ort["backend"] == "onnxruntime" and ort["precision"] == "fp32" and ort["parity_passed"] is True
    assert ort["executes"] == "f32"
    for row in (baseline, ort):
        for key in ("template", "search", "e2e", "outside"):
            assert {"mean", "p50", "p90", "p99"} <= set(row[key])
        assert all(len(row["raw_ns"][k]) == 5 for k in ("search", "e2e", "outside"))
        assert all(0 < out < total for out, total in zip(row["raw_ns"]["outside"], row["raw_ns"]["e2e"]))
        assert row["fps"] > 0 and row["peak_rss_mb"] > 0 and row["steal_pct"] is not None
        assert [(r["round"], r["frames"]) for r in row["rounds"]] == [(r, 1) for r in range(5)]
    assert [r["position"] for r in ort["rounds"]] == [1, 0, 1, 0, 1]  # two rows, order rotated each round
    assert ort["files_mb"] > 1 and ort["speedup_search_p50"] > 0 and len(ort["speedup_fps_rounds"]) == 5
    low, high = ort["speedup_search_p50_range"]
    assert low <= ort["speedup_search_p50"] <= high
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    results = tmp_path / "RESULTS.md"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_results.py"), str(out_json), "-o", str(results)],
                   check=True, capture_output=True, env=env)
    text = results.read_text()
    assert "| onnxruntime | fp32 |" in text and "official PyTorch (eager) (baseline)" in text
    assert "outside graph p50 ms" in text and "5 interleaved rounds" in text
    assert (tmp_path / "run.png").is_file()


def test_bench_rejects_unknown_backend():
    result = runner.invoke(app, ["bench", "--backends", "cuda-magic"])
    assert result.exit_code == 2 and "unknown backend" in result.output


def test_bench_streams_reports_aggregate_target_frames(tmp_path, monkeypatch):
    _fake_host(monkeypatch, load1=3.9, others_share=0.6)  # two busy processes beside bench on 2 cores
    out_json = tmp_path / "streams.json"
    args = ["bench", "--backends", "onnxruntime", "--precisions", "fp32", "--frames", "3", "--warmup", "1",
            "--streams", "3", "--cache-dir", str(tmp_path / "cache"), "--json", str(out_json)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    run = json.loads(out_json.read_text())
    baseline, ort = run["rows"]
    assert baseline["streams"] == ort["streams"] == 3 and baseline["speedup_search_p50"] == 1.0
    assert ort["fps"] == 3 * 1000.0 / ort["e2e"]["mean"]  # target-frames per second
    # the busy host: a warning in the table and in the JSON, naming the load, with the evidence
    assert "warning: load average 3.90 on 2 cores before the run" in result.stderr  # said at once, too
    said = " ".join(result.stdout.split())
    assert "host too busy" in said and "WARNING: this host was too busy for the speed-ups to mean anything" in said
    assert "load average 3.90 on 2 cores before the run" in said and "other processes used 60% of the 2 cores" in said
    assert "the baseline's slowest round took" in said
    assert run["host"]["busy"] is True and len(run["host"]["reasons"]) == 2
    assert run["host"]["baseline_round_spread"] >= 1.0


def test_the_default_table_fits_100_columns_and_wide_has_every_column(monkeypatch):
    """The committed idle-machine run (every row, the C tracker's included) rendered at 100
    columns, with a busy-host warning: no line longer than 100 characters."""
    from rich.console import Console

    from asymtrack_deploy.bench.display import COLUMNS
    from asymtrack_deploy.cli import bench

    run = json.loads((ROOT / "benchmarks" / "cpu-2core.json").read_text())
    run["host"] = {"reasons": ["load average 3.90 on 2 cores before the run"], "baseline_round_spread": 1.8}
    for wide in (False, True):
        console = Console(width=250 if wide else 100, record=True, highlight=False, soft_wrap=True)
        monkeypatch.setattr(bench, "out", console)
        bench._render(run, wide)
        text = console.export_text()
        if not wide:
            assert max(len(line) for line in text.splitlines()) <= 100, text
            assert "speed-up" in text and "parity" in text and "p99" not in text
        assert "WARNING: this host was too busy" in " ".join(text.split())
    assert all(header in text for header, _ in COLUMNS)  # --wide: every column


def test_the_precision_cell_says_what_the_runtime_executes_where_it_differs():
    from asymtrack_deploy.bench.display import row_cells

    row = {"label": "openvino", "precision": "int8", "template": {"p50": 1.0}, "search": dict.fromkeys(("mean", "p50", "p90", "p99"), 1.0),
           "fps": 1.0, "executes": "int8+bf16"}
    assert row_cells(row)[1] == "int8 (runs int8+bf16)"
    assert row_cells({**row, "precision": "fp32", "executes": "f32"})[1] == "fp32"
