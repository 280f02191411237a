"""The ``openvino`` target: OpenVINO IR (``template.xml/.bin``, ``search.xml/.bin``) in a bundle.

Steps, in a staging folder that becomes the bundle only if all pass: the fp32 ONNX graphs (the
``onnx`` target, checked and parity-verified, kept in the bundle), ``openvino.convert_model``
on each, then per precision:

* fp32: the IR as converted; the CPU inference precision is pinned to f32 (recent OpenVINO runs
  bf16 on CPUs that have it, which breaks fp32 parity silently). The manifest's
  ``runtime.inference_precision_hint`` says so and the backend applies it.
* fp16: weights compressed to fp16 in the IR (half the files) and inference precision f16
  where the device computes in fp16 (GPUs, CPUs with AVX512-FP16 or ARM fp16); on other CPUs
  the backend runs it in f32, never in the bf16 that OpenVINO would substitute (bf16's 8-bit
  mantissa misses the fp16 tolerance: 1.8e-2 box error on AsymTrack-tiny).
* int8: post-training quantization with NNCF on the OpenVINO model, both graphs, over
  calibration crops (``calibration.py``); the search graph's state inputs are calibrated with the
  state of each pair's own template crop. ``model_type=TRANSFORMER`` keeps the attention and
  normalisation arithmetic in float (and adds SmoothQuant before the MatMuls), which on AsymTrack
  halves the box error of the default CNN scheme at the same speed. Ops left in float run in
  the device's default precision: bf16 on CPUs with it, which runs the search step ~15 %
  faster than f32 there for about the same mean error (int8 dominates it); pin f32 with
  ``OpenVinoBackend(..., inference_precision="f32")`` when the worst frame matters more.

Every export ends with the parity check of the IR, run by the ``openvino`` backend on the
device given (CPU by default), against the PyTorch model with the precision's box tolerance.
"""
from __future__ import annotations

import copy
import os
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx

from ..bundle import Bundle, load_bundle, write_manifest
from ..runtimes.base import require
from ..tracker_spec import InferenceSpec
from .calibration import DEFAULT_COUNT, CalibrationSet
from .onnx_target import DEFAULT_OPSET
from .parity import measure_parity, parity_crops
from .quantize import (
    BOX_TOLERANCES,
    CalibrationFeeds,
    calibration_feeds,
    calibration_for,
    check_precision,
    derived_manifest,
    parity_pairs_for,
    source_bundle,
)
from .simplify import DEFAULT_SIMPLIFIER
from .staging import staged_bundle
from .weights import prepare_model

__all__ = ["export_openvino", "IR_FILES", "INFERENCE_PRECISION"]

IR_FILES = {"template": ("template.xml", "template.bin"), "search": ("search.xml", "search.bin")}
# precision -> the CPU inference precision pinned in the manifest (None: the device's default)
INFERENCE_PRECISION = {p: InferenceSpec.for_precision(p).openvino_precision_hint for p in ("fp32", "fp16", "int8")}


def export_openvino(
    checkpoint: str | os.PathLike | None,
    variant: str,
    out_dir: str | os.PathLike,
    batch: int = 1,
    force: bool = False,
    *,
    precision: str = "fp32",
    calib: str | os.PathLike | None = None,
    calib_count: int = DEFAULT_COUNT,
    calib_seed: int = 0,
    calib_box=None,
    opset: int = DEFAULT_OPSET,
    simplifier: str = DEFAULT_SIMPLIFIER,
    random_weights: bool = False,
    seed: int = 0,
    parity_pairs: int | None = None,
    box_tolerance: float | None = None,
    device: str = "CPU",
) -> Bundle:
    """Export ``checkpoint`` as an OpenVINO bundle in ``out_dir`` and return it, loaded.

    ``calib``: the int8 calibration source (video, image folder, sequence folder with
    groundtruth.txt; None: the built-in sequence), ``calib_count`` pairs drawn with
    ``calib_seed``. Raises ValueError for bad input (and a bad calibration source, before
    anything is written), ParityError when the IR misses the PyTorch boxes by more than the
    precision's tolerance, BackendUnavailable (an ImportError) without openvino or nncf.
    On any error no bundle is written.
    """
    check_precision(precision, "openvino")
    ov = require("openvino", "openvino")
    pairs = parity_pairs_for(batch, parity_pairs)
    tolerance = BOX_TOLERANCES[precision] if box_tolerance is None else box_tolerance
    if precision == "int8":
        require("nncf", "openvino")
    calib_set = calibration_for(variant, precision, calib, calib_count, calib_seed, calib_box)
    weights = {"checkpoint": checkpoint, "random_weights": random_weights, "seed": seed}
    with staged_bundle(out_dir, force) as stage:
        started = time.perf_counter()
        onnx_manifest = source_bundle(stage, variant=variant, batch=batch, opset=opset, simplifier=simplifier,
                                      **weights)
        feeds = calibration_feeds(stage, onnx_manifest, calib_set) if calib_set is not None else None
        export, calibration = _convert(ov, stage, precision, feeds, calib_set)
        manifest = derived_manifest(
            onnx_manifest, "openvino", precision, _files(), export, _runtime(ov, precision), calibration
        )
        manifest = write_manifest(stage, manifest)
        model, _ = prepare_model(variant, checkpoint, random_weights, seed)
        parity = run_parity(stage, model, batch, pairs, tolerance, device)
        export = {**manifest.export, "seconds": round(time.perf_counter() - started, 2)}
        write_manifest(stage, replace(manifest, parity=parity, export=export))
    return load_bundle(out_dir)


def _files() -> dict[str, dict[str, str]]:
    return {g: {"openvino_xml": xml, "openvino_bin": bin_} for g, (xml, bin_) in IR_FILES.items()}


def _runtime(ov, precision: str) -> dict:
    return {
        "openvino": ov.get_version(),
        "inference_precision_hint": INFERENCE_PRECISION[precision],
        "performance_hint": "LATENCY",
    }


def _convert(ov, stage: Path, precision: str, feeds: CalibrationFeeds | None, calib: CalibrationSet | None):
    """Convert (and for int8 quantize) both graphs into IR files; the export and calibration
    records for the manifest."""
    record = {"converter": f"openvino.convert_model ({ov.get_version()})",
              "ir_weights": "fp16 (compress_to_fp16)" if precision == "fp16" else "fp32"}
    calibration = None
    for graph, (xml, _) in IR_FILES.items():
        proto, isolated = isolate_einsum_operands(onnx.load(str(stage / f"{graph}.onnx")))
        record.setdefault("einsum_operands_isolated", {})[graph] = isolated
        model = _convert_proto(ov, proto, stage / f".{graph}.openvino-input.onnx")
        if precision == "int8":
            model, quant = _quantize(model, getattr(feeds, graph))
            record.setdefault("quantizer", {})[graph] = quant
        ov.save_model(model, str(stage / xml), compress_to_fp16=precision == "fp16")
    if precision == "int8":
        calibration = {**calib.record, "pairs_used": feeds.pairs,
                       "state": "each search crop is calibrated with the state of its own template crop "
                                "(fp32 template graph in ONNX Runtime)"}
    return record, calibration


def _convert_proto(ov, proto: onnx.ModelProto, scratch: Path):
    """``convert_model`` on an in-memory graph (it reads files, not ModelProtos)."""
    onnx.save_model(proto, str(scratch))
    try:
        return ov.convert_model(str(scratch))
    finally:
        scratch.unlink()


def isolate_einsum_operands(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """Give every Einsum operand that other nodes also read a buffer of its own: the operand
    is scaled by 2 and the Einsum's result by 0.5 (exact in floating point: powers of two).

    Why: OpenVINO's CPU plugin (seen with 2026.4) decomposes Einsum into in-place views
    (Reshape/Transpose) of its operands, and when such an operand also feeds a residual Add,
    the Add can overwrite it in place before the Einsum reads it, or the reverse. On AsymTrack's
    template graph this corrupts the stage-2 template state (errors of 5.0 on values of 16)
    while ONNX Runtime and OpenVINO with the tensors marked as outputs agree to 1e-6. The
    Multiply forces a copy; it costs one elementwise pass per Einsum. Returns the rewritten
    graph (a copy) and the number of Einsum nodes changed.
    """
    model = copy.deepcopy(model)
    graph = model.graph
    readers = Counter(name for node in graph.node for name in node.input)
    inputs = {i.name for i in graph.input}
    nodes, changed = [], 0
    for node in graph.node:
        shared = [k for k, name in enumerate(node.input) if readers[name] > 1 or name in inputs]
        if node.op_type != "Einsum" or not shared:
            nodes.append(node)
            continue
        nodes.extend(_scaled_einsum(graph, node, shared))
        changed += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return model, changed


def _scaled_einsum(graph: onnx.GraphProto, node: onnx.NodeProto, shared: list[int]) -> list[onnx.NodeProto]:
    from onnx import helper, numpy_helper

    prefix = node.name or node.output[0]
    scale = numpy_helper.from_array(np.array(2.0, np.float32), f"{prefix}/isolate_scale")
    unscale = numpy_helper.from_array(np.array(0.5 ** len(shared), np.float32), f"{prefix}/isolate_unscale")
    graph.initializer.extend([scale, unscale])
    inputs, added = list(node.input), []
    for k in shared:
        inputs[k] = f"{prefix}/isolated_{k}"
        added.append(helper.make_node("Mul", [node.input[k], scale.name], [inputs[k]], name=f"{prefix}/isolate_{k}"))
    result = f"{prefix}/isolated_out"
    equation = helper.get_attribute_value(node.attribute[0])
    einsum = helper.make_node("Einsum", inputs, [result], name=node.name, equation=equation)
    added += [einsum, helper.make_node("Mul", [result, unscale.name], list(node.output), name=f"{prefix}/isolate_out")]
    return added


def _quantize(model, feeds: list[dict]):
    import nncf

    started = time.perf_counter()
    quantized = nncf.quantize(
        model,
        nncf.Dataset(feeds),
        subset_size=len(feeds),
        model_type=nncf.ModelType.TRANSFORMER,
    )
    record = {
        "tool": f"nncf.quantize ({nncf.__version__})",
        "model_type": "TRANSFORMER",
        "preset": "PERFORMANCE (symmetric int8)",
        "subset_size": len(feeds),
        "seconds": round(time.perf_counter() - started, 2),
    }
    return quantized, record


def run_parity(stage: Path, model, batch: int, pairs: int, tolerance: float, device: str) -> dict:
    """The staged IR in the openvino backend against the PyTorch model."""
    from ..runtimes.openvino_backend import OpenVinoBackend

    crops = parity_crops(model.cfg, pairs=pairs)
    with OpenVinoBackend(bundle=stage, device=device) as backend:
        figures = measure_parity(backend, model, crops, batch, tolerance)
        extra = backend.info.extra
        precision = extra["inference_precision"]
        figures["runtime"] = f"openvino {extra['openvino']} {extra['device']} (inference precision {precision})"
    return figures
