"""Training faults that used to end in a traceback (issue 15, case 6): a resumed checkpoint whose
optimiser state is damaged, and a run that diverges; both are one line with exit code 2."""
from __future__ import annotations

import torch
import typer
from train_fixtures import make_tree
from typer.testing import CliRunner

from asymtrack_deploy.cli import train as train_cli
from asymtrack_deploy.train import TrainConfig, checkpoint_path, train


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command()(train_cli.command)
    return app


def _args(root, out, *extra) -> list[str]:
    return ["--data", f"folder={root}", "--batch-size", "2", "--samples-per-epoch", "4", "--workers", "0",
            "--out", str(out), "--no-progress", "--threads", "1", *extra]


def test_resume_of_a_damaged_optimiser_state_is_one_line(tmp_path):
    root = make_tree("folder", tmp_path / "data")
    config = TrainConfig(variant="tiny", data=(f"folder={root}",), out=tmp_path / "run", epochs=1, batch_size=2,
                         samples_per_epoch=4, workers=0, threads=1, progress=False)
    first = train(config)
    state = torch.load(first, weights_only=True)
    state["optimizer"] = {"state": {}, "param_groups": [{"lr": 1.0}]}  # not this model's groups
    damaged = tmp_path / "damaged.pth.tar"
    torch.save(state, damaged)
    result = CliRunner().invoke(_cli(), _args(root, tmp_path / "run", "--resume", str(damaged), "--epochs", "2"))
    assert result.exit_code == 2, result.output
    assert "damaged.pth.tar: its optimiser state or epoch cannot be restored" in result.output
    assert "Traceback" not in result.output


def test_divergence_is_one_line(tmp_path):
    root = make_tree("folder", tmp_path / "data")
    result = CliRunner().invoke(_cli(), _args(root, tmp_path / "run", "--epochs", "3", "--lr", "1e12", "--no-amp"))
    assert result.exit_code == 2, result.output
    assert "training diverged (lower --lr" in result.output and "Traceback" not in result.output


def test_log_has_no_duplicate_rows_after_a_resume(tmp_path):
    """A run killed after epoch 2 resumed from epoch 1's checkpoint: epoch 2's rows are not repeated."""
    root = make_tree("folder", tmp_path / "data")
    CliRunner().invoke(_cli(), _args(root, tmp_path / "run", "--epochs", "2", "--save-every", "1"))
    first = checkpoint_path(tmp_path / "run", 1)
    result = CliRunner().invoke(_cli(), _args(root, tmp_path / "run", "--epochs", "3", "--resume", str(first)))
    assert result.exit_code == 0, result.output
    rows = [line.split(",") for line in (tmp_path / "run" / "log.csv").read_text().splitlines()[1:]]
    assert [r[0] for r in rows if r[-1] == "epoch"] == ["1", "2", "3"]


def test_resume_past_the_last_epoch_says_so(tmp_path):
    """A checkpoint of epoch 2 resumed with --epochs 1 (or 2) trained nothing and exited 0 silently."""
    root = make_tree("folder", tmp_path / "data")
    CliRunner().invoke(_cli(), _args(root, tmp_path / "run", "--epochs", "2"))
    last = checkpoint_path(tmp_path / "run", 2)
    log_before = (tmp_path / "run" / "log.csv").read_bytes()
    for epochs in ("1", "2"):
        result = CliRunner().invoke(_cli(), _args(root, tmp_path / "run", "--epochs", epochs, "--resume", str(last)))
        assert result.exit_code == 2, result.output
        assert (f"finished epoch 2, and --epochs is {epochs}: nothing left to train; pass --epochs 3 or more"
                in " ".join(result.output.split()))
        assert "Traceback" not in result.output
    assert (tmp_path / "run" / "log.csv").read_bytes() == log_before  # the finished run's log is untouched


def test_a_thread_count_beyond_the_bound_is_one_line(tmp_path):
    root = make_tree("folder", tmp_path / "data")
    result = CliRunner().invoke(_cli(), _args(root, tmp_path / "run", "--threads", "99999999999"))
    assert result.exit_code == 2, result.output
    assert "--threads must be an integer from 1 to 1024, got 99999999999" in result.output
    assert not (tmp_path / "run").exists()
