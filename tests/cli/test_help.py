"""What a new user sees first: --version, and help that reads well in a pipe or a log."""
from __future__ import annotations

import subprocess
import sys

from asymtrack_deploy import __version__


def _cli(*args: str) -> str:
    """The command line as a user pipes it (stdout not a terminal)."""
    result = subprocess.run([sys.executable, "-m", "asymtrack_deploy.cli.main", *args], capture_output=True, text=True,
                            timeout=120, check=True)
    return result.stdout


def test_version():
    assert _cli("--version").strip() == f"asymtrack-deploy {__version__}"


def test_help_in_a_pipe_is_wide_and_shows_flags_without_a_value_type():
    text = _cli("train", "--help")
    assert max(len(line) for line in text.splitlines()) == 120  # not cut at 80 columns
    assert "<bool>" not in text and "--check-data" in text and "--no-check-data" in text


def test_command_docstrings_are_reflowed_not_hard_wrapped():
    """train's docstring is wrapped at 95 columns in the source; the help wraps it to the screen."""
    text = _cli("train", "--help")
    assert "Several processes: torchrun" in text
    assert "Evaluate on a benchmark: metrics beside FPS" in _cli("--help")
