#!/usr/bin/env python3
"""Where a CPU search step's time goes, per operator type: ONNX Runtime and OpenVINO bundles.

    python benchmarks/profile_cpu.py BUNDLE [BUNDLE ...] [--steps 100] [--threads N] [--top 20] [--json out.json]
        [--ort-level ALL|EXTENDED|BASIC]

Each bundle's search graph runs ``--steps`` times on real search crops of the built-in sequence
with the template state of its own template graph, under the runtime's profiler: ONNX Runtime's
session profiling (``enable_profiling``; node events summed per operator type) and OpenVINO's
``PERF_COUNT`` (per executed node: its type, the kernel and the precision it ran in, e.g.
``brgconv_avx512_I8``), with the settings the bundle's backend would use (OpenVINO: the
manifest's inference precision, LATENCY hint). Each node's time is its median over the steps (a
shared host preempts single steps; a median per node keeps those out), summed per operator type.
Printed per bundle: milliseconds per step by operator type (and kernel), the node count, and the
sum against the step's wall time. Profiled times include the profiler's overhead, so compare
shares, not totals, with ``bench``. ``--ort-level``: the ONNX Runtime optimisation level applied
at load (default ALL, as the backend; EXTENDED shows what the saved, portable graph runs without
the CPU-specific NCHWc layout step).
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np


def search_inputs(bundle_dir: str, steps: int) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    """Search crops (batch-shaped) along the built-in sequence and the template state as arrays."""
    from asymtrack_deploy.crop import crop_rgb
    from asymtrack_deploy.runtimes import load_bundle_backend
    from asymtrack_deploy.sources import builtin_sequence, open_source

    sequence = builtin_sequence()
    frames = list(open_source(sequence.folder))
    backend = load_bundle_backend(bundle_dir)
    info = backend.info
    template = crop_rgb(frames[0], sequence.init_box, info.rules.template)[0]
    state = backend.template(np.repeat(template[None], info.batch, axis=0)).numpy()
    backend.close()
    crops = []
    for i in range(min(steps, len(frames) - 1)):
        crop = crop_rgb(frames[1 + i], sequence.init_box, info.rules.search)[0]
        crops.append(np.repeat(crop[None], info.batch, axis=0))
    return crops, state


def _wall_ms(run, crops, steps: int) -> float:
    samples = []
    for i in range(steps):
        t0 = time.perf_counter_ns()
        run(crops[i % len(crops)])
        samples.append(time.perf_counter_ns() - t0)
    return float(np.median(samples)) / 1e6


def profile_onnxruntime(path: Path, crops, state, steps: int, threads: int | None, level: str = "ALL") -> dict:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, f"ORT_ENABLE_{level}")
    options.enable_profiling = True
    options.profile_file_prefix = str(Path(tempfile.mkdtemp()) / "ort")
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    crop_name = session.get_inputs()[0].name

    def run(crop):
        session.run(None, {crop_name: crop, **state})

    for i in range(10):
        run(crops[i % len(crops)])
    wall = _wall_ms(run, crops, steps)
    events = json.loads(Path(session.end_profiling()).read_text())
    per_node: dict[tuple[str, str], list[float]] = defaultdict(list)
    for event in events:
        if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
            per_node[(event["name"], event["args"]["op_name"])].append(event["dur"] / 1000.0)
    return _summary(per_node, wall)


def profile_openvino(path: Path, hint: str | None, crops, state, steps: int, threads: int | None) -> dict:
    import openvino as ov

    config = {"PERFORMANCE_HINT": "LATENCY", "PERF_COUNT": True}
    if hint:
        config["INFERENCE_PRECISION_HINT"] = hint
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    compiled = ov.Core().compile_model(str(path), "CPU", config)
    request = compiled.create_infer_request()
    crop_name = compiled.inputs[0].get_any_name()
    per_node: dict[tuple[str, str], list[float]] = defaultdict(list)

    def run(crop):
        request.infer({crop_name: crop, **state})

    for i in range(10):
        run(crops[i % len(crops)])
    wall = _wall_ms(run, crops, steps)
    for i in range(steps):
        run(crops[i % len(crops)])
        for node in request.profiling_info:
            if node.status == node.Status.EXECUTED:
                kind = f"{node.node_type} [{node.exec_type}]"
                per_node[(node.node_name, kind)].append(node.real_time.total_seconds() * 1000.0)
    summary = _summary(per_node, wall)
    summary["inference_precision"] = str(compiled.get_property("INFERENCE_PRECISION_HINT"))
    return summary


def _summary(per_node: dict[tuple[str, str], list[float]], wall_ms: float) -> dict:
    """Per operator type: the sum of its nodes' median times per step."""
    per_op: dict[str, float] = defaultdict(float)
    for (_, op), times in per_node.items():
        per_op[op] += float(np.median(times))
    ops = dict(sorted(per_op.items(), key=lambda kv: -kv[1]))
    return {"wall_p50_ms": wall_ms, "profiled_ms": sum(ops.values()), "nodes": len(per_node), "ms_per_op_type": ops}


def profile_bundle(bundle_dir: str, steps: int, threads: int | None, ort_level: str = "ALL") -> dict:
    from asymtrack_deploy.bundle import load_bundle

    bundle = load_bundle(bundle_dir, verify=False)
    manifest = bundle.manifest
    crops, state = search_inputs(bundle_dir, steps)
    files = manifest.graph("search").files
    if "openvino_xml" in files:
        hint = manifest.inference.openvino_precision_hint
        result = profile_openvino(bundle.path("search", "openvino_xml"), hint, crops, state, steps, threads)
        runtime = "openvino"
    else:
        result = profile_onnxruntime(bundle.path("search", "onnx"), crops, state, steps, threads, ort_level)
        runtime = f"onnxruntime, ORT_ENABLE_{ort_level} at load"
    return {"bundle": str(bundle_dir), "target": manifest.target, "precision": manifest.precision,
            "runtime": runtime, "threads": threads, **result}


def render(result: dict, top: int) -> str:
    head = (f"{result['bundle']} ({result['runtime']}, {result['precision']}"
            f"{', inference ' + result['inference_precision'] if 'inference_precision' in result else ''}): "
            f"wall p50 {result['wall_p50_ms']:.2f} ms/step, profiled ops {result['profiled_ms']:.2f} ms, "
            f"{result['nodes']} nodes")
    lines = [head]
    for op, ms in list(result["ms_per_op_type"].items())[:top]:
        lines.append(f"  {ms:7.3f} ms  {100 * ms / max(result['profiled_ms'], 1e-9):5.1f} %  {op}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundles", nargs="+")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--ort-level", choices=("ALL", "EXTENDED", "BASIC"), default="ALL")
    args = parser.parse_args()
    results = []
    for bundle in args.bundles:
        results.append(profile_bundle(bundle, args.steps, args.threads, args.ort_level))
        print(render(results[-1], args.top), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"cpu_count": os.cpu_count(), "results": results}, indent=1))


if __name__ == "__main__":
    main()
