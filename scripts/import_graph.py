"""Print the import graph of servflow and fail on a cycle or an import that points up.

    python scripts/import_graph.py                  # src/servflow
    python scripts/import_graph.py --root PATH      # another tree laid out the same way
    python scripts/import_graph.py --quiet          # only the violations
    python scripts/import_graph.py --mermaid        # the layers as a Mermaid diagram

The graph is read from the source with :mod:`ast`, never by importing it, and counts every
import: at the top of a module, inside a function (a lazy import is still a dependency)
and under ``if TYPE_CHECKING:``. An import of ``pkg.sub.mod`` from outside ``pkg.sub``
also counts as an import of the package ``pkg.sub`` (its ``__init__`` runs first), which is
how a lazy import can close a cycle through a package's re-exports.

Each module belongs to one layer of :data:`LAYERS`, listed from the bottom up; a module may
import its own layer and the layers below it. The script prints each module with the
modules it imports, then every violation, and exits 1 if there is any: an import of a
higher layer, a cycle between modules (each strongly connected group is listed once), or a
module that no layer claims (a new module must be placed deliberately).
"""

from __future__ import annotations

import argparse
import ast
import itertools
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "src" / "servflow"

# The layers, from the bottom up, as ``(name, module prefixes)`` relative to the package.
# The errors, the hints of messages and the bounds of values (which import nothing else of
# servflow) are the base. The language's models, procedures and calendars alike, sit below
# the engine (the engine runs them; they know nothing of it); the loader (YAML, static
# checks, schema) and the Engine that loads folders (``catalogue``) sit above the engine,
# whose expression compiler the loader uses to check a file. Storage, the host-side desk, the renderers and the
# testing kit build on these; ``""`` is the package's own __init__ (the public names it
# re-exports); the command line, which may use all of it, is the top.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("errors", "_hints", "bounds")),
    ("model", ("model", "_strict", "calendar_spec")),
    ("engine", ("engine",)),
    ("language", ("procedures", "catalogue")),
    ("store", ("store",)),
    ("desk", ("desk",)),
    ("render", ("render",)),
    ("kpi", ("kpi",)),
    ("testing", ("testing",)),
    ("api", ("",)),
    ("cli", ("commands", "cli", "__main__")),
)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    file: str
    line: int


def module_names(root: Path) -> dict[str, Path]:
    """Every module of the package at ``root``, by dotted name."""
    package = root.name
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join([package, *parts])] = path
    return found


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module named by a (possibly relative) ``from ... import``."""
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    if not is_package:
        base.pop()
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _targets(
    importer: str, is_package: bool, node: ast.AST, modules: Mapping[str, Path]
) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
    elif isinstance(node, ast.ImportFrom):
        base = _resolve(importer, is_package, node)
        for alias in node.names:
            # `from pkg import sub` imports the module pkg.sub when there is one.
            full = f"{base}.{alias.name}"
            yield full if full in modules else base


def _owner(name: str, modules: Mapping[str, Path]) -> str | None:
    """The module of the package that ``name`` is, or lies in (None: outside the package)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def edges_of(root: Path) -> tuple[dict[str, Path], list[Edge]]:
    """The package's modules and every import between them."""
    modules = module_names(root)
    edges: list[Edge] = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            for target in _targets(name, is_package, node, modules):
                owner = _owner(target, modules)
                if owner is None or owner == name:
                    continue
                line = getattr(node, "lineno", 0)
                edges.append(Edge(name, owner, str(path), line))
                # Importing pkg.sub.mod runs pkg.sub's __init__ first, unless the importer
                # is already inside pkg.sub.
                parent = owner.rpartition(".")[0]
                while parent and parent in modules and not name.startswith(parent + "."):
                    if parent != name:
                        edges.append(Edge(name, parent, str(path), line))
                    parent = parent.rpartition(".")[0]
    return modules, edges


def layer_of(module: str, package: str) -> int | None:
    """The index in :data:`LAYERS` of ``module``'s layer: the longest prefix that claims it."""
    relative = module.removeprefix(package).removeprefix(".")
    best: tuple[int, int] | None = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if prefix == "":
                hit = relative == ""
            else:
                hit = relative == prefix or relative.startswith(prefix + ".")
            if hit and (best is None or len(prefix) > best[1]):
                best = (index, len(prefix))
    return None if best is None else best[0]


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:
        # Iterative, so that a deep chain of imports cannot hit the recursion limit.
        nonlocal counter
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def _loop_through(start: str, members: set[str], graph: Mapping[str, Iterable[str]]) -> list[str]:
    """A shortest loop from ``start`` back to it, staying inside ``members``."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph.get(node, ())):
                if child not in members or child in previous:
                    continue
                previous[child] = node
                if child == start:
                    path = [start, node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return list(reversed(path))
                following.append(child)
        frontier = following
    return [start, start]


def loops(group: Sequence[str], graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Distinct shortest loops through the members of one cycle group, shortest first.

    A group of mutually dependent modules can hold several loops (the engine's core and its
    timing module importing each other, and the model reaching into the engine, say); one
    line for each makes every import to cut visible.
    """
    members = set(group)
    found: dict[frozenset[tuple[str, str]], list[str]] = {}
    for start in group:
        loop = _loop_through(start, members, graph)
        found.setdefault(frozenset(itertools.pairwise(loop)), loop)
    return sorted(found.values(), key=lambda loop: (len(loop), loop))


def violations(root: Path) -> tuple[dict[str, set[str]], list[str]]:
    """The graph (module -> modules it imports) and every violation, one line each."""
    package = root.name
    modules, edges = edges_of(root)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for edge in edges:
        graph[edge.source].add(edge.target)
    problems: list[str] = []
    for name in sorted(modules):
        if layer_of(name, package) is None:
            problems.append(f"unplaced: {name} belongs to no layer of scripts/import_graph.py")
    seen: set[tuple[str, str]] = set()
    for edge in sorted(edges, key=lambda e: (e.source, e.target, e.line)):
        low, high = layer_of(edge.source, package), layer_of(edge.target, package)
        if low is None or high is None or high <= low:
            continue
        if (edge.source, edge.target) in seen:
            continue
        seen.add((edge.source, edge.target))
        problems.append(
            f"upward: {edge.source} ({LAYERS[low][0]}) imports {edge.target} "
            f"({LAYERS[high][0]}) at {_shown(edge.file)}:{edge.line}"
        )
    for group in cycles(graph):
        for loop in loops(group, graph):
            problems.append(f"cycle: {' -> '.join(loop)}")
    return graph, problems


def layer_diagram(root: Path) -> str:
    """The layers as a Mermaid flowchart, bottom up: an arrow ``A --> B`` where a module of
    layer A imports one of layer B and no third layer already links them (A's imports that
    pass through a layer in between are implied, so the picture stays readable).

    docs/architecture.md shows this text, and a test compares the two, so the picture
    cannot drift from the code."""
    package = root.name
    modules, edges = edges_of(root)
    present: set[str] = set()
    for name in modules:
        relative = name.removeprefix(package).removeprefix(".")
        for _, prefixes in LAYERS:
            present.update(
                p for p in prefixes if p and (relative == p or relative.startswith(p + "."))
            )
    direct: dict[int, set[int]] = {}
    for edge in edges:
        low, high = layer_of(edge.source, package), layer_of(edge.target, package)
        if low is not None and high is not None and low != high:
            direct.setdefault(low, set()).add(high)

    def reaches(start: int, goal: int, skip: tuple[int, int]) -> bool:
        seen, todo = {start}, [start]
        while todo:
            node = todo.pop()
            for nxt in direct.get(node, ()):
                if (node, nxt) == skip or nxt in seen:
                    continue
                if nxt == goal:
                    return True
                seen.add(nxt)
                todo.append(nxt)
        return False

    lines = ["flowchart BT"]
    for label, prefixes in LAYERS:
        shown = [p for p in prefixes if p in present] or ([package] if "" in prefixes else [])
        lines.append(f'    {label}["{label}: {", ".join(shown)}"]')
    for low in sorted(direct, reverse=True):
        for high in sorted(direct[low], reverse=True):
            if not reaches(low, high, (low, high)):
                lines.append(f"    {LAYERS[low][0]} --> {LAYERS[high][0]}")
    return "\n".join(lines) + "\n"


def _shown(file: str) -> str:
    path = Path(file)
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the package folder")
    parser.add_argument("--quiet", action="store_true", help="print only the violations")
    parser.add_argument(
        "--mermaid", action="store_true", help="print the layers as a Mermaid diagram and stop"
    )
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    if args.mermaid:
        print(layer_diagram(root), end="")
        return 0
    graph, problems = violations(root)
    if not args.quiet:
        for name in sorted(graph):
            layer = layer_of(name, root.name)
            label = LAYERS[layer][0] if layer is not None else "?"
            print(f"{name} [{label}] -> {', '.join(sorted(graph[name])) or '-'}")
        print()
    for problem in problems:
        print(problem)
    print(f"{len(graph)} modules, {len(problems)} violations")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
