"""Shared consoles: results to stdout, errors and progress to stderr."""
from __future__ import annotations

import os
import sys

from rich.console import Console

# Tables are wide; when stdout is not a terminal (CI logs, pipes) do not squeeze them into 80
# columns, unless COLUMNS says how wide the output may be.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> None:
    """Print an error on stderr and exit with ``code`` (2: bad input)."""
    import typer
    from rich.markup import escape

    err.print(f"[bold red]error:[/] {escape(str(message))}")
    raise typer.Exit(code)


def is_tty() -> bool:
    return sys.stdout.isatty()
