"""The training loop: one process, or one per device under ``torchrun`` (DDP).

Under torchrun (WORLD_SIZE > 1) every process joins a process group (gloo on CPU, nccl on CUDA),
wraps the model in DistributedDataParallel (unused parameters allowed, buffers not broadcast, as
the official trainer does), and reads its own share of each epoch's samples (``RankSampler``).
Only rank 0 writes logs and checkpoints. ``--batch-size`` is per process, as in the official
recipe, and ``--samples-per-epoch`` is the total over all processes.

Mixed precision: ``torch.autocast`` in bfloat16 on CPU, float16 with a GradScaler on CUDA (the
gradients are unscaled before clipping). The loss is computed in float32.
"""
from __future__ import annotations

import csv
import inspect
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..limits import check_threads
from ..models import CheckpointError, build_model, is_deploy_form, load_checkpoint, read_state_dict, save_checkpoint
from ..outputs import check_writable
from .data import DataSpec, build_dataset, parse_data_spec
from .losses import tracking_loss
from .pairs import Augmentation, PairDataset, RankSampler, normalize_crops
from .pretrained import load_pretrained_backbone
from .recipe import RECIPES, build_optimizer, freeze_backbone_batchnorm, init_weights, lr_scale, set_epoch_lr

__all__ = ["TrainConfig", "Trainer", "train", "train_step", "checkpoint_path", "expected_lr"]

STAT_NAMES = ("loss", "giou", "l1", "iou")


@dataclass
class TrainConfig:
    """Everything a run needs; ``None`` means 'the official recipe value for this variant'."""

    variant: str = "tiny"
    data: tuple[str, ...] = ("procedural=0",)
    splits: dict[str, str] = field(default_factory=dict)
    out: Path = Path("runs/train")
    epochs: int | None = None
    batch_size: int | None = None
    samples_per_epoch: int | None = None
    workers: int | None = None
    lr: float | None = None
    backbone_lr_multiplier: float | None = None
    save_every: int = 10
    resume: Path | None = None
    pretrained_backbone: Path | None = None
    weights: Path | None = None  # start from these weights (fine-tuning): fresh optimiser and schedule
    device: str = "auto"
    amp: bool = True
    seed: int = 0
    log_every: int = 50
    progress: bool = True
    check_data: bool = False
    threads: int | None = None  # None: on CPU, the process's share of cores minus loader workers
    procedural_sequences: int = 1000
    procedural_length: int = 200

    def __post_init__(self):
        if self.variant not in RECIPES:
            raise ValueError(f"unknown variant {self.variant!r}: expected one of {', '.join(RECIPES)}")
        recipe = RECIPES[self.variant]
        self.out = Path(self.out)
        self.epochs = recipe.epochs if self.epochs is None else self.epochs
        self.batch_size = recipe.batch_size if self.batch_size is None else self.batch_size
        self.samples_per_epoch = recipe.samples_per_epoch if self.samples_per_epoch is None else self.samples_per_epoch
        for name in ("epochs", "batch_size", "samples_per_epoch", "save_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        check_threads(self.threads, "--threads")
        if not self.data:
            raise ValueError("no training data: give at least one --data NAME=ROOT")
        if self.backbone_lr_multiplier is not None and self.backbone_lr_multiplier < 0:
            raise ValueError(f"backbone lr multiplier must not be negative, got {self.backbone_lr_multiplier}")
        starts = [f"--{n.replace('_', '-')}" for n in ("resume", "weights", "pretrained_backbone") if getattr(self, n)]
        if len(starts) > 1:
            raise ValueError(f"{' and '.join(starts)}: a run starts from one of them, not several")

    def specs(self) -> list[DataSpec]:
        return [parse_data_spec(d, self.splits) for d in self.data]

    def to_record(self) -> dict:
        """Plain types only, so the checkpoint stays loadable with weights_only=True."""
        return {k: _plain(v) for k, v in asdict(self).items()}


def _plain(value):
    if isinstance(value, Path):
        return str(value)
    return list(value) if isinstance(value, tuple) else value


def checkpoint_path(out: Path, epoch: int) -> Path:
    """Named like the official trainer's files."""
    return Path(out) / "checkpoints" / f"AsymTrack_ep{epoch:04d}.pth.tar"


# --------------------------------------------------------------------------------------------
# Distributed set-up
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dist:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def _pick_device(choice: str, local_rank: int) -> torch.device:
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError("--device cuda: no CUDA device is available to this torch build")
        index = local_rank if choice == "cuda" else torch.device(choice).index
        torch.cuda.set_device(index)
        return torch.device("cuda", index)
    if choice != "cpu":
        raise ValueError(f"--device {choice!r}: expected auto, cpu, cuda or cuda:N")
    return torch.device("cpu")


def setup_distributed(device_choice: str) -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    device = _pick_device(device_choice, local)
    if world > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(rank, world, local, device)


# --------------------------------------------------------------------------------------------
# One step
# --------------------------------------------------------------------------------------------


def _inputs(batch: dict, device: torch.device, cfg) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    brightness = batch["brightness"].to(device, non_blocking=True)
    z = normalize_crops(batch["template"].to(device, non_blocking=True), brightness[:, 0], cfg.mean, cfg.std)
    x = normalize_crops(batch["search"].to(device, non_blocking=True), brightness[:, 1], cfg.mean, cfg.std)
    return z, x, batch["search_box"].to(device, non_blocking=True)


def train_step(model, batch: dict, optimizer, cfg, device: torch.device, amp: bool = False, scaler=None,
               grad_clip: float = 0.1) -> dict[str, float]:  # fmt: skip
    """Forward, GIoU + L1 loss, backward, clip, update. ``model`` may be DDP-wrapped."""
    z, x, gt = _inputs(batch, device, cfg)
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    with torch.autocast(device.type, dtype=dtype, enabled=amp):
        boxes, _ = model(z, x)
    loss, stats = tracking_loss(boxes, gt)
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
    else:
        loss.backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    return {k: float(v) for k, v in stats.items()}


# --------------------------------------------------------------------------------------------
# Logging
# --------------------------------------------------------------------------------------------


class RunLog:
    """CSV rows (always) and TensorBoard scalars (when tensorboard is installed); rank 0 only."""

    fields = ("epoch", "step", "samples", *STAT_NAMES, "lr", "lr_backbone", "seconds", "samples_per_s", "kind")

    def __init__(self, out: Path, enabled: bool, resumed_at: int | None = None):
        self.enabled = enabled
        self.path = out / "log.csv"
        self.tb = None
        if not enabled:
            return
        out.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists()
        if resumed_at is not None and not new:
            _drop_rows_from(self.path, resumed_at)
        self._file = open(self.path, "a", newline="")
        self._csv = csv.DictWriter(self._file, fieldnames=self.fields)
        if new:
            self._csv.writeheader()
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(out / "tensorboard"))
        except ImportError:
            self.tb = None

    def write(self, row: dict, global_step: int) -> None:
        if not self.enabled:
            return
        self._csv.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        self._file.flush()
        if self.tb is not None:
            for k in (*STAT_NAMES, "lr", "samples_per_s"):
                self.tb.add_scalar(f"{row['kind']}/{k}", row[k], global_step)

    def close(self) -> None:
        if self.enabled:
            self._file.close()
            if self.tb is not None:
                self.tb.close()


def _drop_rows_from(path: Path, epoch: int) -> None:
    """Drop the rows of ``epoch`` and later: a run resumed from the checkpoint of ``epoch - 1``
    writes them again (a run killed after that checkpoint had written some). Atomic rewrite."""
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or "epoch" not in rows[0]:
        return
    column = rows[0].index("epoch")
    kept = [rows[0]] + [r for r in rows[1:] if len(r) > column and r[column].isdigit() and int(r[column]) < epoch]
    if len(kept) == len(rows):
        return
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as fh:
        csv.writer(fh).writerows(kept)
    os.replace(tmp, path)


class Meter:
    """Running sums of the step statistics."""

    def __init__(self):
        self.sums = dict.fromkeys(STAT_NAMES, 0.0)
        self.count = 0

    def add(self, stats: dict[str, float]) -> None:
        for k in STAT_NAMES:
            self.sums[k] += stats[k]
        self.count += 1

    def means(self) -> dict[str, float]:
        return {k: v / max(1, self.count) for k, v in self.sums.items()}

    def reduced(self, dist: Dist) -> dict[str, float]:
        """Means over all ranks."""
        if dist.world_size == 1:
            return self.means()
        t = torch.tensor([*self.sums.values(), float(self.count)], dtype=torch.float64, device=dist.device)
        torch.distributed.all_reduce(t)
        return {k: float(t[i] / max(1.0, float(t[-1]))) for i, k in enumerate(STAT_NAMES)}


# --------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------


class Trainer:
    """Model, optimiser, data and logs built from a ``TrainConfig``; ``run`` trains, ``close``
    leaves the process group. ``train`` does all three."""

    def __init__(self, config: TrainConfig):
        check_writable(config.out, "the training run (--out)", folder=True)  # before minutes of set-up
        self.config = config
        self.recipe = RECIPES[config.variant]
        self.dist = setup_distributed(config.device)
        self.amp = config.amp
        self.model = self._build_model()
        self.optimizer = build_optimizer(self.model, self.recipe, config.lr, config.backbone_lr_multiplier)
        use_scaler = self.amp and self.dist.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda") if use_scaler else None
        self.start_epoch = self._resume() if config.resume else 1
        if self.start_epoch > config.epochs:  # a finished run: nothing to train, which is not success
            raise ValueError(f"{config.resume} finished epoch {self.start_epoch - 1}, and --epochs is {config.epochs}: "
                             f"nothing left to train; pass --epochs {self.start_epoch} or more to train on")
        self.net = self._wrap(self.model)
        self.loader = self._build_loader()
        self.log = RunLog(config.out, self.dist.main, self.start_epoch if config.resume else None)
        self.info: dict = {}

    # -- set-up ------------------------------------------------------------------------------
    def _build_model(self):
        torch.manual_seed(self.config.seed)  # identical initial weights on every rank
        self.pretrained: dict | None = None
        model = init_weights(build_model(self.config.variant, train=True))
        if self.config.pretrained_backbone:
            self.pretrained = load_pretrained_backbone(model, self.config.pretrained_backbone)
        self.weights_unfused = False
        if self.config.weights:
            # official or ours (strict, names the file); deploy form (the demo weights) is un-fused exactly
            self.weights_unfused = is_deploy_form(read_state_dict(self.config.weights))
            load_checkpoint(model, self.config.weights, unfuse=True)
        return model.to(self.dist.device)

    def _resume(self) -> int:
        path = Path(self.config.resume)
        load_checkpoint(self.model, path)  # strict; names the file and the problem
        state = torch.load(path, map_location="cpu", weights_only=True)
        try:
            return self._restore(state)
        except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as exc:
            raise CheckpointError(path, f"its optimiser state or epoch cannot be restored ({type(exc).__name__}: "
                                        f"{str(exc).splitlines()[0] if str(exc) else exc!r}); --weights starts from its "
                                        "weights with a fresh optimiser instead") from exc

    def _restore(self, state: dict) -> int:
        """The optimiser moments, the grad scaler and the epoch of a checkpoint written by train."""
        if "optimizer" in state:
            base_lrs = [group["base_lr"] for group in self.optimizer.param_groups]
            self.optimizer.load_state_dict(state["optimizer"])
            for group, base_lr in zip(self.optimizer.param_groups, base_lrs):  # this command line's lr applies
                group["base_lr"] = base_lr
        if self.scaler is not None and "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])
        epoch = state.get("epoch", 0)
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
            raise ValueError(f"epoch {epoch!r} is not a number of epochs")
        return epoch + 1

    def _wrap(self, model):
        if self.dist.world_size == 1:
            return model
        ids = [self.dist.device.index] if self.dist.device.type == "cuda" else None
        ddp = torch.nn.parallel.DistributedDataParallel
        # Buffers (the head's BatchNorm statistics) stay per rank, as in the official trainer;
        # torch 2.13 renamed the switch.
        no_sync = ("forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(ddp).parameters
                   else "broadcast_buffers")  # fmt: skip
        # The 1x1 output convs get channels-last gradients from oneDNN: a harmless layout hint.
        warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
        return ddp(model, device_ids=ids, find_unused_parameters=True, **{no_sync: False})

    def _build_loader(self):
        cfg, dist = self.config, self.dist
        self.datasets = [build_dataset(s, cfg.procedural_sequences, cfg.procedural_length) for s in cfg.specs()]
        if cfg.check_data:
            for dataset in self.datasets:
                dataset.check()
        pairs = PairDataset(
            self.datasets,
            [s.ratio for s in cfg.specs()],
            Augmentation.for_variant(self.model.cfg, max_gap=self.recipe.max_gap),
            cfg.samples_per_epoch,
            seed=cfg.seed,
        )
        self.sampler = RankSampler(cfg.samples_per_epoch, dist.rank, dist.world_size)
        if len(self.sampler) < cfg.batch_size:
            raise ValueError(
                f"samples per epoch ({cfg.samples_per_epoch}) over {dist.world_size} process(es) is less than one "
                f"batch of {cfg.batch_size}: raise --samples-per-epoch or lower --batch-size"
            )
        workers = cfg.workers if cfg.workers is not None else self._default_workers()
        self._set_threads(workers)
        return torch.utils.data.DataLoader(
            pairs, batch_size=cfg.batch_size, sampler=self.sampler, num_workers=workers, drop_last=True,
            pin_memory=dist.device.type == "cuda", persistent_workers=False,
            # workers start from a clean server process, not a fork of this one: a fork of a process
            # that had run OpenVINO and ONNX Runtime (export, parity, then train, as the tests do)
            # was followed by heap corruption in the parent (a crash in a later GC)
            multiprocessing_context="forkserver" if workers else None,
        )  # fmt: skip

    def _cores(self) -> int:
        return max(1, (os.cpu_count() or 1) // self.dist.world_size)

    def _default_workers(self) -> int:
        return max(0, min(self.recipe.workers, self._cores() - 1))

    def _set_threads(self, workers: int) -> None:
        """On CPU, leave one core per loader worker: oneDNN's spinning threads slow down many
        times over when a core they wait on is busy (measured: 2.2 s vs 7 s per batch of 32 on 2
        cores with one worker)."""
        if self.config.threads:
            torch.set_num_threads(self.config.threads)
        elif self.dist.device.type == "cpu":
            torch.set_num_threads(max(1, self._cores() - workers))

    # -- loop --------------------------------------------------------------------------------
    def run(self) -> Path | None:
        """Train to the last epoch; returns the last checkpoint written (rank 0) or None."""
        cfg, last = self.config, None
        try:
            with self._progress() as progress:
                for epoch in range(self.start_epoch, cfg.epochs + 1):
                    means = self._epoch(epoch, progress)
                    if self.dist.main and (epoch % cfg.save_every == 0 or epoch == cfg.epochs):
                        last = self.save(epoch)
                    self.info = {"epoch": epoch, **means}
        finally:
            self.log.close()
        return last

    def _epoch(self, epoch: int, progress) -> dict[str, float]:
        cfg = self.config
        set_epoch_lr(self.optimizer, epoch, cfg.epochs, self.recipe)
        self.sampler.set_epoch(epoch)
        self.net.train()
        freeze_backbone_batchnorm(self.model)
        meter, window, started = Meter(), Meter(), time.perf_counter()
        task = progress.add_task(f"epoch {epoch}/{cfg.epochs}", total=len(self.loader), stats="")
        for step, batch in enumerate(self.loader, start=1):
            stats = train_step(self.net, batch, self.optimizer, self.model.cfg, self.dist.device, self.amp,
                               self.scaler, self.recipe.grad_clip_norm)  # fmt: skip
            meter.add(stats)
            window.add(stats)
            progress.update(task, advance=1, stats=f"loss {stats['loss']:.3f} IoU {stats['iou']:.3f}")
            if step % cfg.log_every == 0:
                self._log(epoch, step, window.means(), started, "step")
                window = Meter()
        means = meter.reduced(self.dist)
        self._log(epoch, len(self.loader), means, started, "epoch")
        progress.remove_task(task)
        if cfg.progress and self.dist.main:  # one line per epoch, also when stderr is not a terminal
            progress.console.print(self._summary(epoch, means, time.perf_counter() - started))
        return means

    def _summary(self, epoch: int, m: dict, seconds: float) -> str:
        lr = self.optimizer.param_groups[0]["lr"]
        return (f"epoch {epoch}/{self.config.epochs}: loss {m['loss']:.4f} (GIoU {m['giou']:.4f}, L1 {m['l1']:.4f}), "
                f"IoU {m['iou']:.3f}, lr {lr:.2g}, {seconds:.0f} s")  # fmt: skip

    def _log(self, epoch: int, step: int, means: dict, started: float, kind: str) -> None:
        seconds = time.perf_counter() - started
        samples = step * self.config.batch_size * self.dist.world_size
        groups = self.optimizer.param_groups
        row = {"epoch": epoch, "step": step, "samples": samples, **means, "lr": groups[0]["lr"],
               "lr_backbone": groups[1]["lr"], "seconds": seconds, "samples_per_s": samples / max(seconds, 1e-9),
               "kind": kind}  # fmt: skip
        self.log.write(row, (epoch - 1) * len(self.loader) + step)

    def save(self, epoch: int) -> Path:
        extra = {"epoch": epoch, "optimizer": self.optimizer.state_dict(), "config": self.config.to_record()}
        if self.scaler is not None:
            extra["scaler"] = self.scaler.state_dict()
        return save_checkpoint(self.model, checkpoint_path(self.config.out, epoch), **extra)

    def _progress(self):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
        from rich.progress import TimeElapsedColumn, TimeRemainingColumn

        return Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TimeRemainingColumn(), TextColumn("{task.fields[stats]}"),
            console=Console(stderr=True), disable=not (self.config.progress and self.dist.main),
        )  # fmt: skip

    def close(self) -> None:
        if self.dist.world_size > 1 and torch.distributed.is_initialized():
            torch.distributed.barrier()
            torch.distributed.destroy_process_group()


def train(config: TrainConfig) -> Path | None:
    """Run a whole training; returns the last checkpoint path on rank 0 (None elsewhere)."""
    trainer = Trainer(config)
    try:
        return trainer.run()
    finally:
        trainer.close()


def expected_lr(config: TrainConfig, epoch: int) -> float:
    """The base-group learning rate of an epoch (for reports and tests)."""
    recipe = RECIPES[config.variant]
    return (config.lr or recipe.lr) * lr_scale(epoch, config.epochs, recipe)
