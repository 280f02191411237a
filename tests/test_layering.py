"""The package's import layering (docs/design.md, "Packages and what each may import"), checked
on the source with ``ast`` so it cannot erode silently."""
from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "asymtrack_deploy"

# numpy/OpenCV/stdlib modules at the bottom that every layer may use
FOUNDATION = {"bundle", "catalogue", "boxes", "crop", "sources", "demo", "datasets", "tracker_spec", "limits", "folders", "outputs"}
# component -> the components it may import (besides itself and FOUNDATION)
ALLOWED: dict[str, set[str]] = {
    "foundation": set(),
    "runtimes": set(),
    "tracker": {"runtimes"},
    "parity": {"runtimes", "tracker"},
    "c_tracker": {"runtimes", "tracker"},
    "serving": {"runtimes", "tracker"},
    "models": set(),
    "export": {"models", "runtimes", "parity", "serving"},
    "eval": {"runtimes", "tracker"},
    "train": {"models"},
    "benchmarks": {"runtimes", "tracker", "parity", "c_tracker"},
    "cli": {"runtimes", "tracker", "parity", "c_tracker", "serving", "models", "export", "eval", "train", "benchmarks"},
}
# modules allowed one more import than their component: only the torch backend runs the model
EXCEPTIONS = {"runtimes.torch_backend": {"models"}, "runtimes.official_backend": {"models"},
              # Triton repositories are written through the exporter's one atomic-folder implementation
              "serving.repository": {"export"}}
# components whose modules must not import torch at module level (the runtime side)
TORCH_FREE = {"foundation", "runtimes", "tracker", "parity", "c_tracker", "serving", "eval", "benchmarks"}
TORCH_MODULES = {"runtimes.torch_backend", "runtimes.official_backend"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        found[".".join(p for p in parts if p != "__init__") or "__init__"] = path
    return found


def _component(module: str) -> str:
    head = module.split(".")[0]
    return "foundation" if head in FOUNDATION else head


def _absolute(module: str, path: Path, node: ast.ImportFrom) -> list[str]:
    """The package modules an ImportFrom names, as dotted names below asymtrack_deploy."""
    if node.level == 0:
        base = node.module or ""
        if not base.startswith("asymtrack_deploy"):
            return []
        base = base.removeprefix("asymtrack_deploy").lstrip(".")
    else:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)] if node.level > 1 else package
        base = ".".join([*package, node.module] if node.module else package)
    if base in ("", "__init__"):
        return [alias.name for alias in node.names]
    return [base]


def _imports(module: str, path: Path) -> list[tuple[str, bool]]:
    """(imported package module, at module level?) for every import of the package."""
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found += [(name, id(node) in top) for name in _absolute(module, path, node)]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("asymtrack_deploy."):
                    found.append((alias.name.removeprefix("asymtrack_deploy."), id(node) in top))
    return [(name, level) for name, level in found if name and name != "__version__"]


def _torch_at_module_level(path: Path) -> bool:
    tree = ast.parse(path.read_text())
    for node in tree.body:
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        if any(n == "torch" or n.startswith("torch.") for n in names):
            return True
    return False


MODULES = _modules()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_follow_the_layering(module):
    component = _component(module)
    assert component in ALLOWED or module == "__init__", f"{module}: component {component!r} is not in the layering table"
    if module == "__init__":
        return
    allowed = ALLOWED[component] | {component, "foundation"} | EXCEPTIONS.get(module, set())
    for imported, _ in _imports(module, MODULES[module]):
        target = _component(imported)
        assert target in allowed, f"{module} imports {imported} ({target}), which layer {component!r} may not import"


def test_nothing_imports_the_command_line():
    for module, path in MODULES.items():
        if _component(module) != "cli":
            assert not any(_component(i) == "cli" for i, _ in _imports(module, path)), module


def test_runtime_side_does_not_import_torch_at_module_level():
    offenders = [m for m, p in MODULES.items()
                 if _component(m) in TORCH_FREE and m not in TORCH_MODULES and _torch_at_module_level(p)]
    assert offenders == []


def test_module_names_are_unique_outside_parallel_families():
    """Two modules of one name confuse readers and tracebacks; the exceptions are families of
    parallel implementations (``*_target``, ``*_backend``) and the command modules."""
    names = [Path(*m.split(".")).name for m in MODULES if m != "__init__" and _component(m) != "cli"
             and not m.endswith(("_target", "_backend"))]
    repeated = {name: count for name, count in Counter(names).items() if count > 1}
    assert repeated == {}


def test_the_checker_sees_relative_imports():
    """A guard on the checker itself: it must resolve ``from ..x import y`` inside packages."""
    imports = dict(_imports("export.pipeline", MODULES["export.pipeline"]))
    assert {"catalogue", "runtimes", "export.onnx_graphs", "models"} <= set(imports)
    assert imports["export.onnx_graphs"] is True and imports["models"] is False  # models only inside a function


def _long_functions(limit: int = 50) -> list[str]:
    """Functions over ``limit`` lines; a CLI command counts from its first statement (its
    option declarations are a table, not logic)."""
    found = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            start = node.body[0].lineno if _component(module) == "cli" and node.name == "command" else node.lineno
            if node.end_lineno - start + 1 > limit:
                found.append(f"{module}.{node.name} ({node.end_lineno - start + 1} lines)")
    return found


def test_functions_are_short():
    assert _long_functions() == []
