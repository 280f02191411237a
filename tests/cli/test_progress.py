"""Progress of long commands: a live display in a terminal, plain lines in a log."""
from __future__ import annotations

import io

import pytest
from rich.console import Console

from asymtrack_deploy.cli.progress import Stages


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    text = io.StringIO()
    return Console(file=text, force_terminal=terminal, width=100, color_system=None), text


def _work(stages: Stages) -> None:
    stages.stage("graphs")
    stages.stage("frames", total=20)
    for _ in range(20):
        stages.advance()
    stages.stage("sequences", total=2)
    stages.advance("seq-a")
    stages.advance("seq-b")


def test_in_a_log_one_line_per_stage_per_tenth_and_per_named_item():
    console, text = _console(terminal=False)
    with Stages("job", console=console) as stages:
        _work(stages)
    lines = text.getvalue().splitlines()
    assert lines[:3] == ["job: graphs", "job: frames (20)", "job: frames 2/20"]
    assert sum(line.startswith("job: frames ") and line.endswith("/20") for line in lines) == 10  # per tenth, not frame
    assert lines[-4:-1] == ["job: sequences (2)", "job: sequences 1/2 seq-a", "job: sequences 2/2 seq-b"]
    assert lines[-1].startswith("job: done in ")


def test_in_a_terminal_each_finished_stage_leaves_a_line():
    console, text = _console(terminal=True)
    with Stages("job", console=console) as stages:
        _work(stages)
    shown = text.getvalue()
    for stage in ("graphs", "frames", "sequences"):
        assert f"✓ {stage} (" in shown
    assert "job: " not in shown  # no log lines in a terminal


def test_a_failed_stage_is_not_reported_done():
    console, text = _console(terminal=False)
    with pytest.raises(RuntimeError), Stages("job", console=console) as stages:
        stages.stage("graphs")
        raise RuntimeError("broken")
    assert text.getvalue().splitlines() == ["job: graphs"]
