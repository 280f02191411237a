"""Train AsymTrack with the official recipe (one process, or DDP under torchrun).

Data: GOT-10k, LaSOT, TrackingNet, COCO, folders of sequences, procedural sequences. Several
processes: torchrun --nproc_per_node N -m asymtrack_deploy.cli.main train ... (--batch-size is
per process, --samples-per-epoch is the total).
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .console import err, fail, out
from .options import Variant

NO_ARGS_IS_HELP = True


def command(
    data: Annotated[
        list[str],
        typer.Option(
            help="NAME[:RATIO]=ROOT, repeatable. NAME: got10k, lasot, trackingnet, coco, folder, procedural "
            "(procedural=SEED renders on the fly; procedural=DIR reads rendered sequences).",
        ),
    ],
    variant: Annotated[Variant, typer.Option(help="Model variant.")] = Variant.tiny,
    split: Annotated[
        Optional[list[str]],
        typer.Option(help="NAME=FILE: a split file for got10k (indices into list.txt or names) or lasot (names)."),
    ] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Epochs (recipe: 500; lr x0.1 after 4/5 of them).")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Batch per process (recipe: 64; base: 4).")] = None,
    samples_per_epoch: Annotated[
        Optional[int], typer.Option(help="Pairs per epoch over all processes (recipe: 60000).")
    ] = None,
    workers: Annotated[Optional[int], typer.Option(help="Data-loading workers per process.")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Base learning rate (recipe: 4e-4).")] = None,
    backbone_lr_multiplier: Annotated[
        Optional[float],
        typer.Option(help="Backbone lr factor (recipe: 0.1 for tiny and base, 1 for small; use 1 from scratch)."),
    ] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue from a checkpoint written by train.")] = None,
    weights: Annotated[
        Optional[Path],
        typer.Option(help="Start from these weights to fine-tune: fresh optimiser and schedule. An official or "
                     "train checkpoint, or a deploy-form file (the demo weights): each fused OPE kernel is "
                     "un-fused into an exact training form (theta 0, three equal branches), same outputs "
                     "but not the original branches."),  # fmt: skip
    ] = None,
    pretrained_backbone: Annotated[
        Optional[Path], typer.Option(help="ImageNet EfficientMod-xxs weights for the backbone.")
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder (log.csv, checkpoints/).")] = Path("runs/train"),
    save_every: Annotated[int, typer.Option(help="Write a checkpoint every K epochs (and after the last).")] = 10,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N (under torchrun: cuda:LOCAL_RANK).")] = "auto",
    amp: Annotated[bool, typer.Option(help="Mixed precision (bf16 on CPU, fp16 on CUDA).")] = True,
    seed: Annotated[int, typer.Option(help="Seed for initial weights and sampling.")] = 0,
    check_data: Annotated[bool, typer.Option(help="Parse every annotation file before training.")] = False,
    log_every: Annotated[int, typer.Option(help="Write a log.csv row every N steps (and one per epoch).")] = 50,
    threads: Annotated[
        Optional[int], typer.Option(help="torch CPU threads per process (default on CPU: its cores minus workers).")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    from ..datasets import DatasetError
    from ..models import CheckpointError
    from ..train import PretrainedError, TrainConfig, Trainer, TrainingDiverged

    try:
        config = TrainConfig(
            variant=variant.value, data=tuple(data), splits=_splits(split or []), out=out_dir, epochs=epochs,
            batch_size=batch_size, samples_per_epoch=samples_per_epoch, workers=workers, lr=lr,
            backbone_lr_multiplier=backbone_lr_multiplier, save_every=save_every, resume=resume, weights=weights,
            pretrained_backbone=pretrained_backbone, device=device,
            amp=amp, seed=seed, progress=progress, check_data=check_data, log_every=log_every, threads=threads,
        )  # fmt: skip
        trainer = Trainer(config)
    except (ValueError, FileNotFoundError, RuntimeError) as exc:  # includes the error types above
        fail(str(exc))
    _announce(trainer)
    try:
        last = trainer.run()
    except (DatasetError, CheckpointError, PretrainedError, FileNotFoundError, TrainingDiverged) as exc:
        fail(_message(exc))
    finally:
        trainer.close()
    if trainer.dist.main:
        _report(trainer, last)


def _message(exc: Exception) -> str:
    """The error itself, without the worker traceback DataLoader puts in front of it."""
    text = str(exc)
    if "Original Traceback" in text:
        last = [line for line in text.splitlines() if line.strip()][-1]
        return last.split(": ", 1)[1] if last.split(": ", 1)[0].endswith("Error") else last
    return text


def _splits(items: list[str]) -> dict[str, str]:
    splits = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise typer.BadParameter(f"{item!r}: expected NAME=FILE", param_hint="--split")
        splits[name.lower()] = path
    return splits


def _announce(trainer) -> None:
    if not trainer.dist.main:
        return
    c = trainer.config
    where = f"{trainer.dist.world_size} x {trainer.dist.device.type}"
    err.print(
        f"AsymTrack-{c.variant}: epochs {trainer.start_epoch}..{c.epochs}, "
        f"batch {c.batch_size} per process on {where}, "
        f"{c.samples_per_epoch} pairs per epoch, AMP {'on' if c.amp else 'off'}"
    )
    for spec, dataset in zip(c.specs(), trainer.datasets):
        err.print(f"  data: {spec.name} x{spec.ratio:g}: {dataset!r}")
    if trainer.pretrained is not None:
        err.print(f"  backbone: {len(trainer.pretrained['loaded'])} tensors from {c.pretrained_backbone}")
    if c.weights:
        form = " (deploy form: OPE un-fused into its training form, theta 0, same outputs)" if trainer.weights_unfused else ""
        err.print(f"  weights: {c.weights}{form}")
    groups = trainer.optimizer.param_groups
    err.print(f"  lr {groups[0]['base_lr']:.2g}, backbone {groups[1]['base_lr']:.2g}")
    scratch = trainer.pretrained is None and not c.weights and not c.resume
    if scratch and groups[1]["base_lr"] < groups[0]["base_lr"]:
        err.print(f"  [yellow]note:[/] from scratch with the recipe's backbone lr x{groups[1]['base_lr'] / groups[0]['base_lr']:.2g}: "
                  "the recipe assumes an ImageNet-pretrained backbone. Give --pretrained-backbone FILE (EfficientMod-xxs "
                  "model_best.pth.tar, the official README's \"backbone model\" link), or --backbone-lr-multiplier 1 "
                  "(learns far faster from scratch)")


def _report(trainer, last) -> None:
    info = trainer.info
    if info:
        out.print(f"epoch {info['epoch']}: loss {info['loss']:.4f}, GIoU loss {info['giou']:.4f}, "
                  f"L1 {info['l1']:.4f}, IoU {info['iou']:.3f}")  # fmt: skip
    out.print(f"log: {trainer.log.path}")
    if last is not None:
        out.print(f"checkpoint: {last}")
