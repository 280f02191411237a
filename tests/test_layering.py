"""The package's import layering (docs/design.md, "Packages and what each may import"), checked
on the source with ``ast`` so it cannot erode silently."""
from __future__ import annotations

import ast
import functools
from collections import Counter
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "asymtrack_deploy"

# The layers, bottom first: a module may import its own component and any component of a lower
# layer, nothing else (no upward and no sideways import, no exception). Derived from nothing but
# this order and the source; every name here must be a module or package of the source.
LAYERS: list[set[str]] = [
    {"bundle", "catalogue", "boxes", "crop", "sources", "demo_weights", "datasets", "tracker_spec", "staged_folder",
     "limits", "interrupted_writes", "outputs"},
    {"models"},  # the PyTorch reference (torch only); of the runtime side only runtimes.torch_backend uses it
    {"runtimes"},
    {"tracker"},
    {"parity", "c_tracker"},
    {"serving", "eval", "train"},
    {"export", "bench"},
    {"cli"},
]
FOUNDATION = LAYERS[0]
# components whose modules must not import torch at module level (the runtime side)
TORCH_FREE = {"foundation", "runtimes", "tracker", "parity", "c_tracker", "serving", "eval", "bench"}
TORCH_MODULES = {"runtimes.torch_backend"}
# the only modules of the runtime side that may import models (lazily): the torch backend
MODEL_USERS = {"runtimes.torch_backend"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        found[".".join(p for p in parts if p != "__init__") or "__init__"] = path
    return found


def _component(module: str) -> str:
    head = module.split(".")[0]
    return "foundation" if head in FOUNDATION else head


def _rank(component: str) -> int:
    if component == "foundation":
        return 0
    return next(i for i, layer in enumerate(LAYERS) if component in layer)


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


@functools.lru_cache(maxsize=1)
def _graph() -> dict[str, set[str]]:
    """module -> the package modules it imports (anywhere in it), resolved to modules that exist
    (``from .x import name`` names module x, or x.name when that is a module)."""
    graph = {}
    for module, path in MODULES.items():
        targets = set()
        for imported, _ in _imports(module, path):
            targets.add(imported if imported in MODULES else imported.rsplit(".", 1)[0])
        graph[module] = {t for t in targets if t in MODULES and t != module}
    return graph


def test_every_name_in_the_tables_exists():
    components = {_component(m) for m in MODULES if m != "__init__"}
    named = set().union(*LAYERS) - FOUNDATION
    assert named - components == set(), "layer table names components that do not exist"
    assert {m for m in FOUNDATION if m not in MODULES and m not in components} == set()
    assert (TORCH_MODULES | MODEL_USERS) - set(MODULES) == set()
    assert components - named - {"foundation"} == set(), "a component missing from the layer table"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "__init__"))
def test_imports_go_down_the_layers_only(module):
    component = _component(module)
    for imported in _graph()[module]:
        target = _component(imported)
        if imported == "__init__" or target == component:
            continue
        assert _rank(target) < _rank(component), (
            f"{module} imports {imported}: {target!r} is not below {component!r} (docs/design.md, layers)")
        if target == "models" and component in TORCH_FREE:
            assert module in MODEL_USERS, f"{module} imports {imported}: of the runtime side only the torch backend may"


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (a list of nodes, first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph between packages (a package's modules and its __init__ as one node)."""
    top = lambda m: m.split(".")[0]
    packages: dict[str, set[str]] = {}
    for module, targets in graph.items():
        packages.setdefault(top(module), set()).update(top(t) for t in targets if top(t) != top(module))
    return packages


def test_no_import_cycles_between_modules():
    graph = {m: {t for t in ts if t != "__init__"} for m, ts in _graph().items()}
    # a package's __init__ re-exporting its modules is not a cycle with them
    graph = {m: {t for t in ts if not (m.startswith(t + ".") and t in MODULES)} for m, ts in graph.items()}
    assert _cycle(graph) is None


def test_no_import_cycles_between_packages():
    assert _cycle(_package_graph(_graph())) is None


def test_the_checker_finds_cycles_and_upward_imports():
    """A guard on the checker itself."""
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
    assert _rank("cli") > _rank("export") > _rank("serving") > _rank("tracker") > _rank("runtimes") > 0


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
