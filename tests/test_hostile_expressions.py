"""Hostile expressions (``tests/hostile/expressions.yaml``), each under a time and memory ceiling.

Every case once could exhaust memory, run for minutes, crash the loader with
``RecursionError`` or slip through the sandbox. Each now meets an exact answer: a
refusal at load with its code, offset and message, or a bounded failure at evaluation,
or a diagnostic of ``servflow check``, which must itself finish fast on files holding
every one of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from servflow.cli import main
from servflow.engine.expr import ExpressionSyntaxError, compile_expression
from servflow.errors import EvaluationError
from servflow.procedures import load_text
from tests.bounded import run_bounded

CORPUS = yaml.safe_load(
    (Path(__file__).parent / "hostile" / "expressions.yaml").read_text(encoding="utf-8")
)
REFUSED = CORPUS["refused"] + [
    {
        "expr": case["prefix"] + case["body"] * case["times"] + case["suffix"],
        "code": case["code"],
        "at": case["at"],
        "message": case["message"],
    }
    for case in CORPUS["repeat"]
]
CEILING = {"seconds": 5.0, "memory_mb": 256}


def _refusal(source: str) -> tuple[str, int | None, str] | str:
    try:
        compile_expression(source)
    except ExpressionSyntaxError as exc:
        return (exc.code, exc.offset, str(exc))
    return "compiled"


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c["expr"][:40])
def test_refused_at_load_with_code_position_and_message(case: dict[str, Any]) -> None:
    result = run_bounded(_refusal, case["expr"], **CEILING)
    assert result.verdict == "returned", str(result)
    assert result.value != "compiled", case["expr"]
    code, offset, message = result.value
    assert (code, offset) == (case["code"], case["at"]), message
    assert case["message"] in message
    assert "expected token" not in message  # jinja2's own words never reach an analyst


def _failure(source: str, scope: dict[str, Any]) -> str:
    expr = compile_expression(source)
    try:
        expr.evaluate(scope)
    except EvaluationError as exc:
        return exc.problem
    return "evaluated"


@pytest.mark.parametrize("case", CORPUS["fails"], ids=lambda c: c["expr"][:40])
def test_bounds_and_domains_fail_at_evaluation(case: dict[str, Any]) -> None:
    scope = dict(case["scope"])
    if "repeat_note" in case:
        scope["note"] = scope["note"] * case["repeat_note"]
    result = run_bounded(_failure, case["expr"], scope, **CEILING)
    assert result.verdict == "returned", str(result)
    assert case["message"] in result.value


def _constant_failures(source: str) -> list[tuple[int, str]]:
    return compile_expression(source).constant_failures()


@pytest.mark.parametrize("case", CORPUS["constant"], ids=lambda c: c["expr"][:40])
def test_parts_that_read_no_field_are_evaluated_by_check(case: dict[str, Any]) -> None:
    result = run_bounded(_constant_failures, case["expr"], **CEILING)
    assert result.verdict == "returned", str(result)
    ((offset, message),) = result.value
    assert offset == case["at"]
    assert case["message"] in message


PROCEDURE = """\
servflow: 1
id: hostile
version: 1
title: {{en: Hostile}}
roles:
  clerk: {{title: {{en: Clerk}}}}
fields:
  amount: {{type: integer, title: {{en: Amount}}}}
  note: {{type: text, title: {{en: Note}}}}
  tags: {{type: list, title: {{en: Tags}}}}
  priority: {{type: choice, choices: [urgent, normal], title: {{en: Priority}}}}
states:
  open: {{title: {{en: Open}}}}
  done: {{title: {{en: Done}}, final: true}}
start: {{to: open, roles: [clerk]}}
transitions:
  finish:
{branches}
"""


def _check(path: str) -> tuple[int, str]:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(["check", path])
    return code, out.getvalue()


def test_check_reports_every_hostile_expression_fast(tmp_path: Path) -> None:
    # (An empty `when` is no guard at all: the model reads it as absent.)
    sources = [c["expr"] for c in REFUSED if c["expr"]] + [c["expr"] for c in CORPUS["constant"]]
    branches = "\n".join(
        f"    - {{from: open, to: done, roles: [clerk], when: {_quoted(s)}}}" for s in sources
    )
    path = tmp_path / "hostile.yaml"
    path.write_text(PROCEDURE.format(branches=branches), encoding="utf-8")
    result = run_bounded(_check, str(path), seconds=20.0, memory_mb=256)
    assert result.verdict == "returned", str(result)
    status, output = result.value
    assert status == 1
    assert "internal-error" not in output
    assert "Traceback" not in output
    reported = [line for line in output.splitlines() if " error expression-" in line]
    assert len(reported) == len(sources), output


def _quoted(source: str) -> str:
    return "'" + source.replace("'", "''") + "'"


@pytest.mark.parametrize(
    ("first", "second"),
    [("due is none", "due is not none"), ("due is not none", "due is not none and x")],
)
def test_the_ambiguity_search_reads_date_guards(tmp_path: Path, first: str, second: str) -> None:
    """Two guards on a date field once crashed `check` (an empty text is no date)."""
    text = PROCEDURE.format(
        branches=f"    - {{from: open, to: done, roles: [clerk], when: '{first}'}}\n"
        f"    - {{from: open, to: done, roles: [clerk], when: '{second}'}}"
    ).replace(
        "fields:\n",
        "fields:\n  due: {type: date, title: {en: Due}}\n  x: {type: boolean, title: {en: X}}\n",
    )
    path = tmp_path / "due.yaml"
    path.write_text(text, encoding="utf-8")
    _status, output = _check(str(path))
    assert "internal-error" not in output
    assert ("ambiguous-transition" in output) == (first == "due is not none"), output


@pytest.mark.parametrize("name", ["self", "loop", "range", "lipsum", "cycler", "namespace"])
def test_names_that_are_no_field_are_unknown_at_their_column(name: str) -> None:
    guard = f"amount > 1 and {name}"
    text = PROCEDURE.format(
        branches=f"    - {{from: open, to: done, roles: [clerk], when: '{guard}'}}"
    )
    (diag,) = [d for d in load_text(text, "h.yaml").diagnostics if d.severity == "error"]
    assert diag.code == "unknown-name"
    assert f"unknown name {name!r}" in diag.message
    line = text.splitlines().index(
        f"    - {{from: open, to: done, roles: [clerk], when: '{guard}'}}"
    )
    column = text.splitlines()[line].index("'") + 1  # 1-based column of the quote
    assert (diag.line, diag.column) == (line + 1, column + 1 + guard.index(name))


def test_a_bound_hit_at_fire_time_refuses_the_step_with_guard_failed() -> None:
    from datetime import UTC, datetime

    from servflow import Actor, Engine, Rejected
    from servflow.procedures import load_procedure

    text = PROCEDURE.format(
        branches="    - {from: open, to: done, roles: [clerk], when: 'note * amount == note'}"
    )
    engine = Engine([load_procedure(text)])
    clerk = Actor(id="c", roles={"clerk"})
    at = datetime(2026, 11, 2, 9, tzinfo=UTC)
    case = engine.start("hostile", actor=clerk, data={"note": "x"}, at=at).case
    with pytest.raises(Rejected) as info:
        engine.fire(case, "finish", actor=clerk, data={"amount": 10**9}, at=at)
    assert info.value.reason == "guard_failed"
    assert info.value.details == {"expression": "note * amount == note", "trigger": "finish"}
    assert info.value.message == (
        "the condition 'note * amount == note' cannot be evaluated: the result of the "
        "repetition '*' would be longer than 100,000 characters"
    )
