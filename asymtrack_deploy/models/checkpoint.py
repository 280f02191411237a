"""Loading and saving AsymTrack checkpoints in the official key layout.

The official trainer saves ``{'net': state_dict}`` with every OPE in its training form
(``rbr_conv.{0,1,2}.weight`` and ``theta``). ``checkpoint_filter_fn`` folds those into the deploy
form (``rbr_reparam.weight``) with the official arithmetic when the target model is deployed, and
on request (``unfuse=True``, for fine-tuning) un-fuses a deploy-form file exactly for a
training-form model; a state dict already in the model's form passes through unchanged. Files
are read with ``torch.load(weights_only=True)``: a checkpoint from the internet must not be able
to run code.
"""
from __future__ import annotations

import os
import re
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch

from .asymtrack import OPE, AsymTrack, build_model

__all__ = ["CheckpointError", "load_checkpoint", "load_model", "read_state_dict", "checkpoint_filter_fn", "save_checkpoint",
           "is_deploy_form"]

_OPE_BRANCH = re.compile(r"^(?P<prefix>.*)\.rbr_conv\.(?P<idx>\d+)\.weight$")
_STAGE_BLOCK = re.compile(r"^backbone\.layers\.(?P<stage>\d+)\.blocks\.(?P<block>\d+)\.gamma_1$")
_FUSED_SUFFIX = ".rbr_reparam.weight"
_SHOWN = 5


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used; the message names the file and the problem."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a checkpoint file safely and return its state dict (the ``net`` entry if present)."""
    path = Path(path)
    return _extract_state_dict(path, _load_file(path))


def _load_file(path: Path) -> object:
    """``torch.load(weights_only=True)`` of ``path``; any failure is a CheckpointError naming it."""
    if not path.is_file():
        raise CheckpointError(path, "no such file")
    if path.stat().st_size == 0:
        raise CheckpointError(path, "the file is empty")
    try:
        with warnings.catch_warnings():  # torch's note on a raw pickle's protocol: the error below says it
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for the same kinds of damage
        raise CheckpointError(path, _describe_load_failure(exc, path)) from exc


def _describe_load_failure(exc: Exception, path: Path) -> str:
    """What is wrong with the file, without torch's advice to retry with ``weights_only=False``:
    that would let an untrusted file run code, and a damaged one would fail anyway."""
    text = str(exc)
    reason = _torch_reason(text) or type(exc).__name__
    if "GLOBAL" in text or "Unsupported global" in text:
        return ("refused: the file holds pickled Python objects beyond tensors, which could run code "
                f"when loaded; only plain state dicts are accepted ({reason})")
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head == b"PK\x03\x04":
        return f"the file is truncated or corrupt ({reason})"
    if head[:1] == b"\x80":  # a pickle's PROTO opcode: pickled by hand, not written by torch.save
        return (f"a raw Python pickle, not a checkpoint written by torch.save ({reason}); it is not unpickled "
                "further, as that could run code from the file: save the weights with torch.save(state_dict)")
    return f"not a PyTorch checkpoint (neither a torch.save archive nor a pickle: {reason})"


def _torch_reason(text: str) -> str:
    """The one informative line of torch's message (the unpickler's own error), or the first
    line that is not torch's weights_only advice."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if line.startswith("WeightsUnpickler error:"):
            rest = line.removeprefix("WeightsUnpickler error:").strip()
            return rest or (lines[i + 1] if i + 1 < len(lines) else "")
    advice = ("weights_only", "Please file an issue", "Check the documentation")
    return next((line for line in lines if not any(a in line for a in advice)), "")


def _extract_state_dict(path: Path, obj: object) -> dict[str, torch.Tensor]:
    if isinstance(obj, Mapping) and "net" in obj:
        obj = obj["net"]
    elif isinstance(obj, Mapping) and "state_dict" in obj:
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError(path, "not a state dict: expected {'net': {name: tensor}} or {name: tensor}")
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(path, f"entries that are not tensors: {', '.join(map(str, bad[:_SHOWN]))}")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def checkpoint_filter_fn(
    state_dict: Mapping[str, torch.Tensor], model: AsymTrack, unfuse: bool = False
) -> dict[str, torch.Tensor]:
    """Map a state dict into ``model``'s form: fuse training-form OPE when the model is deployed;
    with ``unfuse``, un-fuse deploy-form OPE for a training-form model (``OPE.unfused_weights``)."""
    if not model.deployed:
        return _unfused(state_dict) if unfuse else dict(state_dict)
    out = dict(state_dict)
    prefixes = {m["prefix"] for k in state_dict if (m := _OPE_BRANCH.match(k))}
    for prefix in sorted(prefixes):
        keys = sorted((k for k in state_dict if k.startswith(prefix + ".rbr_conv.")), key=_branch_index)
        theta_key = prefix + ".theta"
        if theta_key not in state_dict:
            continue  # reported as a missing/unexpected key by the strict load
        weights = [state_dict[k].float() for k in keys]
        fused = OPE.fused_weight(weights, state_dict[theta_key].float())
        out[prefix + _FUSED_SUFFIX] = fused.to(state_dict[keys[0]].dtype)
        for k in keys + [theta_key]:
            del out[k]
    return out


def _unfused(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Each ``<prefix>.rbr_reparam.weight`` replaced by the exact training form (theta 0, three
    equal branches); training-form entries pass through."""
    out = dict(state_dict)
    for key in [k for k in state_dict if k.endswith(_FUSED_SUFFIX)]:
        prefix = key.removesuffix(_FUSED_SUFFIX)
        fused = out.pop(key)
        weights, theta = OPE.unfused_weights(fused.float())
        out.update({f"{prefix}.rbr_conv.{i}.weight": w.to(fused.dtype) for i, w in enumerate(weights)})
        out[prefix + ".theta"] = theta.to(fused.dtype)
    return out


def is_deploy_form(state_dict: Mapping[str, torch.Tensor]) -> bool:
    """Whether a state dict holds fused OPE kernels (deploy form) rather than their branches."""
    return any(k.endswith(_FUSED_SUFFIX) for k in state_dict)


def _branch_index(key: str) -> int:
    return int(_OPE_BRANCH.match(key)["idx"])


def _stage_depths(state_dict: Mapping[str, torch.Tensor]) -> dict[int, int]:
    depths: dict[int, int] = {}
    for key in state_dict:
        if m := _STAGE_BLOCK.match(key):
            stage = int(m["stage"])
            depths[stage] = depths.get(stage, 0) + 1
    return depths


def _check_variant(path, state_dict, model: AsymTrack) -> None:
    found = _stage_depths(state_dict)
    expected = model.cfg.depths
    for stage, depth in enumerate(expected):
        if stage in found and found[stage] != depth:
            fits = [name for name, cfg in _variants().items() if cfg.depths[stage] == found[stage]]
            which = " or ".join(fits) if fits else "no known variant"
            raise CheckpointError(
                path,
                f"this checkpoint has {found[stage]} blocks in stage {stage + 1}: it is {which}, "
                f"not {model.cfg.name} ({depth} blocks)",
            )


def _check_recorded_variant(path, obj: object, model: AsymTrack) -> None:
    """``train`` records the variant: small and base share every key and shape, so only this
    record tells a small checkpoint from a base one."""
    recorded = obj.get("variant") if isinstance(obj, Mapping) else None
    if isinstance(recorded, str) and recorded != model.cfg.name:
        raise CheckpointError(path, f"this checkpoint was trained as AsymTrack-{recorded} (its recorded variant), "
                                    f"not {model.cfg.name}: pass --variant {recorded}")


def _check_finite(path, state_dict: Mapping[str, torch.Tensor]) -> None:
    bad = [k for k, v in state_dict.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(path, f"{len(bad)} tensors hold NaN or infinite values (first: "
                                    f"{', '.join(bad[:_SHOWN])}): damaged weights or a diverged training run")


def _variants():
    from .asymtrack import VARIANTS

    return VARIANTS


def _check_keys(path, state_dict, model: AsymTrack) -> None:
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    if not model.deployed and any(k.endswith(_FUSED_SUFFIX) for k in unexpected):
        raise CheckpointError(
            path,
            "this checkpoint is in deploy form (OPE fused into rbr_reparam); a training-form model "
            "needs the unfused rbr_conv/theta weights (load_checkpoint(..., unfuse=True) un-fuses them)",
        )
    problems = []
    if missing:
        problems.append(f"{len(missing)} keys missing (first: {', '.join(missing[:_SHOWN])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys (first: {', '.join(unexpected[:_SHOWN])})")
    shapes = [
        f"{k}: file {tuple(state_dict[k].shape)} vs model {tuple(v.shape)}"
        for k, v in own.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    if shapes:
        problems.append(f"{len(shapes)} shape mismatches (first: {'; '.join(shapes[:_SHOWN])})")
    if problems:
        raise CheckpointError(path, f"does not fit AsymTrack-{model.cfg.name}: " + "; ".join(problems))


def load_checkpoint(model: AsymTrack, path: str | os.PathLike, unfuse: bool = False) -> AsymTrack:
    """Load an official (training-form) or deploy-form checkpoint into ``model``, strictly.

    Floating tensors are converted to the model's dtype before anything else, so a
    half-precision training-form file has its OPE branches fused in fp32 (fusing in fp16 and
    converting afterwards costs 1.8e-4 in the boxes). A deploy-form file goes into a
    training-form model only with ``unfuse=True`` (fine-tuning): each fused OPE kernel becomes
    an exact training form (theta 0, three equal branches), same outputs, not the original
    branches. Returns the model.
    """
    obj = _load_file(Path(path))
    _check_recorded_variant(path, obj, model)
    state_dict = _to_dtype(_extract_state_dict(Path(path), obj), next(model.parameters()).dtype)
    _check_finite(path, state_dict)
    _check_variant(path, state_dict, model)
    state_dict = checkpoint_filter_fn(state_dict, model, unfuse)
    _check_keys(path, state_dict, model)
    model.load_state_dict(state_dict, strict=True)
    return model


def _to_dtype(state_dict: dict[str, torch.Tensor], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    return {k: v.to(dtype) if v.is_floating_point() else v for k, v in state_dict.items()}


def load_model(
    variant: str = "tiny",
    checkpoint: str | os.PathLike | None = None,
    random_weights: bool = False,
    seed: int = 0,
) -> AsymTrack:
    """The deploy-form fp32 model in eval mode on CPU, from ``checkpoint`` or, asked for
    explicitly, from random weights seeded with ``seed``: the one way every caller (export,
    the torch backend) gets its model.

    Random weights are the same for the same seed on any call, and are drawn from a forked RNG
    so that the caller's global RNG state is left alone. Raises CheckpointError (a ValueError)
    for a checkpoint that does not fit ``variant``, ValueError for both or neither source.
    """
    if checkpoint is not None and random_weights:
        raise ValueError("give either a checkpoint or random_weights=True, not both")
    if checkpoint is not None:
        return load_checkpoint(build_model(variant), checkpoint).eval()
    if not random_weights:
        raise ValueError("no weights given: pass a checkpoint, or random_weights=True for a model that runs "
                         "but does not track")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(variant).eval()


def save_checkpoint(model: AsymTrack, path: str | os.PathLike, half: bool = False, **extra) -> Path:
    """Write ``{'net': state_dict, **extra}`` atomically (temporary file, then rename).

    ``half=True`` stores floating tensors as fp16 (for small shipped weights); ``load_checkpoint``
    restores them to the model's dtype.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in model.state_dict().items()}
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save({"net": state, "variant": model.cfg.name, **extra}, tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
