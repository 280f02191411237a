"""A runtime from another package: ``tests/plugin`` (ONNX Runtime under the name "echo") is
registered the way pip registers it (a dist-info folder holding its pyproject's entry points,
found on the path, as ``importlib.metadata`` reads every installed package), with no edit to
asymtrack-deploy; ``bench`` (one short round), ``export``, ``track``, ``parity`` and ``info`` then
offer it. Its files are exactly the list docs/design.md gives for an out-of-tree runtime."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from asymtrack_deploy.sources import builtin_sequence

pytest.importorskip("onnxruntime")

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "tests" / "plugin"
NAME, PACKAGE = "echo", "asymtrack_echo"


@pytest.fixture(scope="module")
def plugin_paths(tmp_path_factory) -> list[Path]:
    """Where the plugin is found: a site folder with its dist-info, and its package's folder."""
    site = tmp_path_factory.mktemp("plugin_site")
    project = tomllib.loads((PLUGIN / "pyproject.toml").read_text())["project"]
    dist = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    groups = [f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in points.items())
              for group, points in project["entry-points"].items()]
    (dist / "entry_points.txt").write_text("\n".join(groups))
    return [site, PLUGIN]


def cli(paths: list[Path], *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    path = os.pathsep.join([*map(str, paths), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-m", "asymtrack_deploy.cli.main", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": path, "COLUMNS": "200"})
    assert done.returncode == 0, f"{' '.join(map(str, args))}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def plugin_bundle(plugin_paths, tmp_path_factory) -> Path:
    """An echo bundle, exported through the plugin's converter into a bench cache folder, in
    this process with the plugin on the path (export is the slow part; bench then reuses it)."""
    from asymtrack_deploy import catalogue
    from asymtrack_deploy.demo_weights import default_checkpoint
    from asymtrack_deploy.export import cached_bundle

    cache = tmp_path_factory.mktemp("plugin_bench") / "cache"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "path", [*map(str, plugin_paths), *sys.path])
        patch.setattr(catalogue, "_registry", None)  # read again with the plugin; put back afterwards
        return cached_bundle(NAME, "fp32", 1, variant="tiny", checkpoint=default_checkpoint(), cache_dir=cache)


@pytest.fixture(scope="module")
def bench_run(plugin_paths, plugin_bundle) -> tuple[dict, Path]:
    """``bench --backends echo``: one short round over the cached echo bundle."""
    out = plugin_bundle.parent.parent / "run.json"
    cli(plugin_paths, "bench", "--backends", NAME, "--precisions", "fp32", "--frames", "3", "--warmup", "1",
        "--rounds", "1", "--cache-dir", plugin_bundle.parent, "--json", out, timeout=1800)
    assert [p.parent for p in plugin_bundle.parent.glob("*/manifest.json")] == [plugin_bundle]  # reused, not re-exported
    return json.loads(out.read_text()), plugin_bundle


def test_the_registry_reads_the_entry_point(plugin_paths, monkeypatch):
    from asymtrack_deploy import catalogue

    monkeypatch.setattr(sys, "path", [*map(str, plugin_paths), *sys.path])
    monkeypatch.setattr(catalogue, "_registry", None)  # read again, with the plugin on the path
    assert NAME in catalogue.backend_names() and NAME in catalogue.target_names()
    assert catalogue.target_entry(NAME).backend == NAME and catalogue.bench_target(NAME, "fp32") == NAME
    monkeypatch.setattr(catalogue, "_registry", None)


def test_bench_runs_the_plugins_row(bench_run):
    run, bundle = bench_run
    row = next(r for r in run["rows"] if r["backend"] == NAME)
    assert "error" not in row, row.get("error")
    assert row["runtime"].startswith("echo over onnxruntime") and row["parity_passed"] is True
    assert json.loads((bundle / "manifest.json").read_text())["target"] == NAME


def test_track_parity_and_info_run_the_plugins_bundle(plugin_paths, bench_run, tmp_path):
    _, bundle = bench_run
    boxes = tmp_path / "boxes.txt"
    seq = builtin_sequence()
    cli(plugin_paths, "track", seq.folder, "--init", ",".join(map(str, seq.init_box)), "--bundle", bundle,
        "--max-frames", "5", "--output", boxes)
    rows = np.loadtxt(boxes, delimiter=",", ndmin=2)
    assert len(rows) == 5 and np.isfinite(rows).all()
    report = json.loads(cli(plugin_paths, "parity", "--bundle", bundle, "--max-frames", "6", "--json").stdout)
    assert report["passed"] is True and report["frames"] == 6
    assert "echo over onnxruntime" in cli(plugin_paths, "info", "--bundle", bundle, "--json").stdout
    assert re.search(rf"\b{NAME}\b", cli(plugin_paths, "export", "--help").stdout)


def test_the_plugin_is_the_file_list_docs_design_gives():
    """docs/design.md, "Adding a runtime": the out-of-tree table names every file of a plugin."""
    text = (ROOT / "docs" / "design.md").read_text()
    section = text.split("## Adding a runtime", 1)[1].split("\n## ", 1)[0]
    table = section.split("Out of tree", 1)[1]
    listed = {m.replace("<name>", NAME).replace("<package>", PACKAGE)
              for m in re.findall(r"^\| `([^`]+)` \|", table, flags=re.M)}
    present = {str(p.relative_to(PLUGIN)) for p in PLUGIN.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert listed == present
    in_tree = section.split("Out of tree", 1)[0]
    for name in ("onnxruntime", "openvino"):  # the built-in runtimes follow the in-tree list
        for path in re.findall(r"^\| `([^`]+)` \|", in_tree, flags=re.M):
            assert (ROOT / path.replace("<name>", name)).is_file(), path
