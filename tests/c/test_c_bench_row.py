"""The C tracker's row in ``bench``: measured in the same interleaved rounds as the Python rows,
its update time and the graph's share of it as the C library's own clock reports them."""
from __future__ import annotations

import json

from typer.testing import CliRunner

from asymtrack_deploy.bench.plan import plan_rows
from asymtrack_deploy.cli.main import app

runner = CliRunner()


def test_bench_measures_the_c_tracker_beside_the_python_one(c_build, tmp_path):
    out_json = tmp_path / "run.json"
    result = runner.invoke(app, ["bench", "--backends", "openvino", "--precisions", "fp32", "--frames", "6",
                                 "--warmup", "1", "--rounds", "2", "--threads", "1", "--cache-dir", str(tmp_path / "cache"),
                                 "--c-library", str(c_build.library), "--json", str(out_json)])
    assert result.exit_code == 0, result.output
    baseline, python, c = json.loads(out_json.read_text())["rows"]
    assert "error" not in c, c["error"]
    assert (python["backend"], c["backend"], c["label"]) == ("openvino", "c-openvino", "C library (openvino)")
    assert c["bundle"] == python["bundle"] and c["precision"] == "fp32" and c["executes"] == "f32"
    assert c["runtime"].startswith("C library ") and c["parity_passed"] is True
    assert all(len(c["raw_ns"][k]) == 6 for k in ("search", "e2e", "outside"))
    assert all(0 < graph < total for graph, total in zip(c["raw_ns"]["search"], c["raw_ns"]["e2e"]))
    assert c["fps"] > 0 and c["speedup_fps"] is not None and len(c["rounds"]) == 2
    assert "C library (openvino)" in result.output


def test_without_the_library_the_c_rows_are_skipped_saying_how_to_build_it(tmp_path):
    folder = tmp_path / "bundle"
    plan = plan_rows("tiny", ["openvino"], ["fp32"], "cpu", None, None, 1, lambda *_: folder)
    assert [r.backend for r in plan.rows] == ["torch-official", "openvino"]
    assert any(note.startswith("C library: not built") for note in plan.skipped)
    with_library = plan_rows("tiny", ["openvino"], ["fp32", "int8"], "cpu", None, 2, 1, lambda *_: folder,
                             c_library=tmp_path / "libasymtrack.so")
    c_rows = [r for r in with_library.rows if r.backend == "c-openvino"]
    assert [(r.precision, r.options["threads"]) for r in c_rows] == [("fp32", 2), ("int8", 2)]
