"""The package's shape: stage subpackages in one order, imports only downwards, no cycles.

The layer order is declared once, here. A module may import from its own layer or any lower
one; an import from a higher layer, or a cycle between modules (counting imports inside
functions too), fails with the chain that breaks the rule.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "netopt"

#: lowest first: data < inventory < model < solver < results < analysis < report < cli < api
LAYERS = ("data", "inventory", "model", "solver", "results", "analysis", "report", "cli", "api")
#: what may sit at the top of the package (everything else lives in a stage subpackage)
TOP_LEVEL = {"__init__.py", "api.py", "py.typed"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every netopt module `name` imports, anywhere in the file (lazy imports included)."""
    is_package = path.name == "__init__.py"
    here = name.split(".") if is_package else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            # `from pkg import sub` imports the submodule sub when there is one
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in known else module
                       for a in node.names]
        else:
            continue
        found |= {t for t in targets if t in known and t != name}
    return found


def _layer(module: str) -> int:
    parts = module.split(".")
    key = "api" if len(parts) < 2 or parts[1] == "api" else parts[1]
    return LAYERS.index(key)


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    # a package's __init__ importing its own submodules is not a dependency of those modules
    return {name: {t for t in _imports(name, path, known) if not name.startswith(f"{t}.")}
            for name, path in modules.items()}


def test_top_level_holds_only_the_public_api() -> None:
    extra = sorted(p.name for p in PACKAGE.iterdir()
                   if p.name not in TOP_LEVEL and p.name != "__pycache__" and not p.is_dir())
    assert extra == [], f"modules outside a stage subpackage: {extra}"
    stages = sorted(p.name for p in PACKAGE.iterdir()
                    if p.is_dir() and p.name != "__pycache__")
    assert set(stages) <= set(LAYERS), f"subpackage not in LAYERS: {set(stages) - set(LAYERS)}"


def test_every_module_belongs_to_a_declared_layer() -> None:
    for name in _modules():
        assert _layer(name) >= 0, name


def test_imports_only_go_down_the_layers() -> None:
    upward = [f"{src} ({LAYERS[_layer(src)]}) imports {dst} ({LAYERS[_layer(dst)]})"
              for src, targets in sorted(_graph().items()) for dst in sorted(targets)
              if _layer(dst) > _layer(src)]
    assert upward == [], "imports from a higher layer:\n" + "\n".join(upward)


def test_no_import_cycles() -> None:
    graph = _graph()
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    stack: list[str] = []
    cycles: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt):], nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)


def test_the_checker_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    """The walker must find an import inside a function and resolve `..` against the
    module's package, or the two rules above would pass vacuously."""
    graph = _graph()
    assert "netopt.results.tables" in graph["netopt.report"]
    assert "netopt.data.case" in graph["netopt.cli.common"]  # lazy, inside load_or_exit
    assert "netopt.model.calendar" in graph["netopt.model.timeline"]
    assert _layer("netopt.cli.app") > _layer("netopt.report.maps") > _layer("netopt.data.io")
