"""What the converting targets (openvino, onnxruntime, tensorrt) share.

Every one of them starts from the verified fp32 ONNX graphs: ``source_bundle`` runs the ``onnx``
target itself (trace, simplify, graph checks, ONNX Runtime parity) into the staging folder and
keeps its two ``.onnx`` files in the new bundle (role ``source_onnx``), so any bundle can be
rebuilt or converted again without the checkpoint. The rest is what int8 needs:

* ``calibration_feeds``: graph inputs made from calibration crops. Template crops feed the
  template graph; search crops feed the search graph together with the template state *their
  own* template crop gives (computed by the fp32 template graph in ONNX Runtime), so the state
  inputs are calibrated on the values they will carry.
* ``quantize_qdq``: static QDQ quantization with ONNX Runtime's quantizer (per-channel weights),
  for ONNX Runtime itself and for TensorRT's explicit quantization.

Per-precision box tolerances of the export-time parity check (normalised box units, against the
fp32 PyTorch reference on real crops): fp32 1e-4 (the same arithmetic in another order); fp16
1e-2 (2.6 px on a 256 crop: ~3 significant digits through ~40 layers; measured 1.6e-3 to
2.7e-3 on AsymTrack-tiny); int8 1e-1, i.e. 1.6 cells of the 16 x 16 corner heatmap. On the
reference checkpoints (random weights: flat heatmaps, the hardest case for int8) every
quantisation scheme tried (ONNX Runtime QDQ with MinMax, percentile, symmetric ranges, head
kept in float; NNCF with and without SmoothQuant) misses by 0.01 to 0.06 per crop pair, so
a tighter bound would fail good exports; a wrong scale or an unquantised state binding moves
the corners by whole heatmaps (> 0.2). ``export.parity`` checks with them; the manifest
records which one was used, and ``asymtrack-deploy parity`` measures tracking IoU on video.
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..bundle import GraphSpec, Manifest
from .calibration import CalibrationSet, calibration_set

__all__ = [
    "PRECISIONS",
    "BOX_TOLERANCES",
    "SOURCE_ROLE",
    "check_precision",
    "source_bundle",
    "derived_manifest",
    "calibration_feeds",
    "calibration_for",
    "CalibrationFeeds",
    "quantize_qdq",
    "parity_pairs_for",
]

PRECISIONS = ("fp32", "fp16", "int8")
BOX_TOLERANCES = {"fp32": 1e-4, "fp16": 1e-2, "int8": 1e-1}
SOURCE_ROLE = "source_onnx"  # the fp32 ONNX graphs a derived bundle was made from
_MIN_PARITY_PAIRS = 8  # a few more than the onnx target: reduced precision errors vary per crop


def check_precision(precision: str, target: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)} (target {target})")


def parity_pairs_for(batch: int, pairs: int | None) -> int:
    """The number of export-time parity pairs: ``pairs`` or at least 8, a multiple of ``batch``."""
    if pairs is not None:
        if pairs < batch or pairs % batch:
            raise ValueError(f"parity_pairs must be a positive multiple of batch ({batch}), got {pairs}")
        return pairs
    return batch * -(-_MIN_PARITY_PAIRS // batch)


# -- the fp32 ONNX graphs every derived bundle starts from ------------------------------------


def source_bundle(stage: Path, **onnx_options) -> Manifest:
    """Export the fp32 ONNX bundle (the ``onnx`` target, checks and parity included) into a
    sub-folder of ``stage``, move its graph files up into ``stage`` and return its manifest.

    ``onnx_options`` are those of ``export_onnx`` (checkpoint, variant, batch, opset,
    simplifier, random_weights, seed).
    """
    from .onnx_target import export_onnx

    sub = stage / "_onnx"
    bundle = export_onnx(out_dir=sub, **onnx_options)
    for name in bundle.manifest.files:
        os.replace(sub / name, stage / name)
    shutil.rmtree(sub)
    return bundle.manifest


def derived_manifest(
    onnx_manifest: Manifest,
    target: str,
    precision: str,
    files: dict[str, dict[str, str]],
    export: dict,
    runtime: dict,
    calibration: dict | None,
) -> Manifest:
    """The manifest of a derived bundle: the ONNX one with the target's files (``files``:
    graph -> role -> file name, the ``source_onnx`` role added here) and its own sections."""
    graphs = {
        name: GraphSpec({SOURCE_ROLE: spec.files["onnx"], **files[name]}, spec.inputs, spec.outputs)
        for name, spec in onnx_manifest.graphs.items()
    }
    source_export = {k: v for k, v in onnx_manifest.export.items() if k != "seconds"}
    return replace(
        onnx_manifest,
        target=target,
        precision=precision,
        graphs=graphs,
        export={**source_export, "source_onnx_parity": onnx_manifest.parity, **export},
        parity={},
        runtime=runtime,
        calibration=calibration,
    )


# -- calibration inputs --------------------------------------------------------------------------


def calibration_for(variant: str, precision: str, source, count: int, seed: int, box) -> CalibrationSet | None:
    """The calibration crops of an int8 export (None for fp32/fp16). Called before anything is
    exported, so a missing, empty or unreadable source fails fast and writes nothing."""
    if precision != "int8":
        return None
    from ..models import VARIANTS

    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}: expected one of {', '.join(VARIANTS)}")
    return calibration_set(VARIANTS[variant], source, count, seed, box)


@dataclass(frozen=True)
class CalibrationFeeds:
    """Input dicts for each graph, one per batch of calibration pairs."""

    template: list[dict[str, np.ndarray]]
    search: list[dict[str, np.ndarray]]

    @property
    def pairs(self) -> int:
        return sum(len(next(iter(feed.values()))) for feed in self.template)


def calibration_feeds(stage: Path, manifest: Manifest, calib: CalibrationSet) -> CalibrationFeeds:
    """Batch-shaped inputs of both graphs from ``calib``; the search feeds carry the state the
    fp32 template graph (``stage``'s ONNX file, run in ONNX Runtime) gives for each pair."""
    import onnxruntime as ort

    batch = manifest.batch
    if len(calib) < batch:
        raise ValueError(f"{len(calib)} calibration pairs do not fill one batch of {batch}; ask for at least {batch}")
    template_spec, search_spec = manifest.graph("template"), manifest.graph("search")
    path = stage / template_spec.files.get("onnx", template_spec.files.get(SOURCE_ROLE, ""))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    state_names = [t.name for t in template_spec.outputs]
    templates, searches = [], []
    for start in range(0, len(calib) - batch + 1, batch):
        crops = calib.templates[start : start + batch]
        state = dict(zip(state_names, session.run(state_names, {template_spec.inputs[0].name: crops})))
        templates.append({template_spec.inputs[0].name: crops})
        searches.append({search_spec.inputs[0].name: calib.searches[start : start + batch], **state})
    return CalibrationFeeds(templates, searches)


# -- static QDQ quantization with ONNX Runtime ---------------------------------------------------

# Ops that TensorRT runs in int8 when their inputs come through Q/DQ: quantising anything else
# only adds reformatting. ONNX Runtime's CPU kernels gain on the same set (QLinearConv,
# QGemm, MatMulIntegerToFloat); elementwise ops between them stay float either way.
QDQ_OPS = ("Conv", "MatMul", "Gemm")


class _FeedReader:
    """onnxruntime.quantization's CalibrationDataReader protocol over a list of input dicts."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]):
        self._feeds = feeds
        self._iter = iter(feeds)

    def get_next(self):
        return next(self._iter, None)

    def rewind(self):
        self._iter = iter(self._feeds)


def quantize_qdq(src: Path, dst: Path, feeds: list[dict[str, np.ndarray]], for_tensorrt: bool = False) -> dict:
    """Static QDQ quantization of ``src`` into ``dst`` (MinMax ranges over ``feeds``,
    per-channel int8 weights); returns what the manifest records.

    ONNX Runtime (CPU): uint8 activations with asymmetric ranges (what its x86 and ARM int8
    kernels are fastest with). TensorRT: int8 activations with symmetric ranges and zero
    points of 0, which is all its Q/DQ layers accept.
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    options = {"ActivationSymmetric": for_tensorrt, "WeightSymmetric": True}
    if for_tensorrt:
        options["DedicatedQDQPair"] = True  # TensorRT fuses one Q/DQ pair into one consumer
        options["QuantizeBias"] = False  # its DequantizeLinear takes int8 only, not int32 biases
    started = time.perf_counter()
    quantize_static(
        str(src),
        str(dst),
        _FeedReader(feeds),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=list(QDQ_OPS),
        per_channel=True,
        activation_type=QuantType.QInt8 if for_tensorrt else QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        extra_options=options,
    )
    return {
        "quantizer": f"onnxruntime.quantization.quantize_static ({_ort_version()})",
        "format": "QDQ",
        "ops": list(QDQ_OPS),
        "weights": "int8, per channel, symmetric" + ("; biases fp32" if for_tensorrt else "; biases int32"),
        "activations": "int8, symmetric (zero point 0)" if for_tensorrt else "uint8, asymmetric",
        "ranges": "MinMax",
        "seconds": round(time.perf_counter() - started, 2),
    }


def _ort_version() -> str:
    import onnxruntime

    return f"onnxruntime {onnxruntime.__version__}"

