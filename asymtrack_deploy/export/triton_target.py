"""The ``triton`` target: a Triton model repository (``serving.write_repository``) around a bundle.

A converter of the export pipeline that delegates to the converter of the bundle the server
runs (``openvino``, the default, or ``onnxruntime``: option ``backend``), so that bundle is
exported, checked and parity-verified exactly as that target's; then ``finish`` wraps the
verified bundle in the repository (the repository logic lives in ``serving``, so a bundle
exported earlier can be served without torch). One extra graph: for the stateless ``search``
model that Triton's stock backends run, the search graph traced once more with a dynamic batch
axis (Triton's dynamic batcher sends any batch up to ``max_batch``), fp32, checked against
PyTorch at batch 1 and 3. Bundles keep static shapes.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import onnx

from .. import catalogue
from ..parity import ParityError, parity_crops, tolerance_for
from ..serving.repository import BUNDLE_FOLDER, RECORD_NAME, TRACKER_MODEL, serving_backends, write_repository
from .onnx_graphs import trace
from .pipeline import Conversion, ConversionJob, Converter
from .wrappers import SearchGraph, TemplateGraph

__all__ = ["TritonConverter", "dynamic_search_graph"]


class TritonConverter(Converter):
    """``backend``: the runtime inside the server; ``instances``, ``max_batch``, ``threads``,
    ``idle_seconds``, ``device``: the tracker model's settings (``serving.TrackerOptions``)."""

    target = "triton"
    marker = RECORD_NAME
    delivery = "a Triton model repository"

    def __init__(self, backend: str = "openvino", instances: int = 1, max_batch: int = 8,
                 threads: int | None = None, idle_seconds: float = 60.0, device: str | None = None):
        served = serving_backends()  # backend -> its serving facts, the target of its bundle among them
        if backend not in served:
            raise ValueError(f"--backend for --target triton must be {' or '.join(served)}, got {backend!r}")
        entry = catalogue.target_entry(served[backend].export_target)
        self.inner = catalogue.load_object(entry.converter)()
        self.bundle_target, self.parity_backend, self.backend = entry.name, entry.backend, backend
        self.serving = {"instances": instances, "max_batch": max_batch, "threads": threads,
                        "idle_seconds": idle_seconds, "device": device}

    def prepare(self, precision: str) -> None:
        self.inner.prepare(precision)

    def convert(self, job: ConversionJob) -> Conversion:
        return self.inner.convert(job)

    def backend_options(self) -> dict:
        return self.inner.backend_options()

    def finish(self, stage: Path, job: ConversionJob) -> None:
        """Move the verified bundle aside, write the repository around it into ``stage``."""
        bundle, scratch = stage / ".bundle", stage / ".scratch"
        _move_entries(stage, bundle, scratch)
        search_onnx = dynamic_search_graph(job.model, scratch, job.source.opset, self.inner.stock_server_graph)
        repository = stage / ".repository"
        write_repository(bundle, repository, backend=self.backend, search_onnx=search_onnx, **self.serving)
        shutil.rmtree(bundle)
        shutil.rmtree(scratch)
        _move_entries(repository, stage)
        os.rmdir(repository)

    def bundle_path(self, out_dir: Path) -> Path:
        return out_dir / TRACKER_MODEL / "1" / BUNDLE_FOLDER


def _move_entries(source: Path, target: Path, *also: Path) -> None:
    """Every entry of ``source`` into ``target`` (created), except ``target`` and ``also``."""
    target.mkdir(exist_ok=True)
    for folder in also:
        folder.mkdir(exist_ok=True)
    keep = {target, *also}
    for entry in list(source.iterdir()):
        if entry not in keep:
            os.replace(entry, target / entry.name)


def dynamic_search_graph(model, folder: Path, opset: int, for_server=lambda proto: proto) -> Path:
    """The search graph with a dynamic batch axis, as the served runtime's stock Triton backend
    reads it (``for_server``: the inner converter's ``stock_server_graph``), checked, saved as
    ``folder/search_dynamic.onnx``."""
    wrapper = SearchGraph(model)
    names = [*wrapper.input_names, *wrapper.output_names]
    proto = for_server(trace(wrapper, 2, opset, dynamic_axes={name: {0: "batch"} for name in names}))
    onnx.checker.check_model(proto, full_check=True)
    path = folder / "search_dynamic.onnx"
    onnx.save_model(proto, str(path))
    _check_batches(path, model, wrapper)
    return path


def _check_batches(path: Path, model, wrapper: SearchGraph) -> None:
    """ONNX Runtime at batch 1 and 3 against PyTorch on real crops (fp32 tolerance)."""
    import onnxruntime as ort
    import torch

    crops = parity_crops(model.cfg, pairs=3)
    with torch.no_grad():
        state = TemplateGraph(model)(torch.from_numpy(crops.templates))
        reference, _ = wrapper(torch.from_numpy(crops.searches), *state)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    tolerance = tolerance_for("fp32").box
    for rows in (1, 3):
        feeds = dict(zip(names, [crops.searches[:rows], *(s[:rows].numpy() for s in state)]))
        box, _ = session.run(None, feeds)
        diff = float(np.abs(box - reference[:rows].numpy()).max())
        if diff > tolerance:
            raise ParityError(f"the dynamic-batch search graph misses PyTorch by {diff:.3g} at batch {rows} "
                              f"(tolerance {tolerance})")
