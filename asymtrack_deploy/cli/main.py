"""Combines the per-command modules into one typer app. Command modules import heavy libraries
inside their functions, so ``asymtrack-deploy --help`` stays fast."""
from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="asymtrack-deploy",
    help="AsymTrack from a PyTorch checkpoint to fast, verified inference.",
    no_args_is_help=True,
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# command name -> module in asymtrack_deploy.cli that defines ``command``
COMMANDS: dict[str, str] = {
    "info": "info",
    "export": "export",
    "track": "track",
    "parity": "parity",
    "bench": "bench",
    "eval": "eval",
    "train": "train",
    "serve": "serve",
}



@app.callback()
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True),
) -> None:
    """AsymTrack from a PyTorch checkpoint to fast, verified inference."""
    if version:
        from .. import __version__

        typer.echo(f"asymtrack-deploy {__version__}")
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit()


def _plain_help() -> None:
    """Help that reads well in a terminal and in a pipe: a flag takes no value, so typer's
    ``<bool>`` after it (typer >= 0.20) is dropped; and with no terminal (CI logs, ``| less``)
    the help is 120 columns wide instead of Rich's 80, which cut long option names."""
    import shutil
    import sys

    from typer import core, rich_utils

    original = core.TyperOption.display_type_rich

    def display_type_rich(self, ctx):
        return None if getattr(self, "is_flag", False) else original(self, ctx)

    core.TyperOption.display_type_rich = display_type_rich
    if rich_utils.MAX_WIDTH is None and not sys.stdout.isatty():
        rich_utils.MAX_WIDTH = 120
    elif rich_utils.MAX_WIDTH is None:
        rich_utils.MAX_WIDTH = max(100, shutil.get_terminal_size().columns)


def _unwrapped(doc: str | None) -> str | None:
    """A command module's docstring with each paragraph on one line: the help wraps it to the
    screen, where typer would keep the source's line breaks (lines cut short in a wide terminal,
    broken twice in a narrow one)."""
    if not doc:
        return doc
    paragraphs = (" ".join(paragraph.split()) for paragraph in doc.strip().split("\n\n"))
    return "\n\n".join(p for p in paragraphs if p)


def _one_line_usage_errors() -> None:
    """A malformed option or a missing argument is reported like every other error: one
    ``error:`` line on stderr naming the command whose --help explains it, exit code 2 (typer
    would print the usage line and a framed panel)."""
    from rich.markup import escape
    from typer import rich_utils

    from .console import err

    original = rich_utils.rich_format_error

    def one_line(error) -> None:
        if error.__class__.__name__ == "NoArgsIsHelpError":
            return original(error)
        ctx = getattr(error, "ctx", None)
        hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        err.print(f"[bold red]error:[/] {escape(error.format_message())}{escape(hint)}")

    rich_utils.rich_format_error = one_line


_plain_help()
_one_line_usage_errors()

for _name, _module in COMMANDS.items():
    _mod = importlib.import_module(f"asymtrack_deploy.cli.{_module}")
    app.command(_name, help=_unwrapped(_mod.__doc__), no_args_is_help=getattr(_mod, "NO_ARGS_IS_HELP", False))(_mod.command)


def main() -> None:  # pragma: no cover - console-script entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
