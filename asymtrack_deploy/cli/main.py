"""Combines the per-command modules into one typer app. Command modules import heavy libraries
inside their functions, so ``asymtrack-deploy --help`` stays fast."""
from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="asymtrack-deploy",
    help="AsymTrack from a PyTorch checkpoint to fast, verified inference.",
    no_args_is_help=True,
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
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True),
) -> None:
    """AsymTrack from a PyTorch checkpoint to fast, verified inference."""
    if version:
        from .. import __version__

        typer.echo(__version__)
        raise typer.Exit()


for _name, _module in COMMANDS.items():
    _mod = importlib.import_module(f"asymtrack_deploy.cli.{_module}")
    app.command(_name, help=_mod.__doc__, no_args_is_help=getattr(_mod, "NO_ARGS_IS_HELP", False))(_mod.command)


def main() -> None:  # pragma: no cover - console-script entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
