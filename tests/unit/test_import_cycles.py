"""No import cycle between the modules of otj/, calendars/ and guestjoin/ (issue 14).

The graph is built from the source with ``ast``: an edge for every import statement that can
run, at module level or deferred inside a function (``otj.store`` once imported
``otj.config.runtime`` inside ``open_database`` while that module imported ``otj.store``), but
not under ``if TYPE_CHECKING:``. A cycle is a strongly connected component of more than one
module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("otj", "calendars", "guestjoin")

# Cycles that exist today in files other branches are rewriting at the same time; each entry is
# the exact set of modules of one cycle and why it is tolerated. Remove an entry once its cycle
# is gone (the test then fails until the entry is deleted, so the list cannot go stale).
KNOWN_CYCLES: dict[frozenset[str], str] = {}


def module_names() -> dict[str, Path]:
    """Every module of the packages by dotted name (``pkg/__init__.py`` is ``pkg``)."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue  # Alembic scripts are loaded by path, never imported
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def executed_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements of a body that can run: at module level and inside functions
    (a deferred import still ties the two modules together), never under ``TYPE_CHECKING``."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            yield from executed_imports(node.orelse)
            continue
        for value in ast.iter_fields(node):
            children = value[1] if isinstance(value[1], list) else []
            for child in children:
                if isinstance(child, ast.stmt):
                    yield from executed_imports([child])
                elif isinstance(child, ast.excepthandler | ast.match_case):
                    yield from executed_imports(child.body)


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of the packages it imports when loaded."""
    modules = module_names()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in executed_imports(tree.body):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = name.split(".")
                    anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                    base = ".".join([*anchor, base] if base else anchor)
                # ``from a import b``: module a.b when b is one, else a (for each name)
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            for imported in targets:
                target = imported
                while target and target not in modules:
                    target = target.rpartition(".")[0]  # ``import a.b.x``: nearest module
                if target and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_the_imports_it_must() -> None:
    graph = import_graph()
    assert "otj.store.db" in graph["otj.store"]
    assert "otj.commands.runtime" in graph["otj.commands.config"]


def test_no_import_cycle_beyond_the_known_ones() -> None:
    found = set(cycles(import_graph()))
    new = [sorted(cycle) for cycle in found - KNOWN_CYCLES.keys()]
    gone = [sorted(cycle) for cycle in KNOWN_CYCLES.keys() - found]
    assert not new, f"import cycles: {new}"
    assert not gone, f"cycles in KNOWN_CYCLES that no longer exist (delete their entry): {gone}"


def test_a_cycle_is_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [frozenset({"a", "b", "c"})]
