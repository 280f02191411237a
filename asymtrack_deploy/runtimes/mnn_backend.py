"""MNN backend over an exported bundle (``target: mnn``, ``.mnn`` models).

One MNN module per branch, loaded through MNN's Express API with the input and output names
the file records (our graphs' own names). Each thread gets its own clones of both modules
(``Module.clone(shareParams=True)``: weights shared, execution state not), so trackers in several
threads over one backend get exactly the boxes each gets alone.

Inputs are handed to MNN as constant variables tagged NCHW even for the NHWC uint8 crop: the tag
tells MNN how to reinterpret the buffer, and NHWC would transpose a tensor that is already laid
out as the graph expects (the graph's first op is its own layout change). The template state
stays in MNN variables made once per target and fed to the search module every frame.

The manifest's ``inference.arithmetic`` picks MNN's precision mode: fp16 bundles run in MNN's
"low" precision (fp16 arithmetic where the CPU has it: ARMv8.2 and later; fp32 on x86, where
MNN has no fp16 kernels), every other bundle in "high" (fp32). numpy and MNN only: no torch.
"""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..bundle import Bundle
from ..limits import check_threads
from .base import BackendInfo, BundleBackend, check_graph_io, require

__all__ = ["MnnBackend", "MnnTemplateState", "MODEL_ROLE", "mnn_module", "native_stdout_silenced", "precision_mode"]

MODEL_ROLE = "mnn_model"  # the file role of the ``mnn`` target's models
_PRECISION_MODES = ("high", "normal", "low")


def mnn_module():
    """MNN, imported once with its banner silenced (or a BackendUnavailable naming the extra)."""
    if "MNN" in sys.modules:
        return sys.modules["MNN"]
    with native_stdout_silenced():  # MNN prints the CPU's features on import
        return require("MNN", "mnn")


@contextlib.contextmanager
def native_stdout_silenced():
    """File descriptor 1 sent to /dev/null for the block: MNN's C++ code prints banners ("The
    device supports: ...", "MNN use high precision") with printf, which would land in the middle
    of ``track``'s boxes and ``--json`` documents on stdout."""
    sys.stdout.flush()
    saved, devnull = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def precision_mode(arithmetic: str) -> str:
    """MNN's precision mode for the manifest's arithmetic: fp16 -> "low", the rest "high"."""
    return "low" if arithmetic == "fp16" else "high"


@dataclass
class MnnTemplateState:
    """The template state of one ``template()`` call: MNN variables, in the search inputs' order."""

    variables: list[Any]  # MNN.expr.Var, one per state tensor
    names: list[str]
    owner: int  # id() of the backend that made it

    def numpy(self) -> dict[str, np.ndarray]:
        """Copies, for inspection and tests (the tracker never needs this)."""
        return {name: np.array(v.read(), copy=True) for name, v in zip(self.names, self.variables)}


@dataclass
class _Modules:
    """One thread's clones of the two modules."""

    template: Any
    search: Any


class MnnBackend(BundleBackend):
    """``MnnBackend(bundle=DIR, threads=None, precision_mode=None, verify=True)``.

    ``threads``: MNN's thread count (None: 1 on one core, else 2, MNN's own default being 4).
    ``precision_mode``: "high", "normal" or "low" (None: the manifest's, ``precision_mode``).
    """

    name = "mnn"
    graph_roles, files_named, export_target = (MODEL_ROLE,), "MNN models", "mnn"

    def __init__(self, bundle: str | os.PathLike | Bundle, threads: int | None = None,
                 precision_mode: str | None = None, verify: bool = True) -> None:
        super().__init__()
        mnn = mnn_module()
        self.bundle = self._open_bundle(bundle, verify)
        self.mnn_version = mnn.version()
        self.precision_mode = self._precision_mode(precision_mode)
        config = {"backend": "CPU", "precision": self.precision_mode, "numThread": _threads(threads)}
        self._state_names = [t.name for t in self.bundle.manifest.state]
        with native_stdout_silenced():
            self._runtime = mnn.nn.create_runtime_manager((config,))
            self._template = self._load(mnn, "template")
            self._search = self._load(mnn, "search")
            self._check_io()
        self.info = BackendInfo.from_manifest(self.bundle.manifest, bundle=str(self.bundle.root), mnn=self.mnn_version,
                                              precision_mode=self.precision_mode,
                                              executes=executes(self.bundle.manifest.precision, self.precision_mode))

    # -- setup -------------------------------------------------------------------------------
    def _precision_mode(self, requested: str | None) -> str:
        if requested is None:
            return precision_mode(self.bundle.manifest.inference.arithmetic)
        if requested not in _PRECISION_MODES:
            raise ValueError(f"precision_mode must be one of {', '.join(_PRECISION_MODES)}, got {requested!r}")
        return requested

    def _load(self, mnn, graph: str):
        return mnn.nn.load_module_from_file(str(self.bundle.path(graph, MODEL_ROLE)), [], [],
                                            runtime_manager=self._runtime)

    def _check_io(self) -> None:
        """The modules' inputs (names, shapes, dtypes) and output names are the manifest's; the
        output shapes and dtypes are checked on a run over zero crops (MNN knows them only then)."""
        for graph, module in (("template", self._template), ("search", self._search)):
            info = module.get_info()
            check_graph_io(self.bundle, graph, "input", {
                name: (tuple(var.shape), _dtype(var.dtype)) for name, var in zip(info["inputNames"], info["inputs"])})
        modules = _Modules(self._template, self._search)
        state = self._run_template(modules, self._zeros("template"))
        check_graph_io(self.bundle, "template", "output", _described(self._state_names, state))
        names = [t.name for t in self.bundle.manifest.graph("search").outputs]
        check_graph_io(self.bundle, "search", "output", _described(names, self._run_search(modules, self._zeros("search"), state)))

    def _zeros(self, graph: str) -> np.ndarray:
        spec = self.bundle.manifest.graph(graph).inputs[0]
        return np.zeros(spec.shape, np.dtype(spec.dtype))

    def _new_context(self) -> _Modules:
        return _Modules(self._template.clone(True), self._search.clone(True))

    # -- the two branches --------------------------------------------------------------------
    def describe(self) -> str:
        return f"mnn {self.mnn_version} CPU precision={self.precision_mode} (executes {self.info.extra['executes']})"

    def _template_impl(self, crops: np.ndarray) -> MnnTemplateState:
        modules = self._contexts.get(self._new_context)
        variables = [_const(a) for a in self._run_template(modules, crops)]
        return MnnTemplateState(variables, self._state_names, id(self))

    def _search_impl(self, crops: np.ndarray, state: MnnTemplateState) -> tuple[np.ndarray, np.ndarray]:
        self._check_own_state(state, MnnTemplateState)
        box, score = self._run_search(self._contexts.get(self._new_context), crops, state.variables)[:2]
        return box, score

    @staticmethod
    def _run_template(modules: _Modules, crops: np.ndarray) -> list[np.ndarray]:
        return [np.array(v.read(), copy=True) for v in modules.template.forward([_const(crops)])]

    @staticmethod
    def _run_search(modules: _Modules, crops: np.ndarray, state: list) -> list[np.ndarray]:
        state = [s if not isinstance(s, np.ndarray) else _const(s) for s in state]
        return [np.array(v.read(), copy=True) for v in modules.search.forward([_const(crops), *state])]

    def _release(self) -> None:
        self._template = self._search = self._runtime = None


def _threads(threads: int | None) -> int:
    check_threads(threads)
    return min(2, os.cpu_count() or 1) if threads is None else threads


def _const(array: np.ndarray):
    """An MNN constant over ``array``, tagged NCHW whatever its layout (see the module docstring)."""
    expr = mnn_module().expr
    dtype = {np.dtype(np.uint8): expr.uint8, np.dtype(np.float32): expr.float}[array.dtype]
    return expr.const(np.ascontiguousarray(array), list(array.shape), expr.NCHW, dtype)


def _dtype(mnn_dtype) -> str:
    """numpy's name for an MNN dtype (``dtype.float`` -> "float32")."""
    name = str(mnn_dtype).rpartition(".")[2]
    return {"float": "float32", "double": "float64", "int": "int32"}.get(name, name)


def _described(names: list[str], arrays: list[np.ndarray]) -> dict[str, tuple[tuple, str]]:
    return {name: (a.shape, a.dtype.name) for name, a in zip(names, arrays)}


def executes(precision: str, mode: str) -> str:
    """The arithmetic MNN gives a bundle of ``precision`` in precision ``mode`` on this CPU:
    fp16 needs ARMv8.2's half-precision arithmetic (Linux lists it as ``fphp`` in /proc/cpuinfo)."""
    fp16 = mode == "low" and _cpu_has_fp16_arithmetic()
    weights = {"fp16": "f16 weights, ", "int8": "int8 weights, "}.get(precision, "")
    return f"{weights}{'f16' if fp16 else 'f32'}"


def _cpu_has_fp16_arithmetic() -> bool:
    try:
        with open("/proc/cpuinfo") as handle:
            return any(line.startswith("Features") and " fphp" in line for line in handle)
    except OSError:
        return False
