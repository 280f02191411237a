"""LiteRT (TensorFlow Lite) backend over an exported bundle (``target: litert``, ``.tflite`` models).

LiteRT's interpreter (the ``ai-edge-litert`` wheel) runs each graph on its CPU kernels with the
XNNPACK delegate, which it applies by default to the float graphs. An interpreter is not
thread-safe, so each thread gets its own pair (``ThreadContexts``), made from the model bytes
read once; trackers in several threads over one backend get the boxes each gets alone.

Each ``.tflite`` file has one signature, ``serving_default``, whose inputs are the graph's
inputs in the manifest's order and whose outputs are its outputs in that order; the converter
records the signature's own names (``runtime.signatures``), and the backend checks at load that
the shapes and dtypes behind them are the manifest's. numpy and ai-edge-litert only: no torch.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..bundle import Bundle
from ..limits import check_threads
from .base import BackendInfo, BundleBackend, check_graph_io, require

__all__ = ["LiteRtBackend", "LiteRtTemplateState", "MODEL_ROLE", "SIGNATURE", "litert_version"]

MODEL_ROLE = "tflite_model"  # the file role of the ``litert`` target's models
SIGNATURE = "serving_default"
_GRAPHS = ("template", "search")


def _interpreter_module():
    return require("ai_edge_litert.interpreter", "litert", "ai-edge-litert")


@dataclass
class LiteRtTemplateState:
    """The template state of one ``template()`` call: arrays keyed by the search signature's names."""

    arrays: dict[str, np.ndarray]
    owner: int  # id() of the backend that made it

    def numpy(self) -> dict[str, np.ndarray]:
        return {name: a.copy() for name, a in self.arrays.items()}


@dataclass
class _Runners:
    """One thread's interpreters and their signature runners."""

    interpreters: tuple
    template: Any
    search: Any


class LiteRtBackend(BundleBackend):
    """``LiteRtBackend(bundle=DIR, threads=None, xnnpack=True, verify=True)``.

    ``threads``: the interpreter's threads (None: LiteRT's default). ``xnnpack``: False loads
    the builtin reference-free kernels without the XNNPACK delegate (to compare the two)."""

    name = "litert"
    graph_roles, files_named, export_target = (MODEL_ROLE,), "LiteRT models", "litert"

    def __init__(self, bundle: str | os.PathLike | Bundle, threads: int | None = None, xnnpack: bool = True,
                 verify: bool = True) -> None:
        super().__init__()
        self._module = _interpreter_module()
        self.bundle = self._open_bundle(bundle, verify)
        self._threads = _threads(threads)
        self._xnnpack = bool(xnnpack)
        self._models = {g: self.bundle.path(g, MODEL_ROLE).read_bytes() for g in _GRAPHS}
        self._names = self._signature_names()
        self._check_io()
        self.litert_version = litert_version()
        self.info = BackendInfo.from_manifest(self.bundle.manifest, bundle=str(self.bundle.root),
                                              litert=self.litert_version, xnnpack=self._xnnpack,
                                              executes=executes(self.bundle.manifest.precision))

    # -- setup -------------------------------------------------------------------------------
    def _signature_names(self) -> dict[str, dict[str, list[str]]]:
        """graph -> {"inputs": [...], "outputs": [...]}: the signature's names in manifest order."""
        recorded = (self.bundle.manifest.runtime or {}).get("signatures")
        if not isinstance(recorded, dict) or set(recorded) != set(_GRAPHS):
            raise ValueError(f"bundle {self.bundle.root}: manifest.json's runtime.signatures must map template and "
                             f"search to their signature names; re-export with --target litert")
        return recorded

    def _interpreter(self, graph: str):
        kinds = self._module.OpResolverType
        resolver = kinds.AUTO if self._xnnpack else kinds.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        interpreter = self._module.Interpreter(model_content=self._models[graph], num_threads=self._threads,
                                               experimental_op_resolver_type=resolver)
        interpreter.allocate_tensors()
        return interpreter

    def _new_runners(self) -> _Runners:
        template, search = self._interpreter("template"), self._interpreter("search")
        return _Runners((template, search), template.get_signature_runner(SIGNATURE),
                        search.get_signature_runner(SIGNATURE))

    def _check_io(self) -> None:
        """The signatures' tensors (by position) are the manifest's: names, shapes and dtypes."""
        runners = self._contexts.get(self._new_runners)
        for graph, runner in (("template", runners.template), ("search", runners.search)):
            spec = self.bundle.manifest.graph(graph)
            for kind, details, tensors in (("input", runner.get_input_details(), spec.inputs),
                                           ("output", runner.get_output_details(), spec.outputs)):
                names = self._names[graph][kind + "s"]
                have = {t.name: (tuple(details[n]["shape"]), np.dtype(details[n]["dtype"]).name)
                        for t, n in zip(tensors, names) if n in details}
                check_graph_io(self.bundle, graph, kind, have)

    # -- the two branches --------------------------------------------------------------------
    def describe(self) -> str:
        return (f"litert {self.litert_version} CPU{' + XNNPACK' if self._xnnpack else ''} "
                f"(executes {self.info.extra['executes']})")

    def _template_impl(self, crops: np.ndarray) -> LiteRtTemplateState:
        runners = self._contexts.get(self._new_runners)
        names = self._names["template"]
        outputs = runners.template(**{names["inputs"][0]: crops})
        search_inputs = self._names["search"]["inputs"][1:]
        return LiteRtTemplateState({s: np.array(outputs[o], copy=True) for s, o in zip(search_inputs, names["outputs"])},
                                   id(self))

    def _search_impl(self, crops: np.ndarray, state: LiteRtTemplateState) -> tuple[np.ndarray, np.ndarray]:
        self._check_own_state(state, LiteRtTemplateState)
        names = self._names["search"]
        outputs = self._contexts.get(self._new_runners).search(**{names["inputs"][0]: crops}, **state.arrays)
        box, score = (np.array(outputs[n], copy=True) for n in names["outputs"][:2])
        return box, score

    def _release(self) -> None:
        self._models = {}


def _threads(threads: int | None) -> int | None:
    check_threads(threads)
    return threads


def litert_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("ai-edge-litert")
    except metadata.PackageNotFoundError:
        return "unknown"


def executes(precision: str) -> str:
    """fp16 bundles hold fp16 weights that XNNPACK computes in f32 on CPUs without fp16
    arithmetic (x86) and may compute in f16 on ARMv8.2 (XNNPACK's choice)."""
    return {"fp16": "f16 weights, f32"}.get(precision, "f32")
