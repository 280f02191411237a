"""Progress of long commands, on stderr (results stay alone on stdout).

In a terminal: a live rich display of the current stage (spinner, bar and count for counted
work, elapsed time), and one line per finished stage with its time. In a log (stderr is not a
terminal: CI, a redirect): no live display, one plain line when a stage starts, one per named
item of counted work (a sequence, a benchmark row) or per tenth of it otherwise, and a last line
with the total time: a long run shows where it is without filling the log.
"""
from __future__ import annotations

import time

from rich.console import Console
from rich.markup import escape

from .console import err

__all__ = ["Stages"]


class Stages:
    """``with Stages("export") as stages:`` then ``stages.stage("ONNX graphs")`` for each step
    and ``stages.stage("frames", total=60)`` + ``stages.advance()`` for counted work; a new
    stage ends the one before. ``live`` None: a live display when the console is a terminal."""

    def __init__(self, title: str, console: Console = err, live: bool | None = None):
        self.title, self.console = title, console
        self.live = console.is_terminal if live is None else live
        self._display = None
        self._task = None
        self._name: str | None = None
        self._total: int | None = None
        self._done = 0
        self._started = self._began = 0.0

    def __enter__(self) -> "Stages":
        self._began = time.perf_counter()
        if self.live:
            self._display = _live_display(self.console)
            self._display.start()
        return self

    def __exit__(self, kind, error, trace) -> None:
        self._end(finished=kind is None)
        if self._display is not None:
            self._display.stop()
        elif kind is None:
            self._line(f"done in {time.perf_counter() - self._began:.1f} s")

    def stage(self, name: str, total: int | None = None) -> None:
        self._end()
        self._name, self._total, self._done, self._started = name, total, 0, time.perf_counter()
        if self._display is not None:
            self._task = self._display.add_task(escape(name), total=total)
        else:
            self._line(f"{name} ({total})" if total else name)

    def advance(self, item: str | None = None, step: int = 1) -> None:
        """One more unit of the stage's counted work done (``item``: its name, when it has one)."""
        before, self._done = self._done, self._done + step
        if self._display is not None:
            label = f"{self._name}: {item}" if item else self._name
            self._display.update(self._task, advance=step, description=escape(label))
        elif item is not None or self._tenth(before) != self._tenth(self._done):
            count = f"{self._done}/{self._total}" if self._total else str(self._done)
            self._line(f"{self._name} {count}" + (f" {item}" if item else ""))

    def note(self, message: str) -> None:
        """A line above the live display (or in the log): a warning, a skipped row."""
        self.console.print(message)

    def _tenth(self, done: int) -> int:
        return 10 * done // self._total if self._total else done

    def _end(self, finished: bool = True) -> None:
        if self._name is None:
            return
        if self._display is not None:
            self._display.remove_task(self._task)
            if finished:
                seconds = time.perf_counter() - self._started
                self.console.print(f"[green]✓[/] {escape(self._name)} [dim]({seconds:.1f} s)[/]")
        self._name = None

    def _line(self, text: str) -> None:
        self.console.print(f"{self.title}: {text}", markup=False, highlight=False)


def _live_display(console: Console):
    """Spinner, stage, and for counted work a bar and the count; the elapsed time."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table
    from rich.text import Text

    class Counted(BarColumn, MofNCompleteColumn):  # one column: a bar and "m/n", only for counted work
        def render(self, task):
            if task.total is None:
                return Text("")
            row = Table.grid(padding=(0, 1))
            row.add_row(BarColumn.render(self, task), MofNCompleteColumn.render(self, task))
            return row

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), Counted(), TimeElapsedColumn(),
                    console=console, transient=True)
