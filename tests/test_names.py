"""One name, one meaning: the public surface holds no internals, and renamed names still
work, with a deprecation warning, for the code written against them."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import servflow
import servflow.engine
from servflow._hints import did_you_mean
from servflow.model import EffectSpec

SRC = Path(servflow.__file__).resolve().parent

# The engine's own constructors and lookups: not for hosts, never in a public __all__.
INTERNALS = {"trusted", "case_event", "effect", "compiled", "_trusted", "_case_event", "_effect"}


@pytest.mark.parametrize("module", [servflow, servflow.engine], ids=lambda m: m.__name__)
def test_the_public_names_hold_no_internals(module):
    public = set(module.__all__)
    assert not public & INTERNALS
    assert not [name for name in public if name.startswith("_") and name != "__version__"]
    # Every public name is really there, and none of them is a deprecated alias.
    for name in public:
        assert getattr(module, name) is not None


def test_the_engine_values_module_exports_no_constructors():
    import servflow.engine.case as case

    assert not set(case.__all__) & INTERNALS
    assert {"Actor", "Case", "Effect", "Event", "Outcome", "TimerState"} <= set(case.__all__)


def test_the_engines_output_and_the_files_spec_have_different_names():
    assert servflow.Effect is servflow.engine.Effect
    assert servflow.Effect is not EffectSpec
    assert "Effect" not in importlib.import_module("servflow.model").__all__
    assert "EffectSpec" in importlib.import_module("servflow.procedures").__all__


@pytest.mark.parametrize("module_name", ["servflow.model", "servflow.procedures"])
def test_the_old_name_of_the_effect_spec_warns_and_still_works(module_name):
    module = importlib.import_module(module_name)
    with pytest.deprecated_call(match="EffectSpec"):
        old = module.Effect
    assert old is EffectSpec
    spec = old(notify="maintenance", template="work_order")
    assert (spec.notify, spec.template) == ("maintenance", "work_order")
    with pytest.raises(AttributeError, match="no attribute 'Efect'"):
        _ = module.Efect


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in SRC.rglob("*.py")]


def test_the_name_hint_has_one_name():
    """`did_you_mean` is the one function; no module binds it to a second name."""
    aliases = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            value = node.value if isinstance(node, ast.Assign) else None
            if isinstance(value, ast.Name) and value.id == "did_you_mean":
                aliases.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.ImportFrom) and node.module == "servflow._hints":
                aliases.extend(
                    f"{path.name}:{node.lineno}"
                    for a in node.names
                    if a.asname is not None and a.asname != a.name
                )
            if isinstance(node, ast.FunctionDef) and node.name in ("suggest", "_suggest"):
                aliases.append(f"{path.name}:{node.lineno}")
    assert aliases == []
    assert did_you_mean("recorderd", {"recorded", "closed"}) == "; did you mean 'recorded'?"
    assert did_you_mean("zzz", {"recorded"}) == ""
