"""Docstrings name what exists: every Sphinx-style reference in a module of servflow
(``:func:`timers_after```, ``:class:`~servflow.engine.case.Case```, ``:meth:`Engine.fire```)
resolves to an object, so a function renamed or moved cannot leave its old name behind in
the prose that explains it. A reference resolves as a dotted path from a module, as a name
the module defines or imports (under ``TYPE_CHECKING`` too), as a member of a class the
module defines (``:meth:`close``` inside that class), or as a builtin."""

from __future__ import annotations

import ast
import builtins
import importlib
import pkgutil
import re
from types import ModuleType

import pytest

import servflow
from tests.sources import source_text

ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|exc|obj):`~?([^`<]*?)\s*(?:<([^`>]+)>)?`")


def _modules() -> list[ModuleType]:
    names = [servflow.__name__]
    names += [info.name for info in pkgutil.walk_packages(servflow.__path__, prefix="servflow.")]
    return [importlib.import_module(name) for name in sorted(names)]


def _walk(target: object, parts: list[str]) -> bool:
    for part in parts:
        if not hasattr(target, part):
            return False
        target = getattr(target, part)
    return True


def _from_module(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        if _walk(module, parts[cut:]):
            return True
    return False


def _scope(module: ModuleType, tree: ast.Module) -> list[object]:
    """The module, the names it imports anywhere (lazily, for type checking), its classes
    and builtins: the places a short reference may be found."""
    places: list[object] = [module, builtins]
    imported: dict[str, object] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            source = importlib.import_module(node.module)
            for alias in node.names:
                if hasattr(source, alias.name):
                    imported[alias.asname or alias.name] = getattr(source, alias.name)
    places.append(type("Imported", (), imported))
    places += [v for v in vars(module).values() if isinstance(v, type)]
    return places


@pytest.mark.parametrize("module", _modules(), ids=lambda m: m.__name__)
def test_every_reference_in_the_source_resolves(module: ModuleType) -> None:
    text = source_text(module)
    places = _scope(module, ast.parse(text))
    missing = []
    for title, target in ROLE.findall(text):
        name = target or title
        if name.startswith("."):  # relative to the module's package, as Sphinx reads it
            name = module.__name__.rpartition(".")[0] + name
        if not (_from_module(name) or any(_walk(p, name.split(".")) for p in places)):
            missing.append(name)
    assert sorted(set(missing)) == []
