"""The ``triton`` target: a Triton model repository (``serving.write_repository``) around a bundle.

Two steps and one extra graph:

1. the inner bundle, exported by the existing target for the chosen backend (``openvino`` or
   ``onnxruntime``), with every option of that target (precision, calibration...), parity
   checked as usual, into a temporary folder;
2. the repository written around it by ``serving.write_repository`` (the logic lives there, so
   a bundle exported earlier can be served without torch);
3. for the stateless ``search`` model that Triton's stock backends run: the search graph traced
   once more with a dynamic batch axis (Triton's dynamic batcher sends any batch up to
   ``max_batch``), fp32, checked against PyTorch at batch 1 and 3. Bundles keep static shapes.

Returns the inner bundle as copied into the repository (``REPO/tracker/1/bundle``), so the
command line shows its manifest and parity like any other target.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch

from ..bundle import Bundle, load_bundle
from ..serving.repository import BUNDLE_FOLDER, TRACKER_MODEL, check_out_dir, write_repository
from .onnx_target import DEFAULT_OPSET, trace
from .parity import BOX_TOLERANCE, ParityError, parity_crops
from .targets import get_exporter
from .weights import prepare_model
from .wrappers import SearchGraph, TemplateGraph

__all__ = ["export_triton", "INNER_TARGETS"]

# serving backend -> the target that exports its bundle
INNER_TARGETS = {"openvino": "openvino", "onnxruntime": "onnxruntime"}


def export_triton(
    checkpoint: str | os.PathLike | None,
    variant: str,
    out_dir: str | os.PathLike,
    batch: int = 1,
    force: bool = False,
    *,
    backend: str = "openvino",
    instances: int = 1,
    max_batch: int = 8,
    threads: int | None = None,
    idle_seconds: float = 60.0,
    random_weights: bool = False,
    seed: int = 0,
    opset: int = DEFAULT_OPSET,
    **target_options,
) -> Bundle:
    """Export ``checkpoint`` as a Triton repository in ``out_dir``; ``target_options`` go to
    the inner target (precision, calib...). No repository is written when any step fails."""
    if backend not in INNER_TARGETS:
        raise ValueError(f"--backend for --target triton must be {' or '.join(INNER_TARGETS)}, got {backend!r}")
    check_out_dir(out_dir, force)
    Path(out_dir).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{Path(out_dir).name}.", dir=Path(out_dir).parent) as scratch:
        inner = Path(scratch) / "bundle"
        get_exporter(INNER_TARGETS[backend])(
            checkpoint, variant, inner, batch, random_weights=random_weights, seed=seed, opset=opset, **target_options
        )
        model, _ = prepare_model(variant, checkpoint, random_weights, seed)
        search_onnx = dynamic_search_graph(model, Path(scratch), opset, backend)
        write_repository(inner, out_dir, backend=backend, instances=instances, max_batch=max_batch, threads=threads,
                         idle_seconds=idle_seconds, search_onnx=search_onnx, force=force)
    return load_bundle(Path(out_dir) / TRACKER_MODEL / "1" / BUNDLE_FOLDER)


def dynamic_search_graph(model, folder: Path, opset: int, backend: str) -> Path:
    """The search graph with a dynamic batch axis, checked, saved as ``folder/search_dynamic.onnx``."""
    wrapper = SearchGraph(model)
    names = [*wrapper.input_names, *wrapper.output_names]
    proto = trace(wrapper, 2, opset, dynamic_axes={name: {0: "batch"} for name in names})
    if backend == "openvino":  # the stock openvino backend reads this ONNX: same fix as the openvino target
        from .openvino_target import isolate_einsum_operands

        proto, _ = isolate_einsum_operands(proto)
    onnx.checker.check_model(proto, full_check=True)
    path = folder / "search_dynamic.onnx"
    onnx.save_model(proto, str(path))
    _check_batches(path, model, wrapper)
    return path


def _check_batches(path: Path, model, wrapper: SearchGraph) -> None:
    """ONNX Runtime at batch 1 and 3 against PyTorch on real crops (fp32 tolerance)."""
    import onnxruntime as ort

    crops = parity_crops(model.cfg, pairs=3)
    with torch.no_grad():
        state = TemplateGraph(model)(torch.from_numpy(crops.templates))
        reference, _ = wrapper(torch.from_numpy(crops.searches), *state)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    for rows in (1, 3):
        feeds = dict(zip(names, [crops.searches[:rows], *(s[:rows].numpy() for s in state)]))
        box, _ = session.run(None, feeds)
        diff = float(np.abs(box - reference[:rows].numpy()).max())
        if diff > BOX_TOLERANCE:
            raise ParityError(f"the dynamic-batch search graph misses PyTorch by {diff:.3g} at batch {rows} "
                              f"(tolerance {BOX_TOLERANCE})")
