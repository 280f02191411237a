"""The ``litert`` target: LiteRT (TensorFlow Lite) models, ``template.<precision>.tflite`` and
``search.<precision>.tflite``, converted from PyTorch with ``litert-torch``.

Why from PyTorch and not from our ONNX graphs through onnx2tf (the route tried first, onnx2tf
1.29.24): onnx2tf rewrites an ONNX graph from NCHW to TFLite's NHWC by guessing each tensor's
layout. Our graphs are channels-last already (NHWC uint8 crop input, the backbone's LayerNorm and
Linear on (B, H, W, C) with a permute around each convolution), and its guesses go wrong on them:
the search graph converted exactly, but the template graph converted to a wrong model (first
mismatch at ``/downsample/proj/Conv``, error 6.3), and keeping our input layout
(``-kat template``) made the conversion fail at ``wa/blocks.1/mlp/Tile`` instead. onnx2tf also
downloads sample images from the internet for any graph whose inputs are all 4-D with 3 channels
(our template graph), whatever the options. ``litert-torch`` converts the ``torch.export``
program of the same export wrappers (``wrappers.TemplateGraph``, ``SearchGraph``: uint8 NHWC
crops in, in-graph normalisation, state as named tensors) with no layout guessing: the template
state matches ONNX Runtime to ~1e-7 relative and the box to ~1e-7 (demo weights).

* fp32: the converted models (LiteRT runs them with the XNNPACK delegate);
* fp16: weights cast to fp16 by ``ai-edge-quantizer`` (``float_casting``, 16 bits, weight-only:
  dequantized to fp32 in the graph; XNNPACK may compute in fp16 on ARM CPUs with fp16
  arithmetic, in fp32 elsewhere). Half the files.
* int8 is not offered: the issue measured full int8 through onnx2tf at 0.23 box error (past the
  0.1 tolerance); an int8 recipe would have to pass parity first.

``litert-torch`` pins a torch of its own choosing and pulls JAX, transformers and TensorFlow's
converter: it lives in its own virtual environment (``toolkit_python("litert-torch", ...)``:
``$ASYMTRACK_LITERT_TORCH_PYTHON`` or ``~/.cache/asymtrack-deploy/toolkits/litert-torch``, made by
the README's commands) with the same torch version as this one, since the ``.pt2`` programs this
process saves load only there. The conversion runs in that interpreter as a child process with
the network refused (``toolkit_process``). The backend needs only ``ai-edge-litert``.
"""
from __future__ import annotations

from pathlib import Path

from ..runtimes.base import BackendUnavailable, require
from ..runtimes.litert_backend import MODEL_ROLE, SIGNATURE, litert_version
from .pipeline import Conversion, ConversionJob, Converter
from .toolkit_process import printed_versions, run_toolkit, toolkit_python

__all__ = ["LiteRtConverter", "model_file", "TOOLKIT", "TOOLKIT_ENV"]

TOOLKIT = "litert-torch"  # the toolkit's virtual environment, under the toolkits home
TOOLKIT_ENV = "ASYMTRACK_LITERT_TORCH_PYTHON"
_GRAPHS = ("template", "search")

# Runs in the toolkit's interpreter: argv = program.pt2, out.tflite, precision; prints versions.
_CONVERT = """
import json, sys
import torch, litert_torch
from importlib import metadata
program, out, precision = sys.argv[1:4]
exported = torch.export.load(program)
args = exported.example_inputs[0]
litert_torch.convert(exported.module(), args).export(out + ".fp32")
if precision == "fp16":
    from ai_edge_quantizer import qtyping, quantizer, recipe_manager
    from ai_edge_quantizer.algorithm_manager import AlgorithmName
    manager = recipe_manager.RecipeManager()
    manager.add_weight_only_config(regex=".*", operation_name=qtyping.TFLOperationName.ALL_SUPPORTED, num_bits=16,
                                   algorithm_key=AlgorithmName.FLOAT_CASTING)
    q = quantizer.Quantizer(out + ".fp32")
    q.load_quantization_recipe(manager.get_quantization_recipe())
    q.quantize().export_model(out, overwrite=True)
else:
    import os
    os.replace(out + ".fp32", out)
print("VERSIONS " + json.dumps({d: metadata.version(d) for d in ("torch", "litert-torch", "ai-edge-quantizer")}))
"""


def model_file(graph: str, precision: str) -> str:
    """``search.fp16.tflite``."""
    return f"{graph}.{precision}.tflite"


class LiteRtConverter(Converter):
    target = "litert"

    def prepare(self, precision: str) -> None:
        require("ai_edge_litert", "litert", "ai-edge-litert")
        _toolkit()

    def convert(self, job: ConversionJob) -> Conversion:
        python, versions = _toolkit(), {}
        for g in _GRAPHS:
            program = _save_program(job, g)
            output = run_toolkit(_CONVERT, [program, job.stage / model_file(g, job.precision), job.precision],
                                 f"litert-torch on the {g} graph", python=python, cwd=job.stage)
            program.unlink()
            versions = printed_versions(output, "litert-torch's conversion")
        files = {g: {MODEL_ROLE: model_file(g, job.precision)} for g in _GRAPHS}
        export = {"converter": f"litert-torch {versions['litert-torch']} from torch.export of the PyTorch graphs "
                               f"(torch {versions['torch']}; the ONNX graphs are kept as source_onnx, not converted)"}
        if job.precision == "fp16":
            export["fp16"] = f"ai-edge-quantizer {versions['ai-edge-quantizer']} float_casting: fp16 weights, weight-only"
        runtime = {"ai_edge_litert": litert_version(), "signature": SIGNATURE,
                   "signatures": {g: _signature_names(job.stage / model_file(g, job.precision)) for g in _GRAPHS}}
        return Conversion(files, export, runtime)


def _toolkit() -> Path:
    python = toolkit_python(TOOLKIT, TOOLKIT_ENV)
    if python is None:
        raise BackendUnavailable(
            f"--target litert needs litert-torch in its own virtual environment (it pins its own torch): "
            f"python -m venv ~/.cache/asymtrack-deploy/toolkits/{TOOLKIT} && "
            f"~/.cache/asymtrack-deploy/toolkits/{TOOLKIT}/bin/pip install torch==<this torch> litert-torch==0.10.0 "
            f"(or set {TOOLKIT_ENV} to its python); see the README's LiteRT row")
    return python


def _save_program(job: ConversionJob, graph: str) -> Path:
    """The export wrapper of ``graph`` as a ``torch.export`` program in the stage (deleted after use)."""
    import torch

    from .wrappers import SearchGraph, TemplateGraph

    wrapper = TemplateGraph(job.model) if graph == "template" else SearchGraph(job.model)
    path = job.stage / f".{graph}.pt2"
    with torch.no_grad():
        torch.export.save(torch.export.export(wrapper, wrapper.example_inputs(job.source.batch)), str(path))
    return path


def _signature_names(path: Path) -> dict[str, list[str]]:
    """The signature's input and output names in positional order: litert-torch names the i-th
    argument of ``forward`` ``args_i`` and its i-th output ``output_i``."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path)).get_signature_runner(SIGNATURE)
    return {"inputs": sorted(runner.get_input_details(), key=_position),
            "outputs": sorted(runner.get_output_details(), key=_position)}


def _position(name: str) -> int:
    return int(name.rpartition("_")[2])
