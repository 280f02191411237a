"""Options that size threads are bounded on the command line (limits.MAX_THREADS): a huge
--threads used to reach the runtime's thread pool."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from asymtrack_deploy.cli.main import app
from asymtrack_deploy.limits import MAX_THREADS

runner = CliRunner()


@pytest.mark.parametrize("command", [["bench", "--rounds", "1"], ["parity", "--bundle", "nowhere"]])
def test_thread_counts_above_the_bound_are_usage_errors(command):
    result = runner.invoke(app, [*command, "--threads", "99999999999"])
    assert result.exit_code == 2, result.output
    assert f"error: Invalid value for '--threads': Input should be less than or equal to {MAX_THREADS}" in " ".join(
        result.output.split())
