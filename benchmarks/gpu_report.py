"""The GPU section of RESULTS.md, from what one run of benchmarks/gpu.sh brought back.

The run's folder holds gpu-run.json (steps, tests, versions, the names of the other files), the
two bench JSONs (1 and N streams) with their charts, and profile.json. Nothing here measures:
every figure is read from those files, and the issue's targets are checked against them.
Plain data in, markdown out; no torch.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from asymtrack_deploy.bench.display import gpu_line, markdown, plot_fps

RUN_KIND = "asymtrack-deploy gpu run"
# issue 16's targets (tiny, one bench run on the GPU, ratios to that run's eager baseline)
TARGET_SEARCH_P50_MS = 0.5
TARGET_SPEEDUP = 10.0
TARGET_FPS = 1000.0
TARGET_STREAM_FPS = 10000.0


def is_gpu_run(data: dict) -> bool:
    return data.get("kind") == RUN_KIND


def load_bench(folder: Path, name: str | None) -> dict | None:
    path = folder / name if name else None
    return json.loads(path.read_text()) if path and path.is_file() else None


def _measured(run: dict | None) -> list[dict]:
    return [r for r in (run or {}).get("rows", []) if "error" not in r and not r.get("baseline")]


def _status(ok: bool) -> str:
    return "met" if ok else "**missed**"


def target_rows(single: dict | None, streams: dict | None) -> list[tuple[str, str, str, str]]:
    """(target, goal, measured, status) for each of the issue's targets the run can answer."""
    rows = []
    candidates = _measured(single)
    if candidates:
        best = min(candidates, key=lambda r: r["search"]["p50"])
        name = f"{best['label']} {best['precision']}"
        p50, speed, fps = best["search"]["p50"], best.get("speedup_search_p50"), best["fps"]
        rows.append(("best row: search p50", f"< {TARGET_SEARCH_P50_MS} ms", f"{p50:.3f} ms ({name})", _status(p50 < TARGET_SEARCH_P50_MS)))
        speed_text = "no baseline" if speed is None else f"{speed:.1f}x ({name})"
        rows.append(("best row: search speed-up over the eager baseline", f">= {TARGET_SPEEDUP:.0f}x", speed_text,
                     _status(speed is not None and speed >= TARGET_SPEEDUP)))
        rows.append(("best row: tracker FPS (crop and map-back included)", f">= {TARGET_FPS:.0f}", f"{fps:.0f} ({name})",
                     _status(fps >= TARGET_FPS)))
    many = _measured(streams)
    if many:
        top = max(many, key=lambda r: r["fps"])
        n = streams["settings"].get("streams", 1)
        rows.append((f"--streams {n}: target-frames per second", f">= {TARGET_STREAM_FPS:.0f}",
                     f"{top['fps']:.0f} ({top['label']} {top['precision']})", _status(top["fps"] >= TARGET_STREAM_FPS)))
    return rows


def _table(header: tuple[str, ...], rows) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def _tests_line(tests: dict | None) -> str:
    if not tests:
        return "Tests marked `gpu`: no result (the step did not write its report)."
    text = (f"Tests marked `gpu` (`pytest -m gpu tests/gpu`): {tests['passed']} passed, {tests['failed']} failed, "
            f"{tests['skipped']} skipped.")
    failed = "".join(f"\n- FAILED `{f['name']}`: {f['message']}" for f in tests.get("failures", []))
    return text + failed


def _step_text(step: dict) -> str:
    if step["rc"] == "":
        return f"{step['name']} {step['note']}"
    note = f", {step['note']}" if step["note"] else ""
    return f"{step['name']} exit {step['rc']} ({step['seconds']} s{note})"


def _steps_line(steps: list[dict]) -> str:
    return "Steps: " + "; ".join(_step_text(s) for s in steps) + "."


def _profile_lines(profile: dict | None) -> list[str]:
    if not profile:
        return ["No profile came back."]
    lines = [f"Host time to cut one search crop (crop_square + to_rgb, built-in sequence): "
             f"{profile['crop_ms_per_target']:.3f} ms per target.", ""]
    header = ("precision", "targets", "CUDA graph", "search step p50 ms", "eager step p50 ms",
              "launches per eager step (kernels, copies; on CPU: operators)", "device time per step ms")
    rows = [(r["precision"], r["batch"], "yes" if r["graph"] else "no", f"{r['step_ms_p50']:.3f}", f"{r['eager_step_ms_p50']:.3f}",
             f"{r['kernels_per_step']:.0f}", "—" if r.get("device_ms_per_step") is None else f"{r['device_ms_per_step']:.3f}")
            for r in profile["rows"]]
    return lines + _table(header, rows)


def _not_run(run: dict, single: dict | None, streams: dict | None) -> list[str]:
    installed = run.get("versions", {}).get("machine", {}).get("versions", {})
    notes = [] if "tensorrt" in installed else [
        "TensorRT: not installed on the machine, and not installable there (no network; NVIDIA's index)."]
    for bench in (single, streams):
        notes += [n for n in (bench or {}).get("skipped", []) if n not in notes]
    return [f"- {n}" for n in notes]


def _bench_block(title: str, bench: dict | None, folder: Path, results_dir: Path) -> list[str]:
    if bench is None:
        return [f"### {title}", "", "No result came back (see the steps above).", ""]
    chart = plot_fps(bench, folder / f"{bench['_name']}.png")
    return [f"### {title}", "", markdown(bench), f"![FPS per row]({os.path.relpath(chart, results_dir)})", ""]


def gpu_section(summary_path: Path, results_dir: Path) -> str:
    """The markdown section for one gpu.sh run (its gpu-run.json)."""
    run = json.loads(summary_path.read_text())
    folder = summary_path.parent
    single, streams = (load_bench(folder, run["files"].get(k)) for k in ("bench", "bench_streams"))
    for bench, key in ((single, "bench"), (streams, "bench_streams")):
        if bench is not None:
            bench["_name"] = Path(run["files"][key]).stem
    gpu = (single or streams or {}).get("machine", {}).get("gpu") or run.get("versions", {}).get("machine", {}).get("gpu")
    name = gpu["name"] if gpu else "no GPU"
    title = f"## GPU: {name}" if run["mode"] == "gpu" else f"## DRY RUN on CPU ({folder.name}): not GPU figures"
    n = (streams or {}).get("settings", {}).get("streams", "N")
    device = (single or streams or {}).get("settings", {}).get("device", "cuda")
    lines = [title, "", f"One call of `bash benchmarks/gpu.sh` ({run['mode']} mode), {run['date']}, {run['seconds']} s "
             f"of a {run['budget']} s budget. Files: `{folder.name}/`.", ""]
    lines += [f"GPU: {gpu_line(gpu)}." if gpu else "GPU: none.", "", _tests_line(run.get("tests")), "", _steps_line(run["steps"]), ""]
    lines += _bench_block(f"One target (`bench --device {device}`)", single, folder, results_dir)
    lines += _bench_block(f"{n} targets (`bench --device {device} --streams {n}`)", streams, folder, results_dir)
    lines += ["### Issue 16 targets", ""] + _table(("target", "goal", "measured", "status"), target_rows(single, streams))
    lines += ["", "### Profile (tiny, demo weights)", ""] + _profile_lines(load_bench(folder, run["files"].get("profile")))
    lines += ["", "### Not run", ""] + _not_run(run, single, streams)
    return "\n".join(lines) + "\n"


def _row_text(row: dict) -> str:
    if "error" in row:
        return f"  {row['label']} {row.get('precision', '')}: ERROR {row['error'][:200]}"
    speed = row.get("speedup_search_p50")
    return (f"  {row['label']} {row['precision']} x{row.get('streams', 1)}: search p50 {row['search']['p50']:.3f} ms, "
            f"tracker {row['fps']:.0f} FPS, search speed-up {'—' if speed is None else f'{speed:.1f}x'}")


def closing_table(run: dict, folder: Path) -> str:
    """The short text the run ends with (the device tool's reply keeps the end of the output)."""
    single, streams = (load_bench(folder, run["files"].get(k)) for k in ("bench", "bench_streams"))
    lines = [f"== summary ({run['mode']} mode): {run['seconds']} s of a {run['budget']} s budget",
             _steps_line(run["steps"]), _tests_line(run["tests"])]
    for bench in (single, streams):
        lines += [_row_text(r) for r in (bench or {}).get("rows", [])]
    lines += [f"target {t}: {m}, goal {g}: {s}" for t, g, m, s in target_rows(single, streams)]
    lines += [f"$OUT PROBLEM: {p}" for p in run.get("out_problems", [])]
    lines.append("files: " + ", ".join(sorted(p.name for p in folder.iterdir())))
    return "\n".join(lines)
