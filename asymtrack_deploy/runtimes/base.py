"""The backend interface every runtime implements, numpy in and numpy out.

A backend runs the two exported branches. ``template(crops)`` turns template crops into an
opaque *state handle* that stays wherever the backend keeps it (device memory, bound I/O, an
infer request); ``search(crops, state)`` runs one step. Crops are RGB uint8 arrays
(B, H, W, 3): cast, scaling, normalisation and layout change happen inside the backend's graph.

The base class owns the public methods (input checks, batch checks, timing, closing);
subclasses implement ``_template_impl``, ``_search_impl`` and, when they hold resources,
``_close_impl`` (the Polygraphy runner pattern). ``BundleBackend`` is the base of every backend
that runs an exported bundle: it owns what they share (loading and checking the bundle, one
execution context per thread, binding a target's state once, closing). The facts a consumer needs
that are code are hooks here (``state_from_rows``, ``state_rows``, ``unavailable_on``,
``machine_facts``); the facts that are data are the backend's registry entry (``catalogue``).

Threads: a backend may be shared by several threads (one ``Tracker`` each). Backends whose
runtime allows it keep one compiled model and give each thread its own execution context
(``ThreadContexts``); the others set ``serialize_calls`` and their calls take turns under a lock.
The search outputs are checked to be finite (``NonFiniteOutputError``, naming the weights).
"""
from __future__ import annotations

import contextlib
import importlib
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..bundle import Bundle, load_bundle
from ..tracker_spec import StepRules

__all__ = ["Backend", "BackendInfo", "BackendUnavailable", "BundleBackend", "NonFiniteOutputError", "ThreadContexts",
           "check_graph_io", "require"]


class BackendUnavailable(ImportError):
    """A runtime library that is not installed; the message names the pip extra."""


class NonFiniteOutputError(ValueError):
    """The search graph returned NaN or infinity: the weights (or the arithmetic at the bundle's
    precision) are at fault, not the frame; the message names the likely cause."""


class ThreadContexts:
    """One execution context per thread over a compiled model that all threads share.

    A compiled model or session is safe to share; what it runs with (an infer request, an I/O
    binding and its output buffers, the state bound to them) is not, so each thread gets its
    own, made by ``make()`` on the thread's first call. ``clear()`` drops them all (the
    ``threading.local`` that holds them goes, and with it every thread's context).

    A backend makes its ``ThreadContexts`` before its compiled models and passes ``make`` per
    call (holding its bound method would make a reference cycle): freed in that order, the
    contexts go before the models they run on, never after.
    """

    def __init__(self):
        self._local = threading.local()

    def get(self, make):
        context = getattr(self._local, "context", None)
        if context is None:
            context = self._local.context = make()
        return context

    def clear(self) -> None:
        self._local = threading.local()


def require(module: str, extra: str, package: str | None = None) -> Any:
    """Import a heavy runtime library at first use, or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        pkg = package or module.split(".")[0]
        raise BackendUnavailable(
            f"{pkg} is not installed (needed here: {exc}). "
            f"Install it with: pip install 'asymtrack-deploy[{extra}]'"
        ) from exc


def check_graph_io(bundle, graph: str, kind: str, have: dict[str, tuple[tuple, str]]) -> None:
    """What the runtime loaded (``have``: name -> (shape, numpy dtype name) of the ``graph``'s
    ``kind`` "input"s or "output"s) is exactly what the manifest says, or a ValueError naming
    the differences: a manifest that disagrees with its graphs (edited sizes, a dropped state
    tensor, swapped files) is refused at load, not by a runtime error at the first frame."""
    spec = bundle.manifest.graph(graph)
    want = {t.name: (tuple(t.shape), t.dtype) for t in (spec.inputs if kind == "input" else spec.outputs)}
    have = {name: (tuple(shape), dtype) for name, (shape, dtype) in have.items()}
    if have == want:
        return
    diffs = [f"{name}: graph {_io(have.get(name))}, manifest {_io(want.get(name))}"
             for name in sorted(set(have) | set(want)) if have.get(name) != want.get(name)]
    raise ValueError(f"bundle {bundle.root}: the {graph} graph's {kind}s differ from its manifest.json "
                     f"({'; '.join(diffs)}); re-export the bundle")


def unreadable_graph(path, runtime: str, exc: Exception) -> ValueError:
    """A runtime's refusal to read a bundle's graph, as one line: the file, the runtime's reason
    (the lines of its message that are not source locations) and what to do. Its digest matched
    the manifest, so the file was damaged before the manifest was written or both were edited."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    said = [line for line in lines if not line.startswith(("Exception from ", "Check '"))] or lines or [type(exc).__name__]
    reason = " ".join(said)
    reason = reason.rsplit("failed:", 1)[-1].strip() if "failed:" in reason else reason.split(" : ")[-1]
    if len(reason) > 300:
        reason = reason[:297] + "..."
    return ValueError(f"{path}: {runtime} cannot read this graph ({reason}); the bundle is damaged: export it again")


def _io(entry) -> str:
    return "none" if entry is None else f"{entry[1]} {list(entry[0])}"


@dataclass(frozen=True)
class BackendInfo:
    """What the tracker needs to know about the network behind a backend: ``rules``, the crop,
    map-back and clip rules of the per-frame step (a bundle's manifest, or the torch backend's
    model config), and what runs (batch, precision, target, backend-specific ``extra``)."""

    variant: str
    rules: StepRules
    batch: int = 1
    precision: str = "fp32"
    target: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def template_size(self) -> int:
        return self.rules.template.size

    @property
    def search_size(self) -> int:
        return self.rules.search.size

    @classmethod
    def from_manifest(cls, manifest, **extra) -> "BackendInfo":
        """What a bundle's manifest says about the network, plus backend-specific ``extra``."""
        return cls(variant=manifest.model.variant, rules=StepRules.from_manifest(manifest), batch=manifest.batch,
                   precision=manifest.precision, target=manifest.target, extra=extra)


class Backend(ABC):
    """Base class: subclasses set ``self.info`` in ``__init__`` and implement the ``*_impl``s."""

    name: str = "base"
    info: BackendInfo
    # True where the backend's execution state cannot be per thread (one CUDA stream and its
    # buffers, a CUDA graph): calls from several threads then take turns instead of mixing
    serialize_calls: bool = False

    def __init__(self) -> None:
        self.last_template_ms = float("nan")
        self.last_search_ms = float("nan")
        self._closed = False
        self._call_lock = threading.RLock()

    # -- public API --------------------------------------------------------------------------
    def template(self, crops: np.ndarray) -> Any:
        """Template crops (B, Ht, Wt, 3) uint8 RGB -> a state handle for ``search``."""
        self._check_open()
        crops = self._check_crops(crops, self.info.template_size, "template")
        t0 = time.perf_counter_ns()
        with self._turn():
            state = self._template_impl(crops)
        self.last_template_ms = (time.perf_counter_ns() - t0) / 1e6
        return state

    def search(self, crops: np.ndarray, state: Any) -> tuple[np.ndarray, np.ndarray]:
        """Search crops (B, Hs, Ws, 3) uint8 RGB + state -> boxes (B, 4) float32 as normalised
        (cx, cy, w, h), scores (B,) float32 in [0, 1]."""
        self._check_open()
        if state is None:
            raise RuntimeError("search() needs the state that template() returned; call template() first")
        crops = self._check_crops(crops, self.info.search_size, "search")
        t0 = time.perf_counter_ns()
        with self._turn():
            boxes, scores = self._search_impl(crops, state)
        self.last_search_ms = (time.perf_counter_ns() - t0) / 1e6
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        scores = np.asarray(scores, dtype=np.float32).reshape(-1)
        self._check_finite(boxes, scores)
        return boxes, scores

    def close(self) -> None:
        """Release device memory and sessions; the backend is unusable afterwards (its calls
        raise RuntimeError). Closing twice is harmless."""
        with self._call_lock:  # a serialised call in flight in another thread finishes first
            if self._closed:
                return
            self._closed = True
            self._close_impl()

    def describe(self) -> str:
        """One line naming the runtime, its version and where it runs (for parity records)."""
        return self.name

    # -- registry hooks: the per-backend facts that are code -----------------------------------
    def state_from_rows(self, rows: dict[str, np.ndarray]) -> Any:
        """Stacked numpy rows (batch first) of each template-state tensor -> a state handle of
        this backend: serving's stream table keeps each stream's rows and stacks any mix of them."""
        raise NotImplementedError(f"the {self.name} backend cannot take a template state from numpy rows")

    def state_rows(self, state: Any) -> dict[str, np.ndarray]:
        """A state handle of this backend -> numpy copies of its tensors (the inverse of
        ``state_from_rows``)."""
        raise NotImplementedError(f"the {self.name} backend cannot give its template state as numpy rows")

    @classmethod
    def serves_streams(cls) -> bool:
        """Whether ``state_from_rows`` / ``state_rows`` are implemented (serving's stream table)."""
        return cls.state_from_rows is not Backend.state_from_rows and cls.state_rows is not Backend.state_rows

    def executed_arithmetic(self) -> str | None:
        """The arithmetic the runtime runs ("f32", "int8+f32"...), read from the runtime where it
        can tell (possibly slow: ``bench`` asks once, as a row's process ends); by default the
        label the backend gave at load (``info.extra["executes"]``; None for torch)."""
        return self.info.extra.get("executes")

    @classmethod
    def unavailable_on(cls, device: str) -> str | None:
        """Why this backend cannot run on ``device`` in this installation (None: it can), for
        ``bench``'s skipped rows; checked only for devices its registry entry lists."""
        return None

    @classmethod
    def machine_facts(cls) -> dict:
        """What this runtime says about the machine (``bench``'s machine record); {} by default."""
        return {}

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        i = self.info
        return f"{type(self).__name__}(variant={i.variant!r}, precision={i.precision!r}, batch={i.batch})"

    # -- for subclasses ----------------------------------------------------------------------
    @abstractmethod
    def _template_impl(self, crops: np.ndarray) -> Any: ...

    @abstractmethod
    def _search_impl(self, crops: np.ndarray, state: Any) -> tuple[np.ndarray, np.ndarray]: ...

    def _close_impl(self) -> None:
        """Release what the backend holds; called once, by ``close``."""

    def _bind_once(self, holder: Any, state: Any, bind) -> None:
        """Bind a target's state where the search runs once per new state, not per frame:
        ``bind(state)`` runs when ``state`` is not the one ``holder.bound_state`` holds, after
        checking that this backend made it."""
        if state is holder.bound_state:
            return
        self._check_own_state(state, self.state_type)
        bind(state)
        holder.bound_state = state

    state_type: type = object  # the class of this backend's state handles

    def _check_own_state(self, state: Any, kind: type) -> None:
        """A state handle is only valid with the backend instance that made it."""
        if not isinstance(state, kind) or getattr(state, "owner", None) != id(self):
            raise ValueError(
                f"search() needs a state returned by template() of this same {type(self).__name__}, "
                f"got {type(state).__name__}"
            )

    def _turn(self):
        """The lock for backends whose calls must take turns; nothing for the others."""
        return self._call_lock if self.serialize_calls else contextlib.nullcontext()

    def _check_finite(self, boxes: np.ndarray, scores: np.ndarray) -> None:
        if np.isfinite(boxes).all() and np.isfinite(scores).all():
            return
        source = self.info.extra.get("bundle") or self.info.extra.get("checkpoint") or "the weights"
        cause = ("the weights hold NaN or infinite values" if self.info.precision != "fp16" else
                 "the weights hold NaN or infinite values, or fp16 arithmetic overflowed (try the fp32 bundle)")
        raise NonFiniteOutputError(
            f"the {self.name} backend's search graph returned a non-finite box or score (precision "
            f"{self.info.precision}): {cause}; check {source} and the checkpoint it came from"
        )

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"this {type(self).__name__} is closed; create a new one")

    def _check_crops(self, crops: np.ndarray, size: int, what: str) -> np.ndarray:
        if not isinstance(crops, np.ndarray):
            raise ValueError(f"{what} crops must be a numpy array, got {type(crops).__name__}")
        if crops.ndim == 3:
            crops = crops[None]
        expected = (self.info.batch, size, size, 3)
        if crops.dtype != np.uint8 or crops.shape != expected:
            raise ValueError(
                f"{what} crops must be uint8 of shape {expected} (batch, H, W, RGB), "
                f"got {crops.dtype} {crops.shape}"
            )
        return np.ascontiguousarray(crops)


class BundleBackend(Backend):
    """A backend over an exported bundle: ``self.bundle = self._open_bundle(bundle, verify)``
    in ``__init__`` loads it and refuses one without the class's ``graph_roles``; threads get
    their own execution context from ``self._contexts``; ``close`` clears them, then runs
    ``_release`` (drop the sessions or compiled models: contexts go first, never after)."""

    graph_roles: tuple[str, ...] = ()  # the file roles both graphs need
    files_named: str = "files"  # how the error names them ("ONNX graphs")
    export_target: str = ""  # the export target that writes them

    def __init__(self) -> None:
        super().__init__()
        self._contexts = ThreadContexts()  # before the sessions or compiled models: freed before them

    def _open_bundle(self, bundle, verify: bool):
        bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle, verify=verify)
        m = bundle.manifest
        if not all(role in m.graph(g).files for g in ("template", "search") for role in self.graph_roles):
            raise ValueError(
                f"bundle {bundle.root} (target {m.target!r}) has no {self.files_named}; export one with: "
                f"asymtrack-deploy export --target {self.export_target}"
            )
        return bundle

    def _close_impl(self) -> None:
        self._contexts.clear()
        self._release()

    def _release(self) -> None:
        """Drop what the backend holds besides its thread contexts; called once, by ``close``."""
