"""Interleaved rounds: how frames are spread, per-round ratios, and what the host did."""
from __future__ import annotations

import pytest

from asymtrack_deploy.bench.display import COLUMNS, markdown, row_cells, run_notes
from asymtrack_deploy.bench.host import CpuTimes, cpu_times, isa_features, process_cpu_seconds, steal_pct
from asymtrack_deploy.bench.rows import add_speedups, round_sizes


def test_frames_are_spread_over_rounds():
    assert round_sizes(200, 5) == [40] * 5
    assert round_sizes(7, 3) == [3, 2, 2]
    assert round_sizes(2, 5) == [1, 1]  # never an empty round
    assert round_sizes(0, 5) == [0]


def _row(label, search_p50s, e2e_means, baseline=False, streams=1):
    rounds = [{"round": r, "search_p50": s, "e2e_mean": e} for r, (s, e) in enumerate(zip(search_p50s, e2e_means))]
    return {"label": label, "precision": "fp32", "baseline": baseline, "streams": streams, "rounds": rounds}


def test_speedups_are_per_round_ratios_with_median_and_range():
    base = _row("base", [20.0, 40.0, 30.0], [25.0, 50.0, 35.0], baseline=True)
    fast = _row("fast", [5.0, 8.0, 10.0], [10.0, 10.0, 7.0])
    add_speedups([base, fast])
    assert fast["speedup_search_p50_rounds"] == [4.0, 5.0, 3.0]
    assert fast["speedup_search_p50"] == 4.0 and fast["speedup_search_p50_range"] == [3.0, 5.0]
    assert fast["speedup_fps_rounds"] == pytest.approx([2.5, 5.0, 5.0]) and fast["speedup_fps"] == pytest.approx(5.0)
    assert base["speedup_search_p50"] == 1.0 and base["speedup_search_p50_range"] == [1.0, 1.0]


def test_a_round_a_row_missed_is_left_out_and_errors_get_none():
    base = _row("base", [20.0, 40.0], [25.0, 50.0], baseline=True)
    partial = _row("partial", [10.0], [10.0])
    broken = {"label": "broken", "precision": "int8", "error": "RuntimeError: no"}
    add_speedups([base, partial, broken])
    assert partial["speedup_search_p50_rounds"] == [2.0]
    assert broken["speedup_search_p50"] is None and broken["speedup_fps_range"] is None


def test_batched_rows_compare_per_target():
    base = _row("base", [20.0], [20.0], baseline=True)
    batched = _row("b4", [40.0], [40.0], streams=4)  # 4 targets per call
    add_speedups([base, batched])
    assert batched["speedup_search_p50"] == 2.0 and batched["speedup_fps"] == 2.0


def test_steal_time_from_proc_stat():
    before = cpu_times("cpu  100 0 50 800 10 0 5 20 0 0\n")
    after = cpu_times("cpu  200 0 60 850 10 0 5 60 7 0\n")
    assert before == CpuTimes(steal=20, total=985)
    assert steal_pct(before, after) == pytest.approx(100.0 * 40 / 200)
    assert cpu_times("intr 1 2 3") is None and steal_pct(None, after) is None and steal_pct(after, after) is None
    assert cpu_times() is not None and process_cpu_seconds(1 << 30) is None


def test_isa_features_name_what_changes_the_picture():
    x86 = "processor : 0\nflags : fpu sse2 avx2 avx512f avx512_vnni avx512_bf16 amx_tile amx_int8 avx512_fp16\n"
    assert isa_features(x86) == ["AVX2", "AVX-512", "AVX512-VNNI", "AVX512-BF16", "AVX512-FP16", "AMX", "AMX-INT8"]
    arm = "processor : 0\nFeatures : fp asimd asimdhp asimddp i8mm bf16\n"
    assert isa_features(arm) == ["NEON", "NEON-FP16", "NEON-DOTPROD", "I8MM", "BF16"]


def _run(steal):
    row = {"label": "onnxruntime", "precision": "int8", "fps": 50.0, "steal_pct": steal, "parity_passed": True,
           "search": {"p50": 5.0, "p90": 6.0, "p99": 7.0}, "outside": {"p50": 0.21}, "template": {"p50": 1.0},
           "speedup_search_p50": 4.0, "speedup_search_p50_range": [3.5, 4.5], "speedup_search_p50_rounds": [3.5, 4.0, 4.5],
           "speedup_fps": 3.0, "speedup_fps_range": [3.0, 3.0], "speedup_fps_rounds": [3.0]}
    machine = {"cpu": "CPU", "logical_cpus": 2, "isa": ["AVX2"], "platform": "Linux", "versions": {"numpy": "2"}}
    settings = {"variant": "tiny", "device": "cpu", "frames": 3, "warmup": 0, "rounds": 3, "weights": "w", "sequence": "s"}
    return {"machine": machine, "settings": settings, "rows": [row]}


def test_table_cells_notes_and_steal_warning():
    run = _run(steal=43.0)
    cells = dict(zip([h for h, _ in COLUMNS], row_cells(run["rows"][0])))
    assert cells["search speed-up"] == "4.00x (3.50-4.50)" and cells["FPS speed-up"] == "3.00x"
    assert cells["outside graph p50 ms"] == "0.21" and cells["steal %"] == "43" and cells["parity"] == "pass"
    notes = run_notes(run)
    assert "3 interleaved rounds" in notes[0] and notes[1].startswith("WARNING: 43% of the CPU time was stolen")
    assert not any(n.startswith("WARNING") for n in run_notes(_run(steal=2.0)))
    assert "ISA: AVX2" in markdown(run) and "WARNING" in markdown(run)
    error = row_cells({"label": "x", "precision": "fp16", "error": "RuntimeError: boom"})
    assert len(error) == len(COLUMNS) and "RuntimeError: boom" in error


def test_busy_host_reasons_from_a_fake_reading():
    from asymtrack_deploy.bench.host import HostSample, LoadWatch, busy_reasons

    readings = iter([HostSample(3.9, busy_s=0, own_s=0, steal_s=0, total_s=0),
                     HostSample(3.9, busy_s=100, own_s=40, steal_s=0, total_s=100)])
    watch = LoadWatch(cores=2, read=lambda: next(readings))
    watch.start()
    watch.sample()
    load = watch.summary()
    assert load["others_cpu_pct"] == 60.0 and load["load_max"] == 3.9 and load["steal_pct"] == 0.0
    assert busy_reasons({**load, "load_before": 3.9}) == [
        "load average 3.90 on 2 cores before the run", "other processes used 60% of the 2 cores during the rounds"]
    quiet = {"cores": 2, "load_before": 0.2, "others_cpu_pct": 4.0, "steal_pct": 0.5}
    assert busy_reasons(quiet) == []
    assert busy_reasons({**quiet, "steal_pct": 30.0}) == ["the hypervisor stole 30% of the CPU time"]
    unreadable = LoadWatch(cores=2, read=lambda: (_ for _ in ()).throw(OSError()))
    unreadable.before()
    unreadable.start()
    assert unreadable.summary()["others_cpu_pct"] is None and busy_reasons(unreadable.summary()) == []
