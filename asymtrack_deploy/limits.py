"""Bounds on the options that size memory or threads, in one place for the command line, the
exporters, the backends and the serving configuration.

An unbounded ``--batch`` exported graphs for 100,000 targets (minutes and gigabytes before any
error); an unbounded thread count reached the runtime's thread pool. The C library
(runtime-c/src/asymtrack.c, ``AT_MAX_THREADS``) keeps the same thread bound.

Standard library only: the runtime side reads it without torch.
"""
from __future__ import annotations

__all__ = ["MAX_BATCH", "MAX_THREADS", "check_batch", "check_threads"]

MAX_BATCH = 64  # targets per graph call; serving's dynamic batcher (max_batch) takes the same bound
MAX_THREADS = 1024  # runtime threads per backend or process


def _bounded_integer(name: str, value, maximum: int, allow_none: bool) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= maximum:
        raise ValueError(f"{name} must be an integer from 1 to {maximum}, got {value!r}")


def check_batch(value, name: str = "batch") -> None:
    """A batch (targets per call) from 1 to MAX_BATCH, as a ValueError naming ``name``."""
    _bounded_integer(name, value, MAX_BATCH, allow_none=False)


def check_threads(value, name: str = "threads") -> None:
    """None (the runtime's choice) or a thread count from 1 to MAX_THREADS."""
    _bounded_integer(name, value, MAX_THREADS, allow_none=True)
