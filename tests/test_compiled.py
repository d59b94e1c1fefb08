"""The compiled procedure: its table is the declared graph, and nothing else gets in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from servflow.engine.compiled import compile_procedure
from servflow.errors import DefinitionError
from servflow.model import Procedure
from servflow.procedures.load import load_catalogue

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = load_catalogue([ROOT / "procedures", ROOT / "tests" / "procedures"]).procedures


@pytest.mark.parametrize("proc", SHIPPED, ids=lambda p: f"{p.id}-v{p.version}")
def test_the_table_is_the_declared_graph_in_file_order(proc: Procedure) -> None:
    cp = compile_procedure(proc, "digest")
    expected: dict[tuple[str, str], list[tuple[str, int, str]]] = {}
    for trigger, branches in proc.transitions.items():
        for i, branch in enumerate(branches):
            for src in branch.source:
                expected.setdefault((trigger, src), []).append((trigger, i, branch.to))
    got = {key: [(s.trigger, s.index, s.to) for s in steps] for key, steps in cp.table.items()}
    assert got == expected
    assert list(got) == list(expected)
    for trigger in proc.transitions:
        assert list(cp.sources[trigger]) == [src for (t, src) in expected if t == trigger]


def _repair() -> Procedure:
    # The newest version; older ones are kept beside it for the cases opened on them.
    return max((p for p in SHIPPED if p.id == "repair"), key=lambda p: p.version)


def _with_branch(proc: Procedure, trigger: str, **update: object) -> Procedure:
    branches = list(proc.transitions[trigger])
    branches[0] = branches[0].model_copy(update=update)
    return proc.model_copy(update={"transitions": {**proc.transitions, trigger: branches}})


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (
            lambda p: _with_branch(p, "dispatch", to="dispatchd"),
            "transitions.dispatch.to: unknown state 'dispatchd'",
        ),
        (
            lambda p: _with_branch(p, "dispatch", source=["recorded", "limbo"]),
            "transitions.dispatch.from: unknown state 'limbo'",
        ),
        (
            lambda p: p.model_copy(update={"start": p.start.model_copy(update={"to": "nowhere"})}),
            "start.to: unknown state 'nowhere'",
        ),
    ],
)
def test_a_graph_naming_an_undeclared_state_does_not_compile(broken, message) -> None:
    # The loader's checks catch this with a position; a procedure built in memory skips
    # them, and must not compile into a table with a way into nowhere.
    with pytest.raises(DefinitionError) as info:
        compile_procedure(broken(_repair()), "digest")
    assert [(d.code, d.message) for d in info.value.diagnostics] == [("unknown-state", message)]


def test_the_engine_loads_no_state_machine_library() -> None:
    code = "import sys, servflow.engine\nprint('transitions' in sys.modules)\n"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
