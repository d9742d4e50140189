"""YAML documents with the line of every value, so each configuration error names its line.

``load_yaml`` composes the node tree with PyYAML's safe loader, constructs the plain data from
it, and walks the same tree to record where each path (``("endpoints", 0, "api_port")``)
starts. Duplicate keys, which YAML loaders silently collapse, are reported as problems.

Anchors and aliases (``&defaults`` / ``*defaults``, ``<<:`` merge keys) are allowed within a
budget: a document whose aliases expand to more than ``MAX_VALUES`` values (the "billion
laughs" shape, CVE-2003-1564's YAML form) or refer to themselves is refused before anything
walks the expanded tree. ``safe_load`` is ``yaml.safe_load`` with the same budget.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]

MAX_VALUES = 100_000
"""Values a document may expand to through its aliases (a large configuration has ~10,000)."""


def format_path(path: Path) -> str:
    """``endpoints[0].api_port``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


@dataclass(frozen=True, kw_only=True, slots=True)
class Problem:
    """One configuration error (or warning) with its YAML path and line (0 = unknown)."""

    path: str
    line: int
    message: str
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.path} (line {self.line})" if self.line else self.path
        return f"{'warning' if self.warning else 'error'}: {where}: {self.message}"


@dataclass(slots=True)
class Located:
    """Plain YAML data plus the line where each path starts."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    source: str = ""

    def line(self, path: Path) -> int:
        """The line of ``path``, or of its nearest ancestor that has one."""
        probe = path
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return self.lines.get((), 0)

    def problem(self, path: Path, message: str, *, warning: bool = False) -> Problem:
        """A problem at ``path``."""
        return Problem(
            path=format_path(path), line=self.line(path), message=message, warning=warning
        )


class YamlError(ValueError):
    """The text is not YAML; ``problem`` locates the syntax error."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def load_yaml(text: str, *, source: str = "") -> tuple[Located, list[Problem]]:
    """Parse one YAML document; returns the located data and duplicate-key problems."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        located = Located(data=None, source=source)
        problems: list[Problem] = []
        if node is not None:
            _check_expansion(node)
            # before construction, which flattens `<<:` merges into the mapping nodes
            _walk(node, (), located.lines, problems)
            located.data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        reason = exc.problem or exc.context or "invalid YAML"
        raise YamlError(Problem(path="(document)", line=line, message=reason)) from exc
    except yaml.YAMLError as exc:
        raise YamlError(Problem(path="(document)", line=0, message=str(exc))) from exc
    except RecursionError as exc:
        raise YamlError(
            Problem(path="(document)", line=0, message="collections nested too deeply")
        ) from exc
    finally:
        loader.dispose()
    return located, problems


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` of one document, refusing alias bombs (``YamlError``)."""
    located, _ = load_yaml(text)
    return located.data


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a node graph that expands to more than ``MAX_VALUES`` values or has a cycle.

    Each distinct node is sized once (aliases share nodes), so this is linear in the text.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] > MAX_VALUES:
                raise YamlError(
                    Problem(
                        path="(document)",
                        line=node.start_mark.line + 1,
                        message=(
                            f"anchors and aliases expand to more than {MAX_VALUES:,} values "
                            "(an alias bomb?); write the values out instead"
                        ),
                    )
                )
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise YamlError(
                Problem(
                    path="(document)",
                    line=node.start_mark.line + 1,
                    message="an alias refers to the collection that contains it",
                )
            )
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _walk(node: yaml.Node, path: Path, lines: dict[Path, int], problems: list[Problem]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in _pairs(node):
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(
                    Problem(
                        path=format_path((*path, key)),
                        line=line,
                        message=f"duplicate key (first at line {seen[key]})",
                    )
                )
                continue
            seen[key] = line
            lines[(*path, key)] = line
            _walk(value_node, (*path, key), lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _walk(item, (*path, index), lines, problems)


def _pairs(node: yaml.MappingNode) -> Iterable[tuple[yaml.Node, yaml.Node]]:
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<:` merge keys: the merged keys take their lines from the anchor
        yield key_node, value_node
