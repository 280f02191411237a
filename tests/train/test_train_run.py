"""Whole runs: overfitting one batch, checkpoints (deploy loading, resuming), the command line,
and a 2-process DDP run under torchrun (gloo on CPU)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import typer
from train_fixtures import make_tree
from typer.testing import CliRunner

from asymtrack_deploy.cli import train as train_cli
from asymtrack_deploy.datasets import SequenceFolder
from asymtrack_deploy.models import build_model, load_checkpoint
from asymtrack_deploy.runtimes.torch_backend import default_checkpoint
from asymtrack_deploy.train import (
    RECIPES,
    Augmentation,
    PairDataset,
    TrainConfig,
    Trainer,
    build_optimizer,
    checkpoint_path,
    init_weights,
    train,
    train_step,
)

REPO = Path(__file__).resolve().parents[2]


def _config(tmp_path, root, **kw):
    base = dict(variant="tiny", data=(f"folder={root}",), out=tmp_path / "run", epochs=1, batch_size=2,
                samples_per_epoch=4, workers=0, threads=1, progress=False)  # fmt: skip
    return TrainConfig(**{**base, **kw})


def test_overfits_one_fixed_batch(tmp_path):
    """The recipe's optimiser on one batch: the loss at least halves in 50 steps."""
    torch.manual_seed(0)
    model = init_weights(build_model("tiny", train=True))
    pairs = PairDataset([SequenceFolder(make_tree("folder", tmp_path))], None, Augmentation.for_variant(model.cfg), 8)
    batch = torch.utils.data.default_collate([pairs[i] for i in range(2)])
    optimizer = build_optimizer(model, RECIPES["tiny"])
    losses = [train_step(model, batch, optimizer, model.cfg, torch.device("cpu"), amp=True)["loss"] for _ in range(50)]
    assert losses[-1] <= 0.5 * losses[0], losses[::10]


def test_checkpoint_loads_into_the_deploy_model_and_resumes(tmp_path):
    root = make_tree("folder", tmp_path / "data")
    last = train(_config(tmp_path, root, epochs=2, save_every=1, lr=1e-3))
    assert last == checkpoint_path(tmp_path / "run", 2) and checkpoint_path(tmp_path / "run", 1).is_file()
    state = torch.load(last, map_location="cpu", weights_only=True)
    assert state["epoch"] == 2 and state["variant"] == "tiny" and "optimizer" in state
    assert any(k.endswith("rbr_conv.0.weight") for k in state["net"])  # training form, like the official files
    deploy = load_checkpoint(build_model("tiny"), last)  # fused on load
    assert deploy.deployed
    with torch.no_grad():
        box, score = deploy(torch.zeros(1, 3, 128, 128), torch.zeros(1, 3, 256, 256))
    assert box.shape == (1, 4) and torch.isfinite(box).all()

    resumed = Trainer(_config(tmp_path, root, epochs=3, resume=checkpoint_path(tmp_path / "run", 1), lr=1e-3))
    assert resumed.start_epoch == 2
    assert resumed.optimizer.state_dict()["state"], "optimizer moments restored"
    resumed.run()
    resumed.close()
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()[1:]
    epochs = [row.split(",")[0] for row in rows if row.endswith("epoch")]
    assert epochs == ["1", "2", "3"]  # epoch 2's rows of the first run went (issue 15: no duplicates after a resume)
    assert [g["lr"] for g in resumed.optimizer.param_groups] == pytest.approx([1e-4, 1e-5])  # after 4/5 of 3 epochs


def test_resume_takes_the_learning_rates_of_its_command_line(tmp_path):
    root = make_tree("folder", tmp_path / "data")
    first = train(_config(tmp_path, root, lr=1e-3))
    resumed = Trainer(_config(tmp_path, root, epochs=5, resume=first, lr=2e-3, backbone_lr_multiplier=0.5))
    assert [g["base_lr"] for g in resumed.optimizer.param_groups] == pytest.approx([2e-3, 1e-3])
    resumed.close()


def test_weights_start_a_fresh_run_from_a_checkpoint(tmp_path):
    """Fine-tuning: the weights are loaded, the optimiser and the epoch count start afresh."""
    root = make_tree("folder", tmp_path / "data")
    first = train(_config(tmp_path, root, lr=1e-3))
    tuned = Trainer(_config(tmp_path, root, out=tmp_path / "tune", weights=first, backbone_lr_multiplier=1.0))
    assert tuned.start_epoch == 1 and not tuned.optimizer.state_dict()["state"]
    saved = torch.load(first, map_location="cpu", weights_only=True)["net"]
    assert all(torch.equal(v, saved[k]) for k, v in tuned.model.state_dict().items())
    groups = tuned.optimizer.param_groups
    assert groups[0]["lr"] == groups[1]["lr"] == RECIPES["tiny"].lr  # backbone at x1, not the recipe's x0.1
    tuned.close()


@pytest.mark.parametrize(
    "starts", [{"resume": "a.pth", "weights": "b.pth"}, {"weights": "b.pth", "pretrained_backbone": "c.pth"}]
)
def test_a_run_starts_from_one_source_of_weights(tmp_path, starts):
    with pytest.raises(ValueError, match="a run starts from one of them"):
        _config(tmp_path, tmp_path, **starts)


def test_weights_that_do_not_fit_are_named(tmp_path):
    root = make_tree("folder", tmp_path / "data")
    bad = tmp_path / "small.pth"
    torch.save({"net": build_model("small", train=True).state_dict()}, bad)
    with pytest.raises(Exception, match="small.pth"):
        Trainer(_config(tmp_path, root, weights=bad))


def _cli():
    app = typer.Typer()
    app.command()(train_cli.command)
    return app


def test_command_line_trains_and_reports(tmp_path):
    root = make_tree("got10k", tmp_path / "got")
    args = ["--data", f"got10k={root}", "--epochs", "1", "--batch-size", "2", "--samples-per-epoch", "4",
            "--workers", "0", "--out", str(tmp_path / "out"), "--no-progress", "--no-amp", "--check-data",
            "--threads", "1"]  # fmt: skip
    result = CliRunner().invoke(_cli(), args)
    assert result.exit_code == 0, result.output
    assert "checkpoint:" in result.output and "AsymTrack_ep0001.pth.tar" in result.output
    assert (tmp_path / "out" / "log.csv").is_file()
    said = " ".join(result.output.split())  # from scratch with the recipe's x0.1: said, with the way out
    assert "from scratch with the recipe's backbone lr x0.1" in said and "--pretrained-backbone" in said
    args[args.index("--out") + 1] = str(tmp_path / "out-x1")
    result = CliRunner().invoke(_cli(), [*args, "--backbone-lr-multiplier", "1"])
    assert result.exit_code == 0, result.output
    assert "from scratch with" not in result.output


@pytest.mark.parametrize("when", ["--check-data", "in a loader worker"])
def test_command_line_names_a_malformed_file(tmp_path, when):
    root = make_tree("lasot", tmp_path / "lasot")
    for name in ("person-1", "person-2"):
        (root / "person" / name / "groundtruth.txt").write_text("1,2,3,4\n1,2,three,4\n")
    args = ["--data", f"lasot={root}", "--epochs", "1", "--batch-size", "2", "--samples-per-epoch", "4",
            "--out", str(tmp_path / "out"), "--no-progress", "--threads", "1"]  # fmt: skip
    args += ["--check-data", "--workers", "0"] if when == "--check-data" else ["--workers", "1"]
    result = CliRunner().invoke(_cli(), args)
    assert result.exit_code == 2, result.output
    assert "groundtruth.txt:2: expected 4 numbers" in result.output and "1,2,three,4" in result.output
    assert "Traceback" not in result.output


def test_command_line_fine_tunes_from_weights(tmp_path):
    root = make_tree("folder", tmp_path / "data")
    first = train(_config(tmp_path, root))
    args = ["--data", f"folder={root}", "--weights", str(first), "--backbone-lr-multiplier", "1", "--epochs", "1",
            "--batch-size", "2", "--samples-per-epoch", "4", "--workers", "0", "--out", str(tmp_path / "tune"),
            "--no-progress", "--threads", "1"]  # fmt: skip
    result = CliRunner().invoke(_cli(), args)
    assert result.exit_code == 0, result.output
    assert f"weights: {first}" in result.output and "lr 0.0004, backbone 0.0004" in result.output
    assert checkpoint_path(tmp_path / "tune", 1).is_file()


@pytest.mark.skipif(default_checkpoint() is None, reason="no demo weights installed")
def test_command_line_fine_tunes_from_the_deploy_form_demo_weights(tmp_path):
    """The shipped demo weights are in deploy form (OPE fused): --weights un-fuses them exactly
    and says so; the training-form checkpoint it writes loads back into the deploy model."""
    root = make_tree("folder", tmp_path / "data")
    args = ["--data", f"folder={root}", "--weights", str(default_checkpoint()), "--epochs", "1", "--batch-size", "2",
            "--samples-per-epoch", "4", "--workers", "0", "--out", str(tmp_path / "tune"), "--no-progress",
            "--threads", "1"]  # fmt: skip
    result = CliRunner().invoke(_cli(), args)
    assert result.exit_code == 0, result.output
    assert "deploy form: OPE un-fused into its training form" in result.output
    assert load_checkpoint(build_model("tiny"), checkpoint_path(tmp_path / "tune", 1)).deployed


def test_negative_backbone_multiplier_is_refused(tmp_path):
    with pytest.raises(ValueError, match="must not be negative, got -1"):
        _config(tmp_path, tmp_path, backbone_lr_multiplier=-1.0)


def test_command_line_refuses_bad_options(tmp_path):
    result = CliRunner().invoke(_cli(), ["--data", "imagenet=/x", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unknown dataset 'imagenet'" in result.output
    root = make_tree("folder", tmp_path / "data")
    args = ["--data", f"folder={root}", "--samples-per-epoch", "1", "--batch-size", "4", "--threads", "1"]
    result = CliRunner().invoke(_cli(), args)
    assert result.exit_code == 2 and "less than one batch" in result.output


def test_two_processes_under_torchrun(tmp_path):
    """DDP with gloo: two CPU processes train a few iterations; rank 0 writes one checkpoint."""
    if shutil.which("torchrun") is None and not (Path(sys.executable).parent / "torchrun").exists():
        pytest.skip("torchrun is not installed")
    root = make_tree("trackingnet", tmp_path / "tn")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "asymtrack_deploy.cli.main", "train", "--data", f"trackingnet={root}", "--epochs", "1",
           "--batch-size", "2", "--samples-per-epoch", "8", "--workers", "0", "--out", str(out),
           "--no-progress"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "OMP_NUM_THREADS": "1"}  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "2 x cpu" in proc.stderr
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["AsymTrack_ep0001.pth.tar"]
    rows = (out / "log.csv").read_text().splitlines()
    assert rows[-1].split(",")[:3] == ["1", "2", "8"]  # 2 steps of 2 per process x 2 processes
    load_checkpoint(build_model("tiny"), out / "checkpoints" / "AsymTrack_ep0001.pth.tar")


def test_grad_scaler_path_unscales_before_clipping(tmp_path):
    """The CUDA fp16 path (scale, unscale, clip, step, update), exercised with a CPU GradScaler."""
    torch.manual_seed(0)
    model = build_model("tiny", train=True)
    pairs = PairDataset([SequenceFolder(make_tree("folder", tmp_path))], None, Augmentation.for_variant(model.cfg), 4)
    batch = torch.utils.data.default_collate([pairs[i] for i in range(2)])
    optimizer = build_optimizer(model, RECIPES["tiny"])
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    stats = train_step(model, batch, optimizer, model.cfg, torch.device("cpu"), amp=True, scaler=scaler)
    assert stats["loss"] > 0 and scaler.get_scale() in (1024.0, 512.0)
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    norm = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))
    # Clipped to 0.1 after unscaling; clipping the scaled gradients would leave about 0.1 / 1024.
    assert 0.05 < norm <= 0.1 + 1e-4


def test_cuda_request_without_cuda_is_explained():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    from asymtrack_deploy.train.trainer import setup_distributed

    with pytest.raises(RuntimeError, match="no CUDA device"):
        setup_distributed("cuda")
    with pytest.raises(ValueError, match="expected auto, cpu, cuda"):
        setup_distributed("tpu")
