"""Is this a case the engine could have produced? The check made when a case comes in.

A :class:`~servflow.engine.case.Case` reaches the engine from outside: from a store, from
JSON, from a host's cache. Pydantic checks its shape; this module checks it against the
procedure version it is pinned to, before anything is computed from it: its state exists,
its data holds exactly the procedure's fields, each in its canonical stored form and
within its bounds, its escalation level is on the ladder, and its timers belong to the
procedure's time limits and agree with each other and with ``next_due``. A case that
fails is refused with :class:`~servflow.errors.IntegrityError` naming what is
inconsistent, instead of failing later deep inside a computation with an ``IndexError``
or a ``decimal.InvalidOperation``. A message names only what the procedure itself names
(its fields, time limits and bounds), never a value, key or name read from the case: a
tampered case is input like any other, and may carry personal data where a name belongs.

Stored values are checked by :func:`~servflow.engine.values.normalise`, the one function
that checks data coming in, patterns included, so a value passes here exactly when the
engine would have accepted it.

What is checked is what the engine relies on; a case that passes can be fired, advanced
and asked about without any error but the documented ones. The check runs on every case
the engine is given, also one it returned a moment ago: a case is frozen, but its
``data`` and ``timers`` are dicts a host could change in place. The answer for each
immutable stored value is remembered per procedure (``normalise`` is pure), so a value
is matched against its pattern once, not on every step; what the procedure's limits need
is worked out once too. The check then takes about 14 % of a ``fire`` on repair (cProfile).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from servflow.bounds import FIRST_YEAR, LAST_YEAR, VERSION_LIMIT, id_problem, moment_problem
from servflow.engine.case import Actor, Case, CaseParent, CycleRecord, TimerState
from servflow.engine.compiled import CompiledProcedure
from servflow.engine.limits import BreachDue, CompiledLimit, WarnDue, parse_due
from servflow.engine.values import FieldValueError, normalise
from servflow.errors import IntegrityError
from servflow.model import FieldSpec

__all__ = ["case_problem", "check_arguments", "check_case", "check_case_id", "check_time"]

# Business seconds a timer can count: the whole range of accepted dates.
_SECONDS_LIMIT = (LAST_YEAR - FIRST_YEAR + 1) * 366 * 86_400


def check_time(at: Any) -> None:
    """Refuse an event time that is not an aware datetime within the accepted years.

    ``TypeError`` for a value that is not a datetime, ``ValueError`` for a naive one or
    one outside years 1900 to 2999 (UTC).
    """
    if not isinstance(at, datetime):
        raise TypeError(f"`at` must be a datetime, not {type(at).__name__}")
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(
            f"naive datetime {at.isoformat()}: pass a timezone-aware datetime "
            "(servflow never guesses a time zone)"
        )
    problem = moment_problem(at)
    if problem is not None:
        raise ValueError(f"`at` must be in {problem}")


_UNSET: Any = object()


def check_arguments(
    at: Any,
    actor: Any = _UNSET,
    data: Any = None,
    trigger: Any = "",
    case_id: Any = None,
    expected_version: Any = None,
) -> None:
    """Refuse arguments of the wrong type (``TypeError``) or out of range (``ValueError``)
    before an engine call does anything with them; ``at`` as :func:`check_time`."""
    check_time(at)
    if actor is not _UNSET and not isinstance(actor, Actor):
        raise TypeError(f"`actor` must be an Actor, not {type(actor).__name__}")
    if data is not None and not isinstance(data, Mapping):
        raise TypeError(
            f"`data` must be a mapping of field names to values, not {type(data).__name__}"
        )
    if data is not None and not all(isinstance(name, str) for name in data):
        raise TypeError("the keys of `data` are field names (text)")
    if not isinstance(trigger, str):
        raise TypeError(f"a trigger is text, not {type(trigger).__name__}")
    if case_id is not None:
        check_case_id(case_id)
    if expected_version is not None and (
        isinstance(expected_version, bool) or not isinstance(expected_version, int)
    ):
        raise TypeError(f"`expected_version` must be an int, not {type(expected_version).__name__}")


def check_case_id(case_id: Any) -> None:
    """Refuse a case id no store could keep: ``TypeError`` if not text, else ``ValueError``."""
    if not isinstance(case_id, str):
        raise TypeError(f"a case id is text, not {type(case_id).__name__}")
    problem = id_problem(case_id)
    if problem is not None:
        raise ValueError(problem)


def check_case(cp: CompiledProcedure, case: Case, calendars: Collection[str]) -> None:
    """Raise :class:`IntegrityError` if ``case`` is not one the engine could have produced."""
    problem = case_problem(cp, case, calendars)
    if problem is not None:
        shown = case.id if id_problem(case.id) is None else None
        raise IntegrityError(problem, case_id=shown)


def case_problem(cp: CompiledProcedure, case: Case, calendars: Collection[str]) -> str | None:
    """What makes ``case`` one the engine could not have produced from ``cp``, or None.

    ``calendars`` are the names of the calendars the engine holds. The answer names
    fields, timers and states, never a value of the case's data.
    """
    problem = id_problem(case.id)
    if problem is not None:
        return problem
    if not (_int(case.version) and 1 <= case.version <= VERSION_LIMIT):
        return f"version must be a whole number from 1 to {VERSION_LIMIT}"
    proc = cp.procedure
    if not isinstance(case.state, str) or case.state not in proc.states:
        return f"state is not one of the states of procedure {proc.id!r} v{proc.version}"
    problem = _data_problem(cp, case.data)
    if problem is not None:
        return problem
    level = case.escalation_level
    top = _facts(cp).top_level
    if not (_int(level) and 0 <= level <= top):
        return f"escalation_level must be a whole number from 0 to {top}"
    for label, moment in (
        ("opened_at", case.opened_at),
        ("updated_at", case.updated_at),
        ("next_due", case.next_due),
    ):
        problem = _moment_problem(label, moment)
        if problem is not None:
            return problem
    if case.updated_at < case.opened_at:
        return "updated_at is before opened_at"
    problem = _parent_problem(cp, case.parent)
    if problem is not None:
        return problem
    return _timers_problem(cp, case, calendars)


def _parent_problem(cp: CompiledProcedure, parent: Any) -> str | None:
    """What is wrong with a linked case's record of its parent (see engine/links.py)."""
    if parent is None:
        return None
    if not isinstance(parent, CaseParent):
        return "parent must name the case that opened this one"
    problem = id_problem(parent.case)
    if problem is not None:
        return f"parent: {problem}"
    if parent.trigger is not None and not isinstance(parent.trigger, str):
        return "parent: the trigger must be a name"
    returns = parent.returns
    if not isinstance(returns, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in returns.items()
    ):
        return "parent: returns must map names to names"
    if any(v != "state" and v not in cp.fields for v in returns.values()):
        return "parent: returns reads a field the procedure does not have"
    return None


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _top_level(cp: CompiledProcedure) -> int:
    """The highest escalation level a case of ``cp`` can reach.

    On a ladder, its last rung. Without one the level only counts escalations (a step
    with ``escalates`` or a breach may raise it by several), so it is bounded only when
    nothing in the procedure escalates: then it stays 0.
    """
    proc = cp.procedure
    if proc.escalation:
        return len(proc.escalation) - 1
    raises = any(branch.spec.escalates for branches in cp.table.values() for branch in branches)
    raises = raises or any(
        action.escalate for limit in cp.limits for action in limit.breach_actions
    )
    return VERSION_LIMIT if raises else 0


def _moment_problem(label: str, moment: Any) -> str | None:
    if moment is None:
        return None
    if type(moment) is datetime and FIRST_YEAR < moment.year < LAST_YEAR and moment.tzinfo:
        return None  # the usual case, answered without computing an offset
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        return f"{label} must be a timezone-aware datetime"
    problem = moment_problem(moment)
    return None if problem is None else f"{label} must be in {problem}"


def _history_problem(history: Sequence[CycleRecord]) -> str | None:
    """What is wrong with a moment of a timer's finished cycles, or None.

    The history grows by a record per cycle, so the usual moment (the first test of
    :func:`_moment_problem`) is answered inline, and only a record with another moment
    gets the full, labelled check: a long-lived case's check stays cheap.
    """
    for record in history:
        for moment in (record.started_at, record.ended_at, record.due_at, record.breached_at):
            if moment is None or (
                type(moment) is datetime and FIRST_YEAR < moment.year < LAST_YEAR and moment.tzinfo
            ):
                continue
            problem = _record_problem(record)
            if problem is not None:
                return problem
            break
    return None


def _record_problem(record: CycleRecord) -> str | None:
    return (
        _moment_problem("history started_at", record.started_at)
        or _moment_problem("history ended_at", record.ended_at)
        or _moment_problem("history due_at", record.due_at)
        or _moment_problem("history breached_at", record.breached_at)
    )


def _data_problem(cp: CompiledProcedure, data: Any) -> str | None:
    if not isinstance(data, dict):
        return "data must be a mapping of the procedure's fields"
    facts = _facts(cp)
    fields, seen = facts.fields, facts.seen
    for name in data:
        if name not in fields:
            return "data holds a field the procedure does not have"
    for name, spec in fields.items():
        if name not in data:
            return f"data lacks the field {name!r} (an empty field is null)"
        value = data[name]
        if value is None:
            continue
        kind = type(value)
        if kind in _ATOMS:
            # The answer for an immutable value depends on nothing else: remembered.
            key = (name, kind, value)
            if key in seen:
                problem = seen[key]
            else:
                problem = _value_problem(name, spec, value)
                if len(seen) >= _SEEN_LIMIT:
                    seen.clear()
                seen[key] = problem
        else:
            problem = _value_problem(name, spec, value)
        if problem is not None:
            return problem
    return None


def _value_problem(name: str, spec: FieldSpec, value: Any) -> str | None:
    try:
        canonical = normalise(spec, value)
    except FieldValueError as exc:
        if spec.type == "choice" and isinstance(value, str):
            return f"field {name!r} holds a value that is not one of its choices"
        return f"field {name!r} holds a value that does not fit it: {exc}"
    if type(canonical) is not type(value) or canonical != value:
        return f"field {name!r} is not in its stored form (a {spec.type} is stored as {_FORMS[spec.type]})"
    return None


# Stored values whose check is remembered per procedure: immutable, compared by value and
# type, so a value seen once gets the same answer again. A case's data is checked on
# every step and mostly holds what the last step held; matching a phone against its
# pattern alone costs about 5 µs. The memo is bounded (it holds case values, pii too,
# in the process's memory only, like the cases themselves).
_ATOMS = frozenset({str, int, bool})
_SEEN_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class _Facts:
    """What the check needs of a compiled procedure, worked out once per procedure.

    ``fields``: its fields, every one marked pii, so that normalise words a refusal
    without the value ("the value is below the minimum 0"), whatever the field.
    ``limits``: each time limit with its targets, warnings and on_breach places as sets.
    ``seen``: the answers for stored values already checked (see ``_ATOMS``).
    """

    fields: Mapping[str, FieldSpec]
    top_level: int
    limits: Mapping[str, _LimitFacts]
    seen: dict[tuple[str, type, Any], str | None]


_FACTS: WeakKeyDictionary[CompiledProcedure, _Facts] = WeakKeyDictionary()


def _facts(cp: CompiledProcedure) -> _Facts:
    facts = _FACTS.get(cp)
    if facts is None:
        masked = {
            name: spec if spec.pii else spec.model_copy(update={"pii": True})
            for name, spec in cp.fields.items()
        }
        facts = _FACTS[cp] = _Facts(masked, _top_level(cp), _limit_facts(cp), {})
    return facts


_FORMS = {
    "string": "text",
    "text": "text",
    "integer": "a number",
    "decimal": "text such as '12.50'",
    "boolean": "true or false",
    "date": "ISO text such as '2026-10-01'",
    "datetime": "ISO text with its offset",
    "choice": "text",
    "list": "a list of texts",
    "table": "a list of rows, each with every column in its own stored form",
}


def _timers_problem(cp: CompiledProcedure, case: Case, calendars: Collection[str]) -> str | None:
    timers = case.timers
    if not isinstance(timers, dict):
        return "timers must be a mapping of time limits"
    limits = _facts(cp).limits
    moments: list[datetime] = []
    for name, timer in timers.items():
        limit = limits.get(name)
        if limit is None:
            return "a timer runs for a time limit the procedure does not have"
        if not isinstance(timer, TimerState):
            return f"timer {name!r} is not a timer"
        problem = _timer_problem(limit, timer, case, calendars)
        if problem is not None:
            return f"timer {name!r}: {problem}"
        if timer.next_at is not None:
            moments.append(timer.next_at)
    expected = min(moments) if moments else None
    if case.next_due != expected:
        return "next_due is not the earliest moment its timers fall due"
    return None


@dataclass(frozen=True, slots=True)
class _LimitFacts:
    """What the check needs of one time limit, worked out once per procedure."""

    limit: CompiledLimit
    targets: frozenset[str]
    warn_keys: frozenset[int]
    actions: frozenset[int]


def _limit_facts(cp: CompiledProcedure) -> dict[str, _LimitFacts]:
    return {
        limit.name: _LimitFacts(
            limit,
            frozenset(t.text for t in limit.targets),
            frozenset(pct.basis_points for pct in limit.warn_at),
            frozenset(range(len(limit.breach_actions))),
        )
        for limit in cp.limits
    }


def _timer_problem(
    facts: _LimitFacts, timer: TimerState, case: Case, calendars: Collection[str]
) -> str | None:
    if timer.calendar not in calendars:
        return "counts in a calendar this engine does not hold"
    if timer.within not in facts.targets:
        return "its target is none of the time limit's targets"
    if not (_int(timer.cycle) and 1 <= timer.cycle <= VERSION_LIMIT):
        return "cycle must be a whole number from 1"
    if len(timer.history) != timer.cycle - 1:
        return "its history does not hold one record per finished cycle"
    if not 0 <= timer.budget_seconds <= _SECONDS_LIMIT:
        return "budget_seconds is out of range"
    if not 0 <= timer.paused_seconds <= _SECONDS_LIMIT:
        return "paused_seconds is out of range"
    if not -_SECONDS_LIMIT <= timer.elapsed_seconds <= _SECONDS_LIMIT:
        return "elapsed_seconds is out of range"
    problem = (
        _moment_problem("started_at", timer.started_at)
        or _moment_problem("resumed_at", timer.resumed_at)
        or _moment_problem("paused_at", timer.paused_at)
        or _moment_problem("stopped_at", timer.stopped_at)
        or _moment_problem("due_at", timer.due_at)
        or _moment_problem("breached_at", timer.breached_at)
        or _moment_problem("next_at", timer.next_at)
    )
    if problem is not None:
        return problem
    for start, end in timer.pauses:
        problem = _moment_problem("a pause", start) or _moment_problem("a pause", end)
        if problem is not None:
            return problem
    problem = _history_problem(timer.history)
    if problem is not None:
        return problem
    if timer.started_at > case.updated_at:
        return "it started after the case's last change"
    status = timer.status
    if status == "running" and timer.resumed_at is None:
        return "a running timer has no resumed_at"
    if status != "running" and timer.resumed_at is not None:
        return f"a {status} timer has a resumed_at"
    if status == "paused" and timer.paused_at is None:
        return "a paused timer has no paused_at"
    if status == "stopped" and timer.next_at is not None:
        return "a stopped timer has something due"
    if timer.warnings and not facts.warn_keys.issuperset(timer.warnings):
        return "it records a warning the time limit does not give"
    if timer.actions_done and not facts.actions.issuperset(timer.actions_done):
        return "it records an on_breach step the time limit does not have"
    return _next_problem(facts.limit, timer, facts.warn_keys)


def _next_problem(limit: CompiledLimit, timer: TimerState, warn_keys: frozenset[int]) -> str | None:
    if (timer.next_action is None) != (timer.next_at is None):
        return "next_at and next_action must be given together"
    try:
        due = parse_due(timer.next_action)
    except ValueError as exc:
        return str(exc)
    if due is None:
        return None
    if isinstance(due, BreachDue):
        return "its breach is due again" if timer.breached_at is not None else None
    if isinstance(due, WarnDue):
        key = due.percent.basis_points
        if key not in warn_keys or key in timer.warnings:
            return "next_action is a warning the time limit does not give (or gave)"
        return None
    if (
        timer.breached_at is None
        or due.index >= len(limit.breach_actions)
        or limit.breach_actions[due.index].after is None
    ):
        return "next_action is an on_breach step that cannot be due"
    return None
