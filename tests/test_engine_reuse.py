"""An engine built from what a process keeps runs exactly as one built afresh.

Building an engine reuses work three ways: the loader's disk cache hands back each file's
checked data (its own properties are in ``tests/test_loader_cache.py``); an expression is
compiled once per text in a process (:mod:`servflow.engine.expr`), so versions share their
guards; and a version's digest is worked out when first read
(:attr:`~servflow.engine.compiled.CompiledProcedure.digest`). None of it may show:

* an expression kept from before reads, evaluates and fails as one compiled afresh, and a
  text that fails to read fails again with the same message, offset and code;
* the loader reports the same diagnostics, at the same positions, with expressions kept
  or not;
* the engine built twice through a filled disk cache, its expressions kept, holds the same
  procedures, digests and compiled tables as one built with the cache off and every
  expression compiled afresh, and random lives of every version run the same on both:
  the same cases, events, effects and rejections; each replays the other's logs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from servflow import Actor, Engine, Event, Rejected
from servflow.engine import compiled as compiled_module
from servflow.engine import core
from servflow.engine import expr as expr_module
from servflow.engine import limits as limits_module
from servflow.engine.compiled import compile_procedure
from servflow.engine.expr import Expression, ExpressionSyntaxError, compile_expression
from servflow.engine.registry import digest_of
from servflow.errors import DefinitionError, EvaluationError
from servflow.model import Procedure
from servflow.procedures import cache, checks, load_text
from tests.strategies import EPOCH, lives
from tests.strategies_expr import Pair, pairs, texts, values

REPO = Path(__file__).resolve().parent.parent
PROCEDURES = REPO / "procedures"

# Texts that fail at each stage of reading: the limits, lexing, parsing, the grammar.
BAD = [
    "",
    "a ==",
    "a = 1",
    "(a",
    "a)",
    "'open",
    "a & b",
    "a <> b",
    "x[0]",
    "{'a': 1}",
    "a || b",
    "x|nope",
    "x is nope",
    "a b",
    "1, 2",
    "{{ a }}",
    "2 ** 3",
    "(" * 17 + "a" + ")" * 17,
    " + ".join(["a"] * 52),
    "a" * 2001,
]


def _afresh(source: str) -> Expression:
    """The expression compiled from its text, whether or not the process keeps one."""
    return expr_module._compile(source)


@contextmanager
def _cache_env(setting: str) -> Iterator[None]:
    before = os.environ.get(cache.ENV)
    os.environ[cache.ENV] = setting
    try:
        yield
    finally:
        if before is None:
            del os.environ[cache.ENV]
        else:
            os.environ[cache.ENV] = before


def _built_afresh() -> Engine:
    """The catalogue as an engine built nothing kept: no disk cache, no kept expressions."""
    with _cache_env("off"), pytest.MonkeyPatch.context() as patch:
        for module in (compiled_module, limits_module):
            patch.setattr(module, "compile_expression", _afresh)
        return Engine.from_directory(PROCEDURES)


def _built_from_what_is_kept() -> Engine:
    """The catalogue built twice through one disk cache: the second build reads the
    entries the first wrote, and the expressions the first compiled."""
    folder = tempfile.mkdtemp()
    try:
        with _cache_env(folder):
            Engine.from_directory(PROCEDURES)
            entries = list((Path(folder) / f"procedures-v{cache.FORMAT}").glob("*.json"))
            assert len(entries) == len(list(PROCEDURES.glob("*.yaml")))
            return Engine.from_directory(PROCEDURES)
    finally:
        shutil.rmtree(folder)


AFRESH = _built_afresh()
KEPT = _built_from_what_is_kept()
VERSIONS = [(p.id, p.version) for p in AFRESH.procedures()]


# -- expressions ------------------------------------------------------------------------


def _reading(compile: Callable[[str], Expression], source: str) -> tuple[Any, ...]:
    """What reading ``source`` gives, as plain values: the error, or the names it reads,
    where, and where its constant parts start."""
    try:
        got = compile(source)
    except ExpressionSyntaxError as exc:
        return ("refused", str(exc), exc.offset, exc.code)
    assert got.source == source
    offsets = tuple(offset for offset, _ in got.constant_parts)
    return ("read", got.names, dict(got.positions), offsets)


def _value(expression: Expression, scope: Mapping[str, Any]) -> tuple[Any, ...]:
    try:
        value = expression.evaluate(scope)
    except EvaluationError as exc:
        return ("failed", str(exc), exc.problem)
    return ("value", value, type(value))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=st.one_of(texts, st.sampled_from(BAD)))
def test_a_kept_expression_reads_as_one_compiled_afresh(source: str) -> None:
    first = _reading(compile_expression, source)
    again = _reading(compile_expression, source)  # kept now, if it was read
    assert first == again == _reading(_afresh, source)
    if first[0] == "read":
        assert compile_expression(source) is compile_expression(source)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pair=pairs, x=values, y=values, z=values)
def test_a_kept_expression_evaluates_as_one_compiled_afresh(
    pair: Pair, x: Any, y: Any, z: Any
) -> None:
    source, _ = pair
    scope = {"x": x, "w": y, "z": z}
    kept, afresh = compile_expression(source), _afresh(source)
    assert _value(kept, scope) == _value(afresh, scope)
    assert kept.constant_failures() == afresh.constant_failures()


def test_a_text_that_fails_is_not_kept_and_fails_the_same_way_again() -> None:
    for source in BAD:
        errors = []
        for _ in range(2):
            with pytest.raises(ExpressionSyntaxError) as caught:
                compile_expression(source)
            errors.append((str(caught.value), caught.value.offset, caught.value.code))
        assert errors[0] == errors[1], source


def test_what_is_kept_is_read_only_and_bounded() -> None:
    shared = compile_expression("priority == 'urgent' and technician")
    with pytest.raises(TypeError):
        shared.positions["priority"] = 99  # type: ignore[index]
    assert shared.positions == {"priority": 0, "technician": 25}
    info = expr_module._kept.cache_info()
    assert info.maxsize == expr_module.KEPT
    assert info.currsize <= expr_module.KEPT


def _document(source: str) -> str:
    quoted = "'" + source.replace("'", "''") + "'"
    return (
        "servflow: 1\nid: p\nversion: 1\ntitle: {en: P}\n"
        "roles: {r: {title: {en: R}}}\n"
        "fields:\n  x: {type: text, title: {en: X}}\n  z: {type: integer, title: {en: Z}}\n"
        "states:\n  a: {title: {en: A}}\n  b: {title: {en: B}, final: true}\n"
        "start: {to: a, roles: [r]}\n"
        "transitions:\n  go:\n"
        f"    - {{from: a, to: b, roles: [r], when: {quoted}}}\n"
        f"    - {{from: a, to: b, roles: [r], authority: {{r: {quoted}}}}}\n"
        f"invariants:\n  - {{name: i, check: {quoted}}}\n"
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=st.one_of(st.sampled_from(BAD), texts, pairs.map(lambda p: p[0])))
def test_the_loader_reports_the_same_with_expressions_kept_or_not(source: str) -> None:
    # Long texts too: the document has a single guard, so the search for overlapping
    # guards has nothing to do.
    text = _document(source)
    with _cache_env("off"):
        expr_module._kept.cache_clear()
        checks.compiled.cache_clear()
        afresh = load_text(text, "p.yaml").diagnostics
        kept = load_text(text, "p.yaml").diagnostics
    assert kept == afresh


def _with_guard(source: str) -> Procedure:
    """The document's procedure with ``source`` as its guard, unchecked."""
    proc = load_text(_document("x == 'a'"), "p.yaml").procedure
    assert proc is not None
    data = proc.model_dump(mode="json", by_alias=True, exclude_unset=True)
    data["transitions"]["go"][0]["when"] = source
    return Procedure.model_validate(data)


@pytest.mark.parametrize("source", BAD[1:])
def test_an_engine_refuses_a_bad_guard_the_same_way_every_time(source: str) -> None:
    proc = _with_guard(source)
    refusals = []
    for _ in range(2):
        with pytest.raises(DefinitionError) as checked:
            Engine([proc])
        with pytest.raises(ExpressionSyntaxError) as unchecked:
            core.Engine([proc])  # the core without the checks: compiling refuses it
        error = unchecked.value
        refusals.append((checked.value.diagnostics, str(error), error.offset, error.code))
    assert refusals[0] == refusals[1]
    assert refusals[0][1:] == _reading(_afresh, source)[1:]


# -- the catalogue as an engine ---------------------------------------------------------


def _plain(value: Any) -> Any:
    """A compiled procedure's parts as values that compare by content."""
    if isinstance(value, Expression):
        offsets = tuple(offset for offset, _ in value.constant_parts)
        return ("expression", value.source, value.names, dict(value.positions), offsets)
    if isinstance(value, BaseModel):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__name__,
            {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)},
        )
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def test_both_engines_hold_the_same_procedures_digests_and_tables() -> None:
    assert len(VERSIONS) == 26
    assert [(p.id, p.version) for p in KEPT.procedures()] == VERSIONS
    assert KEPT.calendars.keys() == AFRESH.calendars.keys()
    for proc_id, version in VERSIONS:
        kept, afresh = KEPT._compiled(proc_id, version), AFRESH._compiled(proc_id, version)
        assert kept.procedure == afresh.procedure
        assert kept.digest == afresh.digest == digest_of(afresh.procedure)
        assert _plain(kept) == _plain(afresh)


def test_a_digest_is_worked_out_when_first_read_and_is_the_procedures() -> None:
    engine = Engine.from_directory(PROCEDURES)
    for proc_id, version in VERSIONS:
        cp = engine._compiled(proc_id, version)
        assert "digest" not in vars(cp)  # not yet read
        assert cp.digest == digest_of(cp.procedure)
        assert cp.digest is cp.digest
    given = compile_procedure(engine.procedure("repair"), "sha256:given")
    assert given.digest == "sha256:given"
    assert compile_procedure(engine.procedure("repair")).digest == digest_of(given.procedure)


def test_a_digest_read_when_first_needed_still_pins_the_content() -> None:
    repair = AFRESH.procedure("repair")
    changed = repair.model_copy(update={"title": {"en": "Another repair"}})
    opened = AFRESH.procedure("callback")  # the repair procedure opens callbacks
    other = core.Engine([changed, opened], calendars=dict(AFRESH.calendars))
    pinned = KEPT._compiled("repair").digest
    with pytest.raises(DefinitionError) as caught:
        other._pinned("repair", repair.version, pinned, "case c-1")
    assert caught.value.diagnostics[0].code == "digest-mismatch"
    assert other._pinned("repair", repair.version, digest_of(changed), "case c-1")


def _dumped(value: Any) -> Any:
    return json.loads(json.dumps(value.model_dump(mode="json"), sort_keys=True))


def _transcript(
    engine: Engine, proc_id: str, version: int, life: Any
) -> tuple[list[Any], list[Event]]:
    """Everything a life did on ``engine`` (each step's case, events and effects, or its
    rejection: reason, message, details), and the case's log."""
    data, steps = life
    proc = engine.procedure(proc_id, version)
    opener = Actor(id="opener", roles=set(proc.start.roles))
    try:
        out = engine.start(
            proc_id, actor=opener, data=data, at=EPOCH, case_id="c-1", version=version
        )
    except Rejected as exc:
        return [("rejected", exc.reason, exc.message, exc.details)], []
    said: list[Any] = [("opened", _dumped(out.case), [_dumped(e) for e in out.effects])]
    case, log = out.case, list(out.events)
    at = EPOCH
    for i, step in enumerate(steps):
        at = at + step.after
        try:
            if step.kind == "advance":
                out = engine.advance(case, at=at)
            else:
                actor = Actor(id=f"actor-{i}", roles=step.roles)
                out = engine.fire(case, step.trigger, actor=actor, data=step.data, at=at)
        except Rejected as exc:
            said.append(("rejected", exc.reason, exc.message, exc.details))
            continue
        said.append(
            (
                "taken",
                _dumped(out.case),
                [_dumped(e) for e in out.events],
                [_dumped(e) for e in out.effects],
            )
        )
        case = out.case
        log.extend(out.events)
    return said, log


@pytest.mark.parametrize("version_key", VERSIONS, ids=lambda k: f"{k[0]}-v{k[1]}")
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_lives_run_the_same_on_both_engines(
    version_key: tuple[str, int], data: st.DataObject
) -> None:
    proc_id, version = version_key
    life = data.draw(lives(AFRESH.procedure(proc_id, version), max_steps=15))
    afresh, log = _transcript(AFRESH, proc_id, version, life)
    kept, kept_log = _transcript(KEPT, proc_id, version, life)
    assert kept == afresh
    if log:  # each engine replays the other's log: the digests pin the same content
        assert KEPT.replay(log) == AFRESH.replay(kept_log)
