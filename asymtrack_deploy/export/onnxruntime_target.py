"""The ``onnxruntime`` target: ONNX graphs prepared for ONNX Runtime, fp32, fp16 or int8.

Steps, in a staging folder that becomes the bundle only if all pass: the fp32 ONNX graphs (the
``onnx`` target, checked and parity-verified; kept as ``source_onnx``), the precision step, then
ONNX Runtime's graph optimisations applied once, offline, and saved as the graph the backend
runs (role ``onnx``: ``template.<precision>.onnx``, ``search.<precision>.onnx``):

* fp32: the graphs as exported;
* fp16: weights and arithmetic in fp16 by ONNX Runtime's float16 converter (the
  onnxconverter-common one, shipped inside onnxruntime) with ``keep_io_types=True``, so the
  inputs stay uint8 crops and fp32 state and the outputs fp32. Meant for GPU providers: the CPU
  provider lacks fp16 kernels for most ops and is slower in fp16 than in fp32;
* int8: static QDQ quantization (``onnxruntime.quantization.quantize_static``, QDQ format,
  per-channel int8 weights, uint8 activations, MinMax ranges) of Conv, MatMul and Gemm, over
  calibration crops: template crops for the template graph, search crops plus the state of
  their own template crop for the search graph.

Offline optimisation level: ``ORT_ENABLE_EXTENDED``. It adds the fusions that matter here
(LayerNormalization, GELU, MatMul + Add, QDQ -> QLinearConv / QGemm / MatMulIntegerToFloat)
to the BASIC ones and stops short of ``ORT_ENABLE_ALL``, whose layout transformations (NCHWc
blocking) depend on the CPU's vector width and would tie the file to the machine that wrote it
(AVX-512 blocks of 16 do not run as well on AVX2 or ARM). The saved graph therefore runs on any
CPU; at load the backend's session still applies the layout step for the CPU it is on. The
fusions are those of the CPU provider; on a GPU provider export ``--target onnx`` (fp32) instead.
"""
from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

from ..bundle import Bundle, load_bundle, write_manifest
from .calibration import DEFAULT_COUNT
from .onnx_target import DEFAULT_OPSET
from .parity import measure_parity, parity_crops
from .quantize import (
    BOX_TOLERANCES,
    calibration_feeds,
    calibration_for,
    check_precision,
    derived_manifest,
    parity_pairs_for,
    quantize_qdq,
    source_bundle,
)
from .simplify import DEFAULT_SIMPLIFIER
from .staging import staged_bundle
from .weights import prepare_model

__all__ = ["export_onnxruntime", "OPTIMIZATION_LEVEL", "runtime_file"]

OPTIMIZATION_LEVEL = "ORT_ENABLE_EXTENDED"
_GRAPHS = ("template", "search")


def runtime_file(graph: str, precision: str) -> str:
    """The file the backend runs: ``search.int8.onnx``."""
    return f"{graph}.{precision}.onnx"


def export_onnxruntime(
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
) -> Bundle:
    """Export ``checkpoint`` as an ONNX Runtime bundle in ``out_dir`` and return it, loaded.

    Options as ``export_openvino`` (``calib*`` for int8). Raises ValueError for bad input,
    ParityError when ONNX Runtime misses the PyTorch boxes by more than the precision's
    tolerance. On any error no bundle is written.
    """
    check_precision(precision, "onnxruntime")
    pairs = parity_pairs_for(batch, parity_pairs)
    tolerance = BOX_TOLERANCES[precision] if box_tolerance is None else box_tolerance
    calib_set = calibration_for(variant, precision, calib, calib_count, calib_seed, calib_box)
    weights = {"checkpoint": checkpoint, "random_weights": random_weights, "seed": seed}
    with staged_bundle(out_dir, force) as stage:
        started = time.perf_counter()
        onnx_manifest = source_bundle(stage, variant=variant, batch=batch, opset=opset, simplifier=simplifier,
                                      **weights)
        export, calibration = _convert(stage, onnx_manifest, precision, calib_set)
        export.update(_optimize_offline(stage, precision))
        files = {g: {"onnx": runtime_file(g, precision)} for g in _GRAPHS}
        manifest = derived_manifest(onnx_manifest, "onnxruntime", precision, files, export, _runtime(), calibration)
        manifest = write_manifest(stage, manifest)
        model, _ = prepare_model(variant, checkpoint, random_weights, seed)
        parity = run_parity(stage, model, batch, pairs, tolerance)
        export = {**manifest.export, "seconds": round(time.perf_counter() - started, 2)}
        write_manifest(stage, replace(manifest, parity=parity, export=export))
    return load_bundle(out_dir)


def _scratch(stage: Path, graph: str) -> Path:
    return stage / f".{graph}.unoptimized.onnx"


def _convert(stage: Path, manifest, precision: str, calib) -> tuple[dict, dict | None]:
    """The precision step, written to a scratch file per graph; the records for the manifest."""
    if precision == "int8":
        feeds = calibration_feeds(stage, manifest, calib)
        quant = {g: quantize_qdq(stage / f"{g}.onnx", _scratch(stage, g), getattr(feeds, g)) for g in _GRAPHS}
        calibration = {**calib.record, "pairs_used": feeds.pairs,
                       "state": "each search crop is calibrated with the state of its own template crop "
                                "(fp32 template graph in ONNX Runtime)"}
        return {"quantizer": quant}, calibration
    for g in _GRAPHS:
        if precision == "fp16":
            _to_fp16(stage / f"{g}.onnx", _scratch(stage, g))
        else:
            _scratch(stage, g).write_bytes((stage / f"{g}.onnx").read_bytes())
    if precision == "fp16":
        return {"fp16": "onnxruntime.transformers.float16.convert_float_to_float16 (keep_io_types=True)"}, None
    return {}, None


def _to_fp16(src: Path, dst: Path) -> None:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    converted = convert_float_to_float16(onnx.load(str(src)), keep_io_types=True)
    onnx.save_model(converted, str(dst))


def _optimize_offline(stage: Path, precision: str) -> dict:
    """Let ONNX Runtime optimise each scratch graph at OPTIMIZATION_LEVEL and save the result
    as the runtime graph; the scratch file is removed."""
    import onnxruntime as ort

    nodes = {}
    for g in _GRAPHS:
        options = ort.SessionOptions()
        options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, OPTIMIZATION_LEVEL)
        options.optimized_model_filepath = str(stage / runtime_file(g, precision))
        ort.InferenceSession(str(_scratch(stage, g)), sess_options=options, providers=["CPUExecutionProvider"])
        _scratch(stage, g).unlink()
        nodes[g] = _node_count(stage / runtime_file(g, precision))
    return {"offline_optimization": f"{OPTIMIZATION_LEVEL} for CPUExecutionProvider", "runtime_nodes": nodes}


def _node_count(path: Path) -> int:
    import onnx

    return len(onnx.load(str(path), load_external_data=False).graph.node)


def _runtime() -> dict:
    import onnxruntime as ort

    return {
        "onnxruntime": ort.__version__,
        "graph_optimization_level": OPTIMIZATION_LEVEL,
        "optimized_for": "CPUExecutionProvider",
    }


def run_parity(stage: Path, model, batch: int, pairs: int, tolerance: float) -> dict:
    """The staged runtime graphs in the onnxruntime backend (CPU) against the PyTorch model."""
    from ..runtimes.onnxruntime_backend import OnnxRuntimeBackend

    crops = parity_crops(model.cfg, pairs=pairs)
    with OnnxRuntimeBackend(bundle=stage, providers=["CPUExecutionProvider"]) as backend:
        figures = measure_parity(backend, model, crops, batch, tolerance)
        figures["runtime"] = f"onnxruntime {backend.ort_version} {', '.join(backend.providers)}"
    return figures
