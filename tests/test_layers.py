"""The package's import graph: no cycle, and every layer imports only downward."""

from __future__ import annotations

import ast
import pathlib

import pytest

SOURCE = pathlib.Path(__file__).parents[1] / "src" / "focalkit"

#: Lower layers first: a module may import only from its own layer or the ones before it.
LAYERS = (
    ("focalkit._tracing", "focalkit._tensor", "focalkit.backends", "focalkit._distributed"),
    ("focalkit._kernels",),
    ("focalkit._checks", "focalkit._dispatch"),
    ("focalkit.functional",),
    ("focalkit.nn", "focalkit.registry", "focalkit.schedules", "focalkit.weights",
     "focalkit.init", "focalkit.reference"),
)


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: pathlib.Path) -> set[str]:
    """Every focalkit module ``path`` imports, at module level or inside a function."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("focalkit"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if not module.startswith("focalkit"):
                continue
            for alias in node.names:
                candidate = f"{module}.{alias.name}"
                found.add(candidate if _exists(candidate) else module)
    return {m for m in found if m != name}


def _exists(module: str) -> bool:
    path = SOURCE.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in SOURCE.rglob("*.py")}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return result



def test_no_import_cycle():
    graph = _graph()
    # A package's __init__ gathering its own submodules is not a back arrow.
    pruned = {m: {d for d in deps if not d.startswith(m + ".")} for m, deps in graph.items()}
    assert _cycles(pruned) == []


def _layer(module: str) -> int | None:
    for i, layer in enumerate(LAYERS):
        if any(module == top or module.startswith(top + ".") for top in layer):
            return i
    return None


@pytest.mark.parametrize("module", sorted(_graph()))
def test_layers_import_downward(module):
    own = _layer(module)
    if own is None:
        return
    upward = sorted(d for d in _graph()[module]
                    if (_layer(d) is not None and _layer(d) > own))
    assert upward == [], f"{module} imports from a higher layer"


@pytest.mark.parametrize("package", ["functional", "nn", "reference"])
def test_every_family_module_is_exported_by_its_package(package):
    """Each public module of a family package is star-imported by the package, which adds its
    ``__all__`` to its own: a family left out of its ``__init__`` fails here."""
    import importlib
    import pkgutil

    parent = importlib.import_module(f"focalkit.{package}")
    families = [info.name for info in pkgutil.iter_modules(parent.__path__)
                if not info.name.startswith("_")]
    assert families
    for name in families:
        module = importlib.import_module(f"focalkit.{package}.{name}")
        assert set(module.__all__) <= set(parent.__all__), name
        assert all(getattr(parent, item) is getattr(module, item) for item in module.__all__)
    assert len(parent.__all__) == len(set(parent.__all__))


def test_every_kernel_module_is_imported_by_its_backend():
    """A kernel registers when its module is imported: the blocked package imports them all,
    so a module left out cannot silently leave its loss to the plain form."""
    import importlib
    import pkgutil
    import sys

    package = importlib.import_module("focalkit._kernels.blocked")
    for info in pkgutil.iter_modules(package.__path__):
        assert f"focalkit._kernels.blocked.{info.name}" in sys.modules, info.name
