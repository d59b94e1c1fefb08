"""Running a scenario: each step through the engine, in memory, then its expectations.

:func:`run_scenario` opens the scenario's case with :meth:`Engine.start`, fires its
triggers with :meth:`Engine.fire` and moves its clock with :meth:`Engine.advance`, using
only the times written in the file (never the wall clock), and compares what each step
produced with what the analyst expected. Comparisons are partial: only what is written
is checked. The run stops at the first step that does not meet its expectations, since
the steps after it would describe a different case; the result carries that step's
mismatches and the case's timeline so far.

Values of fields marked ``pii`` are never shown: not in the timeline, not in a mismatch.
A scenario that names things the procedure does not have (a state, a field, a time
limit in an expectation) is a :class:`~servflow.testing.scenarios.ScenarioError` with
``file:line:col`` before any step runs; names in the steps themselves (triggers, data
fields) are not checked, since a scenario may try them on purpose to see them refused.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from servflow.engine import Actor, Case, Effect, Engine, Event, Outcome, TimerState
from servflow.engine.values import FieldValueError, normalise, typed_value
from servflow.errors import Rejected
from servflow.model import Procedure
from servflow.testing._display import MASK, Display, equal
from servflow.testing._prepare import engine_for, procedure_of, static_problems
from servflow.testing.properties import Monitor
from servflow.testing.scenarios import Scenario, ScenarioError, SourcePath, Step, parse_time

__all__ = ["Failure", "ScenarioResult", "engine_for", "run_scenario"]


@dataclass(frozen=True)
class Failure:
    """One unmet expectation of a step (``what``: e.g. ``state``, ``events[2].kind``)."""

    step: int
    line: int
    label: str
    what: str
    expected: str
    actual: str

    @property
    def message(self) -> str:
        return f"{self.what}: expected {self.expected}, got {self.actual}"


@dataclass(frozen=True)
class ScenarioResult:
    """What running a scenario gave: ``failures`` (all of one step) and the timeline."""

    scenario: Scenario
    failures: tuple[Failure, ...]
    timeline: tuple[str, ...]
    steps_run: int
    case: Case | None = None
    events: tuple[Event, ...] = field(default=(), repr=False)

    @property
    def passed(self) -> bool:
        return not self.failures

    def report(self) -> str:
        """``PASS file (n steps)``, or ``FAIL file:line: step k (...)`` with the details."""
        file = self.scenario.file
        if self.passed:
            count = len(self.scenario.steps)
            return f"PASS {file} ({count} step{'s' if count != 1 else ''})"
        first = self.failures[0]
        step = self.scenario.steps[first.step - 1]
        lines = [f"FAIL {file}:{step.line}: step {first.step} ({first.label})"]
        note = step.note
        if note:
            lines.append(f"  note: {note}")
        lines.extend(f"  {f.message}" for f in self.failures)
        lines.append("  timeline so far:")
        lines.extend(f"    {entry}" for entry in self.timeline or ("(nothing happened)",))
        return "\n".join(lines)


def run_scenario(
    scenario: Scenario,
    engine: Engine | None = None,
    *,
    procedures: str | Path | None = None,
    lang: str | None = None,
) -> ScenarioResult:
    """Run ``scenario`` with ``engine`` (default: :func:`engine_for` the scenario).

    With ``lang``, the timeline and the failures show each choice with its title in that
    language, where its field gives titles.

    Raises :class:`ScenarioError` when an expectation names something the procedure does
    not have; unmet expectations are in the result, never raised.
    """
    if engine is None:
        engine = engine_for(scenario, procedures)
    proc = procedure_of(scenario, engine)
    problems = static_problems(scenario, proc)
    if problems:
        raise ScenarioError(problems)
    return _Run(scenario, engine, proc, lang).run()


# -- the run -----------------------------------------------------------------------------


class _Mismatch(Exception):
    """Raised inside a comparison to report one unmet expectation."""


class _Run:
    def __init__(
        self, scenario: Scenario, engine: Engine, proc: Procedure, lang: str | None = None
    ) -> None:
        self.scenario = scenario
        self.engine = engine
        self.proc = proc
        self.zone: tzinfo | None = scenario.timezone
        self.display = Display(scenario.timezone, proc.fields, lang)
        self.pii = self.display.pii
        self.case: Case | None = None
        self.clock: datetime | None = None
        self.events: list[Event] = []
        self.timeline: list[str] = []
        self.failures: list[Failure] = []
        self.monitor: Monitor | None = None

    def run(self) -> ScenarioResult:
        done = 0
        for step in self.scenario.steps:
            done += 1
            self._step(step)
            if self.failures:
                break
        return ScenarioResult(
            scenario=self.scenario,
            failures=tuple(self.failures),
            timeline=tuple(self.timeline),
            steps_run=done,
            case=self.case,
            events=tuple(self.events),
        )

    def fail(
        self, step: Step, what: str, expected: str, actual: str, line: int | None = None
    ) -> None:
        self.failures.append(
            Failure(step.number, line or step.line, step.label, what, expected, actual)
        )

    # -- one step ------------------------------------------------------------------------

    def _step(self, step: Step) -> None:
        before = self.case
        outcome: Outcome | None = None
        rejection: Rejected | None = None
        at = step.at or self.clock
        assert at is not None  # a scenario opens with `start`, whose `at` is required
        actor = None
        if step.actor is not None:
            actor = Actor(id=step.actor, roles=self.scenario.actors[step.actor])
        try:
            if step.action == "start":
                if before is not None:
                    self.fail(step, "start", "no case yet", f"case {before.id} is already open")
                    return
                assert actor is not None
                outcome = self.engine.start(
                    self.proc.id,
                    actor=actor,
                    data=self._data(step.data),
                    at=at,
                    version=self.scenario.procedure_version,
                )
            elif before is None:
                self.fail(
                    step,
                    step.action,
                    "an open case",
                    "no case (no `start` step was accepted before this one)",
                )
                return
            elif step.action == "fire":
                assert actor is not None
                assert step.trigger is not None
                outcome = self.engine.fire(
                    before,
                    step.trigger,
                    actor=actor,
                    data=self._data(step.data),
                    at=at,
                    expected_version=step.expected_version,
                )
            else:
                outcome = self.engine.advance(before, at=at)
        except Rejected as exc:
            rejection = exc
            who = f" by {step.actor}" if step.actor else ""
            self.timeline.append(
                f"{self.display.time(at)}  {'rejected':<11} {step.label}{who}: {exc.reason}: {exc.message}"
            )
        except Exception as exc:  # the engine's own errors (a calendar past its dates, say)
            self.fail(step, "result", "the step to run", f"{type(exc).__name__}: {exc}")
            return
        self.clock = max(self.clock, at) if self.clock is not None else at
        if outcome is not None:
            self.case = outcome.case
            self.events.extend(outcome.events)
            self.timeline.extend(self.display.event_line(e) for e in outcome.events)
        self._check(step, outcome, rejection)
        if outcome is not None and not self.failures:
            self._properties(step, outcome)

    def _properties(self, step: Step, outcome: Outcome) -> None:
        """The procedure's ``properties`` over the life so far (docs/testing.md)."""
        if self.monitor is None:
            self.monitor = Monitor.of(self.engine._for_case(outcome.case))
        self.monitor, broken = self.monitor.step(outcome.case, outcome.events, outcome.effects)
        broken += self.monitor.finish(outcome.case)
        for b in broken:
            self.fail(step, f"property {b.name!r}", f"to hold ({b.pattern})", b.reason)

    def _data(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The step's data, with naive datetime texts read in the scenario's zone."""
        out = dict(data)
        for name, value in data.items():
            spec = self.proc.fields.get(name)
            if spec is not None and spec.type == "datetime" and isinstance(value, str):
                # Left as written when unreadable: the engine refuses it, maybe the point.
                with contextlib.suppress(ValueError):
                    out[name] = parse_time(value, self.zone).isoformat()
        return out

    # -- expectations --------------------------------------------------------------------

    def _check(self, step: Step, outcome: Outcome | None, rejection: Rejected | None) -> None:
        expected_rejection = next((e for e in step.expect if e.key == "rejected"), None)
        if rejection is not None and expected_rejection is None:
            self.fail(
                step,
                "result",
                "the step to be accepted",
                f"rejected, {rejection.reason}: {rejection.message}",
            )
            return
        events = outcome.events if outcome is not None else ()
        effects = outcome.effects if outcome is not None else ()
        for exp in step.expect:
            key, value, line = exp.key, exp.value, exp.line
            try:
                if key == "rejected":
                    self._rejected(step, value, rejection, events, line)
                elif key == "state":
                    self._same(step, "state", value, self._need_case().state, line)
                elif key == "fields":
                    case = self._need_case()
                    for name, want in value.items():
                        self._field(step, name, want, case.data.get(name), exp.path)
                elif key == "escalation_level":
                    self._same(step, key, value, self._need_case().escalation_level, line)
                elif key == "version":
                    self._same(step, key, value, self._need_case().version, line)
                elif key == "next_due":
                    self._same(step, key, value, self._need_case().next_due, line)
                elif key in ("events", "events_include"):
                    self._list(
                        step, key, value, events, self._event_diffs, self.display.event_text, line
                    )
                elif key in ("effects", "effects_include"):
                    self._list(
                        step,
                        key,
                        value,
                        effects,
                        self._effect_diffs,
                        self.display.effect_text,
                        line,
                    )
                elif key == "time_limits":
                    case = self._need_case()
                    for name, pattern in value.items():
                        self._timer(step, name, pattern, case.timers.get(name))
            except _Mismatch as exc:
                self.fail(step, key, self.display.expected_text(key, value), str(exc), line)

    def _need_case(self) -> Case:
        if self.case is None:
            raise _Mismatch("no case (it was never opened)")
        return self.case

    def _same(self, step: Step, what: str, want: Any, got: Any, line: int) -> None:
        if not equal(want, got):
            self.fail(step, what, self.display.show(want), self.display.show(got), line)

    def _rejected(
        self,
        step: Step,
        want: Mapping[str, Any],
        got: Rejected | None,
        events: Sequence[Event],
        line: int,
    ) -> None:
        if got is None:
            happened = "; ".join(self.display.event_text(e) for e in events) or "nothing changed"
            self.fail(step, "rejected", want["reason"], f"accepted ({happened})", line)
            return
        for key, value in want.items():
            where = self.scenario.source_map.position((*step.path, "expect", "rejected", key))[0]
            if key == "reason":
                self._same(step, "rejected", value, got.reason, line)
            elif key == "message":
                if str(value) not in got.message:
                    self.fail(
                        step,
                        "rejected.message",
                        f"a message with {value!r}",
                        repr(got.message),
                        where,
                    )
            elif key not in got.details:
                self.fail(
                    step,
                    f"rejected.{key}",
                    self.display.show(value),
                    f"no {key} in the details {got.details!r}",
                    where,
                )
            else:
                self._same(step, f"rejected.{key}", value, got.details[key], where)

    def _field(self, step: Step, name: str, want: Any, got: Any, path: SourcePath) -> None:
        line = self.scenario.source_map.position((*path, name))[0]
        if self._value_matches(name, want, got):
            return
        if name in self.pii:
            shown = "null" if got is None else "a different value"
            self.fail(step, f"fields.{name}", f"{MASK} (pii, not shown)", shown, line)
        else:
            # field_value masks the pii columns of a table, row by row.
            shown_want = self.display.field_value(name, want)
            self.fail(step, f"fields.{name}", shown_want, self.display.field_value(name, got), line)

    def _value_matches(self, name: str, want: Any, got: Any) -> bool:
        spec = self.proc.fields.get(name)
        if want is None or got is None or spec is None:
            return equal(want, got)
        if spec.type == "datetime" and isinstance(want, str):
            try:
                want = parse_time(want, self.zone)
            except ValueError:
                return False
        try:
            stored = normalise(spec, want)
        except FieldValueError:
            return False
        if spec.type == "datetime":
            return bool(datetime.fromisoformat(stored) == datetime.fromisoformat(str(got)))
        if spec.type == "decimal":
            try:
                return Decimal(str(stored)) == Decimal(str(got))
            except InvalidOperation:
                return False
        if spec.type == "table":  # cell by cell, as values: "2000" is 2000.00
            try:
                return bool(typed_value(spec, stored) == typed_value(spec, got))
            except (InvalidOperation, TypeError, ValueError):
                return False
        return bool(stored == got)

    def _list(
        self,
        step: Step,
        key: str,
        patterns: Sequence[Mapping[str, Any]],
        items: Sequence[Any],
        diffs: Any,
        text: Any,
        line: int,
    ) -> None:
        got = "; ".join(text(i) for i in items) or "none"
        if key.endswith("_include"):
            index = 0
            for n, pattern in enumerate(patterns, 1):
                while index < len(items) and diffs(pattern, items[index]):
                    index += 1
                if index == len(items):
                    where = self.scenario.source_map.position(pattern["_path"])[0]
                    self.fail(
                        step,
                        f"{key}[{n}]",
                        self.display.show(pattern),
                        f"no such one in order among: {got}",
                        where,
                    )
                    return
                index += 1
            return
        if len(patterns) != len(items):
            noun = key.removesuffix("s")
            self.fail(
                step,
                key,
                f"{len(patterns)} {noun}{'s' if len(patterns) != 1 else ''}",
                f"{len(items)}: {got}",
                line,
            )
            return
        for n, (pattern, item) in enumerate(zip(patterns, items, strict=True), 1):
            for what, want, have in diffs(pattern, item):
                where = self.scenario.source_map.position((*pattern["_path"], what))[0]
                self.fail(step, f"{key}[{n}].{what}", want, f"{have} (in: {text(item)})", where)

    def _event_diffs(self, pattern: Mapping[str, Any], event: Event) -> list[tuple[str, str, str]]:
        actual: dict[str, Any] = {
            "kind": event.kind,
            "trigger": event.trigger,
            "time_limit": event.time_limit,
            "from": event.source,
            "to": event.target,
            "by": event.actor,
            "role": event.role,
            "at": event.at,
            "percent": event.detail.get("percent"),
            "escalation_level": event.detail.get("escalation_level"),
            "cycle": event.detail.get("cycle"),
        }
        out: list[tuple[str, str, str]] = []
        for key, want in pattern.items():
            if key == "_path":
                continue
            if key == "changes":
                for name, value in want.items():
                    have = event.changes.get(name)
                    if name not in event.changes or not self._value_matches(name, value, have):
                        shown = (
                            self.display.field_value(name, have)
                            if name in event.changes
                            else "unchanged"
                        )
                        out.append(
                            (f"changes.{name}", self.display.field_value(name, value), shown)
                        )
            elif not equal(want, actual[key]):
                out.append(
                    (
                        key,
                        self.display.show(want, percent=key == "percent"),
                        self.display.show(actual[key], percent=key == "percent"),
                    )
                )
        return out

    def _effect_diffs(
        self, pattern: Mapping[str, Any], effect: Effect
    ) -> list[tuple[str, str, str]]:
        actual: dict[str, Any] = {
            "notify": effect.recipient if effect.kind == "notify" else None,
            "record": effect.recipient if effect.kind == "record" else None,
            "template": effect.template,
            "trigger": effect.trigger,
            "time_limit": effect.time_limit,
            "at": effect.at,
            "breach": bool(effect.detail.get("breach", False)),
            "warning": effect.detail.get("warning"),
        }
        out: list[tuple[str, str, str]] = []
        for key, want in pattern.items():
            if key != "_path" and not equal(want, actual[key]):
                pct = key == "warning"
                out.append(
                    (
                        key,
                        self.display.show(want, percent=pct),
                        self.display.show(actual[key], percent=pct),
                    )
                )
        return out

    def _timer(
        self, step: Step, name: str, pattern: Mapping[str, Any], timer: TimerState | None
    ) -> None:
        path = pattern["_path"]
        actual: dict[str, Any] = {"status": "not_started"}
        if timer is not None:
            actual = {
                "status": timer.status,
                "breached": timer.breached_at is not None,
                "breached_at": timer.breached_at,
                "due": timer.due_at,
                "started_at": timer.started_at,
                "cycle": timer.cycle,
                "warnings": [w / 100 for w in timer.warnings],
                "target": timer.within,
                "calendar": timer.calendar,
            }
        for key, want in pattern.items():
            if key == "_path":
                continue
            line = self.scenario.source_map.position((*path, key))[0]
            if timer is None and key != "status":
                self.fail(
                    step,
                    f"time_limits.{name}.{key}",
                    self.display.show(want),
                    "the time limit has not started",
                    line,
                )
                return
            if not equal(want, actual[key]):
                pct = key == "warnings"
                self.fail(
                    step,
                    f"time_limits.{name}.{key}",
                    self.display.show(want, percent=pct),
                    self.display.show(actual[key], percent=pct),
                    line,
                )
