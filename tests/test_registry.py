"""Every per-backend fact lives in the registry: outside a backend's own module, its converter
and ``catalogue.py``, no module compares anything with a backend name or keys a dict by one
(checked on the source with ``ast``, so a new table or branch fails here, not in review)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from asymtrack_deploy import catalogue

PACKAGE = Path(__file__).resolve().parents[1] / "asymtrack_deploy"
NAMES = set(catalogue.backends())


def _exempt(path: Path) -> bool:
    """A backend's own module, a target's converter, the registry."""
    return path.stem.endswith(("_backend", "_target")) or path.name == "catalogue.py"


def _strings(node: ast.AST) -> list[str]:
    """The string constants ``node`` is or holds (a tuple/list/set literal's items)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [s for item in node.elts for s in _strings(item)]
    return []


def backend_name_uses(source: str) -> list[str]:
    """``line: what`` for each comparison with a backend name and each dict keyed by one."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            names = [s for part in (node.left, *node.comparators) for s in _strings(part) if s in NAMES]
            found += [f"{node.lineno}: compares with {name!r}" for name in names]
        elif isinstance(node, ast.Dict):
            names = [s for key in node.keys if key is not None for s in _strings(key) if s in NAMES]
            found += [f"{node.lineno}: a dict keyed by {name!r}" for name in names]
    return found


@pytest.mark.parametrize("path", sorted(p for p in PACKAGE.rglob("*.py") if not _exempt(p)),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_names_a_backend_outside_the_registry(path):
    assert backend_name_uses(path.read_text()) == []


def test_the_check_finds_branches_and_tables():
    """A guard on the checker: the forms that main had (issue 25) are found."""
    assert backend_name_uses('if backend == "openvino":\n    pass\n') == ["1: compares with 'openvino'"]
    assert backend_name_uses('ok = backend not in (None, "torch")\n') == ["1: compares with 'torch'"]
    assert backend_name_uses('T = {"onnxruntime": "providers"}\n') == ["1: a dict keyed by 'onnxruntime'"]
    assert backend_name_uses('x = {"other": 1}\nif y == "elsewhere": pass\n') == []


def test_bench_runs_onnx_runtime_through_its_own_target():
    """Every ONNX Runtime row (fp32 included) runs the graph rewritten and optimised for ONNX
    Runtime, not the plain ONNX graph: that graph's step was 1.06x faster (RESULTS.md)."""
    assert [catalogue.bench_target("onnxruntime", p) for p in ("fp32", "fp16", "int8")] == ["onnxruntime"] * 3
    assert catalogue.bench_target("onnxruntime", "bf16") is None
