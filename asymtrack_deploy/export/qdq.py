"""Static QDQ quantization with ONNX Runtime's quantizer, for ONNX Runtime and for TensorRT.

Both int8 paths that start from ONNX put Q/DQ pairs into the graph: ONNX Runtime fuses them into
integer kernels (QLinearConv, QGemm, MatMulIntegerToFloat), TensorRT builds an explicitly
quantized engine from them. Ranges come from calibration feeds (``calibration_feeds``).
"""
from __future__ import annotations

import functools
import io
import logging
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np

__all__ = ["QDQ_OPS", "quantize_qdq"]

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


def quantize_qdq(src: Path, dst: Path, feeds: list[dict[str, np.ndarray]], for_tensorrt: bool = False,
                 nodes: list[str] | None = None) -> dict:
    """Static QDQ quantization of ``src`` into ``dst`` (MinMax ranges over ``feeds``,
    per-channel int8 weights); returns what the manifest records. ``nodes``: quantize only
    these (``int8_scope``); None: every Conv, MatMul and Gemm.

    ONNX Runtime (CPU): uint8 activations with asymmetric ranges (what its x86 and ARM int8
    kernels are fastest with). TensorRT: int8 activations with symmetric ranges and zero
    points of 0, which is all its Q/DQ layers accept.

    ONNX Runtime's recommended pre-processing (``quant_pre_process``: symbolic shape
    inference and its basic graph optimisations) changed 2 of 314 nodes of AsymTrack-tiny's
    search graph (two Transposes) and gave the same quantized nodes, IoUs and speed, so it is
    not run, and the root-logger warning that recommends it is not shown to the user.
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    options = {"ActivationSymmetric": for_tensorrt, "WeightSymmetric": True}
    if for_tensorrt:
        options["DedicatedQDQPair"] = True  # TensorRT fuses one Q/DQ pair into one consumer
        options["QuantizeBias"] = False  # its DequantizeLinear takes int8 only, not int32 biases
    started = time.perf_counter()
    with redirect_stdout(io.StringIO()):  # its calibration prints progress; not the user's business
        quiet_quantizer_advice(quantize_static)(
            str(src),
            str(dst),
            _FeedReader(feeds),
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(QDQ_OPS),
            nodes_to_quantize=nodes,
            per_channel=True,
            activation_type=QuantType.QInt8 if for_tensorrt else QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            extra_options=options,
        )
    return {
        "quantizer": f"onnxruntime.quantization.quantize_static ({_ort_version()})",
        "format": "QDQ",
        "ops": list(QDQ_OPS) if nodes is None else f"{len(nodes)} nodes: {', '.join(nodes)}",
        "weights": "int8, per channel, symmetric" + ("; biases fp32" if for_tensorrt else "; biases int32"),
        "activations": "int8, symmetric (zero point 0)" if for_tensorrt else "uint8, asymmetric",
        "ranges": "MinMax",
        "seconds": round(time.perf_counter() - started, 2),
    }


class _PreProcessingAdvice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        return not (text.startswith("Please consider") and "pre-processing" in text)


def quiet_quantizer_advice(quantize):
    """``quantize`` without ONNX Runtime's advice to run its pre-processing first (shape
    inference and graph optimisation, logged on the root logger before and after quantizing).
    The graphs reaching the quantizer are already static and simplified, so the advice is not
    the user's business. It is dropped, and the root logger is left as it was: logging's
    module-level ``warning`` would otherwise install a handler on it for good (basicConfig);
    other records still reach stderr as logging's last resort would print them."""

    @functools.wraps(quantize)
    def run(*args, **kwargs):
        root, advice = logging.getLogger(), _PreProcessingAdvice()
        stand_in = None if root.handlers else logging.StreamHandler(sys.stderr)
        if stand_in is not None:
            stand_in.setLevel(logging.WARNING)
            root.addHandler(stand_in)
        root.addFilter(advice)
        try:
            return quantize(*args, **kwargs)
        finally:
            root.removeFilter(advice)
            if stand_in is not None:
                root.removeHandler(stand_in)

    return run


def _ort_version() -> str:
    import onnxruntime

    return f"onnxruntime {onnxruntime.__version__}"
