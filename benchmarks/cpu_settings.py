#!/usr/bin/env python3
"""Runtime settings measured, not guessed: threads, spinning, hints, streams, pinning.

    python benchmarks/cpu_settings.py [--backends openvino,onnxruntime,torch-official]
        [--precisions fp32,int8] [--frames 100] [--rounds 5] [--json settings.json]

Each (backend, precision) gets a group of rows: its default settings (what ``bench`` and the
``Tracker`` use) and the alternatives below, all run by ``bench``'s machinery (each row in its
own process, loaded once, rows measured in interleaved rounds with the order rotated; steal time
per row). Printed per group: the search p50 and tracker FPS of each setting and its ratio to the
group's default, the median and range over the rounds (> 1: faster than the default). Bundles
come from ``bench``'s cache (tiny, demo weights; exported on first use).
"""
from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path

from asymtrack_deploy.bench.host import cpu_times, steal_pct
from asymtrack_deploy.bench.rows import RowSpec, add_speedups, run_rows
from asymtrack_deploy.bench.display import machine_line
from asymtrack_deploy.bench.timing import machine_info

_NO_SPIN = {"session.intra_op.allow_spinning": "0"}

# backend -> (setting, backend options); the first is the default.
SETTINGS = {
    "onnxruntime": [
        ("default (threads: physical cores, spinning)", {}),
        ("1 thread", {"threads": 1}),
        ("no spinning", {"session_config": _NO_SPIN}),
        ("1 thread, no spinning", {"threads": 1, "session_config": _NO_SPIN}),
        ("denormals as zero", {"session_config": {"session.set_denormal_as_zero": "1"}}),
        ("dynamic block base 4", {"session_config": {"session.dynamic_block_base": "4"}}),
    ],
    "openvino": [
        ("default (LATENCY hint: 1 stream, all cores)", {}),
        ("1 thread", {"threads": 1}),
        ("no CPU pinning", {"config": {"ENABLE_CPU_PINNING": False}}),
        ("THROUGHPUT hint", {"config": {"PERFORMANCE_HINT": "THROUGHPUT"}}),
        ("denormals flushed", {"config": {"CPU_DENORMALS_OPTIMIZATION": True}}),
    ],
    "torch-official": [
        ("default (torch's threads)", {}),
        ("1 thread", {"threads": 1}),
    ],
}


def _specs(backend: str, precision: str, checkpoint: Path, cache_dir: Path | None) -> list[RowSpec]:
    from asymtrack_deploy import catalogue
    from asymtrack_deploy.export import cached_bundle

    if backend == "torch-official":
        if precision != "fp32":
            return []
        common, bundle = {"variant": "tiny", "checkpoint": str(checkpoint), "device": "cpu"}, None
    else:
        target = catalogue.bench_target(backend, precision)
        bundle = str(cached_bundle(target, precision, 1, variant="tiny", checkpoint=checkpoint, cache_dir=cache_dir))
        common = {"bundle": bundle}
    return [RowSpec(f"{backend} {precision}: {name}", backend, precision, {**common, **options}, baseline=k == 0, bundle=bundle)
            for k, (name, options) in enumerate(SETTINGS[backend])]


def _groups(rows: list[dict]) -> list[list[dict]]:
    """Rows by (backend, precision), each group's ratios taken to its own default."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["backend"], row["precision"]), []).append(row)
    return [add_speedups(group) for group in groups.values()]


def _ratio(row: dict, name: str) -> str:
    median, spread = row.get(f"speedup_{name}"), row.get(f"speedup_{name}_range")
    return "—" if median is None else f"{median:.2f}x ({spread[0]:.2f}-{spread[1]:.2f})"


def render(run: dict) -> str:
    lines = [f"Machine: {machine_line(run['machine'])}; steal over the run: {run['machine']['steal_pct']}",
             f"{run['settings']['frames']} frames per row in {run['settings']['rounds']} interleaved rounds; "
             "ratios to each group's default (> 1: faster)", ""]
    for group in _groups(run["rows"]):
        for row in group:
            if "error" in row:
                lines.append(f"  {row['label']}: ERROR {row['error'][:120]}")
                continue
            lines.append(f"  {row['label']:62s} search p50 {row['search']['p50']:7.2f} ms {_ratio(row, 'search_p50'):22s} "
                         f"FPS {row['fps']:6.1f} {_ratio(row, 'fps'):22s} steal {row['steal_pct'] or 0:.0f}%")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    from asymtrack_deploy.runtimes.torch_backend import default_checkpoint
    from asymtrack_deploy.sources import builtin_sequence

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="openvino,onnxruntime,torch-official")
    parser.add_argument("--precisions", default="fp32,int8")
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    specs = [spec for backend in args.backends.split(",") for precision in args.precisions.split(",")
             for spec in _specs(backend, precision, default_checkpoint(), args.cache_dir)]
    sequence, before = builtin_sequence(), cpu_times()
    rows = run_rows(specs, sequence.folder, sequence.init_box, args.frames, args.warmup, args.rounds,
                    on_row=partial(lambda r: print(f"  round {r['round'] + 1}: {r['label']}", flush=True)))
    run = {"machine": {**machine_info(), "steal_pct": steal_pct(before, cpu_times())},
           "settings": {"frames": args.frames, "warmup": args.warmup, "rounds": args.rounds}, "rows": rows}
    print(render(run))
    if args.json:
        args.json.write_text(json.dumps(run, indent=1))


if __name__ == "__main__":
    main()
