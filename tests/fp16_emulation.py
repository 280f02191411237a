"""A backend that computes a bundle's graphs in fp16 arithmetic on any CPU (tests only).

This machine's CPU has no fp16 arithmetic, and the runtimes do not emulate it: OpenVINO's CPU
plugin replaces an ``INFERENCE_PRECISION_HINT`` of "f16" by bf16 on such a CPU (its
``get_property`` then says bfloat16 and the executed graph's runtime precisions are bf16/f32),
and ONNX Runtime's CPU provider keeps an fp16 graph's tensors in fp16 between nodes but runs
most nodes through fp32 kernels. ``onnx.reference.ReferenceEvaluator`` runs an fp16 graph with
numpy float16 arithmetic throughout, LayerNorm statistics and element-wise ops included, which
is stricter than an fp16 device (those accumulate in fp32): a graph that passes here passes
there. It is slow (about 5 s per search step of AsymTrack-tiny), so tests use a few crops.

The graphs are the bundle's fp32 source ONNX converted the way the ``onnxruntime`` target
converts them (fp16 weights and arithmetic, fp32/uint8 inputs and outputs); the OpenVINO IR of
an fp16 bundle comes from the same source graphs.
"""
from __future__ import annotations

import warnings

import numpy as np
import onnx

from asymtrack_deploy.bundle import load_bundle
from asymtrack_deploy.runtimes.base import Backend, BackendInfo


def _fp16_evaluator(path):
    from onnx.reference import ReferenceEvaluator
    from onnxruntime.transformers.float16 import convert_float_to_float16

    graph = convert_float_to_float16(onnx.load(str(path)), keep_io_types=True)
    return ReferenceEvaluator(_topologically_sorted(graph))


def _topologically_sorted(model: onnx.ModelProto) -> onnx.ModelProto:
    """The converter appends its Cast nodes at the end; the evaluator runs nodes in order."""
    graph = model.graph
    known = {v.name for v in graph.input} | {t.name for t in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        ready = [n for n in pending if all(name in known for name in n.input)]
        assert ready, "the graph has a cycle"
        for node in ready:
            known.update(node.output)
        ordered += ready
        pending = [n for n in pending if n not in ready]
    del graph.node[:]
    graph.node.extend(ordered)
    return model


class EmulatedFp16Backend(Backend):
    """A bundle's source graphs computed in numpy float16 (see the module docstring)."""

    name = "onnx-reference-fp16"

    def __init__(self, bundle):
        super().__init__()
        self.bundle = load_bundle(bundle)
        manifest = self.bundle.manifest
        role = "source_onnx" if "source_onnx" in manifest.graph("search").files else "onnx"
        self._graphs = {g: _fp16_evaluator(self.bundle.path(g, role)) for g in ("template", "search")}
        self._state_names = [t.name for t in manifest.graph("template").outputs]
        self._search_input = manifest.graph("search").inputs[0].name
        self.info = BackendInfo.from_manifest(manifest, emulation="onnx.reference float16")

    def describe(self) -> str:
        return "onnx.reference.ReferenceEvaluator, numpy float16 arithmetic"

    def _run(self, graph: str, feeds: dict) -> list[np.ndarray]:
        with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
            # the reference Sigmoid evaluates exp(x) on both branches; the unused one may overflow
            warnings.simplefilter("ignore", RuntimeWarning)
            return self._graphs[graph].run(None, feeds)

    def _template_impl(self, crops: np.ndarray) -> dict:
        name = self.bundle.manifest.graph("template").inputs[0].name
        return dict(zip(self._state_names, self._run("template", {name: crops})))

    def _search_impl(self, crops: np.ndarray, state: dict):
        box, score = self._run("search", {self._search_input: crops, **state})
        return box, score
