"""Timing and result records for ``asymtrack-deploy bench`` (no printing here)."""
from .rows import RowSpec, add_speedups, run_rows
from .timing import LatencyStats, machine_info, time_calls

__all__ = ["LatencyStats", "RowSpec", "add_speedups", "machine_info", "run_rows", "time_calls"]
