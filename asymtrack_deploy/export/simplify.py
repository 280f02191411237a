"""Graph simplification after export: constant folding, shape-op removal, fusion.

The TorchScript exporter leaves shape arithmetic (Shape/Gather/Concat chains, Expand + Tile)
whose outputs ONNX shape inference cannot size; both onnxslim and onnx-simplifier (onnxsim) fold
it into constants, which makes every tensor static. Measured on AsymTrack-tiny (ONNX Runtime
1.32, CPU, 2-core machine, search graph, median of 15 x 20 runs):

==========  =======================  ================  =============================
simplifier  latency 1 thread / 2     nodes (t / s)     simplify time (both graphs)
==========  =======================  ================  =============================
none        16.9 ms / 18.3 ms        not static         -
onnxslim    17.0 ms / 18.6 ms        185 / 312          1.65 s
onnxsim     16.7 ms / 18.1 ms        187 / 318          0.14 s
==========  =======================  ================  =============================

Run time is the same within noise (ORT applies its own fusions at session creation; with them
off, onnxslim 22.6 ms and onnxsim 22.8 ms). onnxslim stays the default: it is a pure-Python
wheel already in the ``export`` extra, leaves no Constant nodes and the fewest nodes; onnxsim is
the faster simplifier and available with ``simplifier="onnxsim"``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnx

__all__ = ["SIMPLIFIERS", "DEFAULT_SIMPLIFIER", "simplify", "simplifier_version"]

def _onnxslim(model: onnx.ModelProto) -> onnx.ModelProto:
    import onnxslim

    return onnxslim.slim(model)


def _onnxsim(model: onnx.ModelProto) -> onnx.ModelProto:
    import onnxsim

    simplified, ok = onnxsim.simplify(model)
    if not ok:
        raise RuntimeError("onnxsim could not verify its simplified graph against the original")
    return simplified


# No "none": the raw trace has tensors of unknown size and fails the static-shape check.
_SIMPLIFIERS = {"onnxslim": _onnxslim, "onnxsim": _onnxsim}
SIMPLIFIERS = tuple(_SIMPLIFIERS)
DEFAULT_SIMPLIFIER = "onnxslim"


def _check_name(name: str) -> None:
    if name not in _SIMPLIFIERS:
        raise ValueError(f"unknown simplifier {name!r}: expected one of {', '.join(SIMPLIFIERS)}")


def simplify(model: onnx.ModelProto, simplifier: str = DEFAULT_SIMPLIFIER) -> onnx.ModelProto:
    """The simplified graph (the simplifier's module is imported at first use)."""
    _check_name(simplifier)
    return _SIMPLIFIERS[simplifier](model)


def simplifier_version(simplifier: str) -> str:
    """``"onnxslim 0.1.98"``: what goes into the manifest's export record."""
    _check_name(simplifier)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{simplifier} {version(simplifier)}"
    except PackageNotFoundError:
        return simplifier
