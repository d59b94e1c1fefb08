"""KPI figures from audit logs alone: what ``servflow report`` prints.

The input is the audit log of each case (the :class:`~servflow.engine.Event` lists a store's
``history`` returns) and the engine that holds the procedures they ran on; nothing else is
read, so any host store works. The module is pure: no I/O, no clock.

Every figure is about a *cohort*: the cases opened in the period ``[start, end)``, as they
stand at the period's end (their events before ``end``). So ``opened = closed + cancelled
+ open`` always holds, and a report of a past month does not change when later events are
saved. Which states mean "cancelled", which steps make up a callback, which field means
"satisfied" and which fields to count cases by come from the procedure's ``measures:``
key, never from names in this code; the time limits, final states and escalation ladder
come from the procedure itself. docs/kpi.md defines each figure, with the regulation's
term.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time

from servflow.engine import Case, Engine, Event
from servflow.model import Clause, Measures, Procedure

__all__ = [
    "CallbackFigures",
    "Count",
    "LimitFigures",
    "ProcedureFigures",
    "SatisfactionFigures",
    "StepFigures",
    "compute",
    "nearest_rank",
    "ratio",
]

_NO_MEASURES = Measures()


def ratio(part: int, whole: int) -> float | None:
    """``part / whole``, or None when there is nothing to divide by (shown as a dash)."""
    return part / whole if whole else None


def nearest_rank(values: Sequence[float], percent: int) -> float | None:
    """The nearest-rank percentile: the smallest value with ``percent``% of values at or below.

    ``values`` must be sorted. The median is ``nearest_rank(values, 50)`` (the lower middle
    value of an even count), so every percentile is one of the values measured.
    """
    if not values:
        return None
    rank = max(1, math.ceil(percent * len(values) / 100))
    return values[rank - 1]


@dataclass(frozen=True)
class LimitFigures:
    """On time (按時/及時) for one time limit: its cycles measured, met and breached."""

    name: str
    measured: int
    on_time: int
    breached: int

    @property
    def on_time_rate(self) -> float | None:
        return ratio(self.on_time, self.measured)


@dataclass(frozen=True)
class StepFigures:
    """Business time spent in one state, over the visits that ended in the period."""

    state: str
    visits: int
    median_seconds: float | None
    p90_seconds: float | None


@dataclass(frozen=True)
class CallbackFigures:
    """回訪率: cases due for a callback, and those called back (reached or unreachable)."""

    due: int
    reached: int
    unreachable: int

    @property
    def rate(self) -> float | None:
        return ratio(self.reached + self.unreachable, self.due)


@dataclass(frozen=True)
class SatisfactionFigures:
    """客戶滿意度: the answers recorded in the ``satisfied`` field, and the satisfied ones."""

    answers: int
    satisfied: int

    @property
    def rate(self) -> float | None:
        return ratio(self.satisfied, self.answers)


@dataclass(frozen=True)
class Count:
    """A number of cases with one value of something (a level, a field's value)."""

    key: str
    value: str
    cases: int


@dataclass(frozen=True)
class ProcedureFigures:
    """Every figure of one procedure's cohort."""

    procedure: str
    opened: int
    closed: int
    cancelled: int
    open: int
    limits: tuple[LimitFigures, ...]
    steps: tuple[StepFigures, ...]
    callback: CallbackFigures | None
    satisfaction: SatisfactionFigures | None
    escalations: tuple[Count, ...]
    breakdown: tuple[Count, ...] = field(default=())

    @property
    def completion_rate(self) -> float | None:
        """完成率: closed over the cases not cancelled."""
        return ratio(self.closed, self.opened - self.cancelled)


@dataclass
class _Tally:
    """What one procedure's cases add up to, while they are read."""

    proc: Procedure
    opened: int = 0
    closed: int = 0
    cancelled: int = 0
    open: int = 0
    limits: dict[str, list[int]] = field(default_factory=dict)  # measured, on time, breached
    visits: dict[str, list[float]] = field(default_factory=dict)
    callback: list[int] = field(default_factory=lambda: [0, 0, 0])
    answers: list[int] = field(default_factory=lambda: [0, 0])
    levels: Counter[int] = field(default_factory=Counter)
    values: Counter[tuple[str, str]] = field(default_factory=Counter)


def _moment(value: date | datetime | None, engine: Engine, proc: Procedure) -> datetime | None:
    """A period bound; a date is midnight in the time zone of the procedure's calendar."""
    if value is None or isinstance(value, datetime):
        if value is not None and value.utcoffset() is None:
            raise ValueError("naive datetime: pass a timezone-aware datetime or a date")
        return value
    zone = engine.calendars[proc.calendar].zone
    return datetime.combine(value, time(0), tzinfo=zone)


def _matches(clause: Clause | None, event: Event) -> bool:
    if clause is None or event.kind not in ("started", "fired", "auto_fired"):
        return False
    return clause.matches(event.trigger, event.source, event.target)


def compute(
    engine: Engine,
    logs: Iterable[Sequence[Event]],
    *,
    start: date | datetime | None = None,
    end: date | datetime | None = None,
    procedure: str | None = None,
) -> list[ProcedureFigures]:
    """The figures of each procedure, for the cases opened in ``[start, end)``.

    ``logs`` holds one audit log per case (empty logs are skipped). A bound given as a
    date is midnight in the time zone of the procedure's calendar; None is open-ended.
    Each log is replayed by ``engine`` (so a tampered log raises
    :class:`~servflow.errors.ReplayError`). Procedures are listed by id.
    """
    tallies: dict[str, _Tally] = {}
    for log in logs:
        events = list(log)
        if not events:
            continue
        first = events[0]
        opened_case = engine.replay(events[:1])
        if procedure is not None and opened_case.procedure != procedure:
            continue
        proc = engine.procedure(opened_case.procedure, opened_case.procedure_version)
        lo, hi = _moment(start, engine, proc), _moment(end, engine, proc)
        if (lo is not None and first.at < lo) or (hi is not None and first.at >= hi):
            continue
        seen = [e for e in events if hi is None or e.at < hi]
        case = engine.replay(seen)
        tally = tallies.get(proc.id)
        if tally is None:
            tally = tallies[proc.id] = _Tally(engine.procedure(proc.id))
        _add(tally, engine, proc, case, seen, hi)
    return [_figures(tallies[name]) for name in sorted(tallies)]


def _add(
    tally: _Tally,
    engine: Engine,
    proc: Procedure,
    case: Case,
    events: Sequence[Event],
    end: datetime | None,
) -> None:
    measures = proc.measures or _NO_MEASURES
    tally.opened += 1
    if proc.states[case.state].final:
        if case.state in measures.cancelled_states:
            tally.cancelled += 1
        else:
            tally.closed += 1
    else:
        tally.open += 1
    _limits(tally, proc, case, end)
    _steps(tally, engine, proc, events)
    _callback(tally, measures, events)
    if measures.satisfied is not None:
        for event in events:
            answer = event.changes.get(measures.satisfied)
            if isinstance(answer, bool):
                tally.answers[0] += 1
                tally.answers[1] += answer
    tally.levels[case.escalation_level] += 1
    for name in measures.breakdown:
        if proc.fields[name].pii:  # refused by the checks; never counted by value either
            continue
        value = case.data.get(name)
        tally.values[(name, "" if value is None else str(value).lower())] += 1


def _limits(tally: _Tally, proc: Procedure, case: Case, end: datetime | None) -> None:
    for name in proc.time_limits:
        counts = tally.limits.setdefault(name, [0, 0, 0])
        timer = case.timers.get(name)
        if timer is None:
            continue
        # Finished cycles, and the current one if it stopped, or can no longer be met.
        outcomes = [record.met for record in timer.history]
        if timer.status == "stopped":
            outcomes.append(timer.breached_at is None)
        elif timer.breached_at is not None or (
            end is not None and timer.due_at is not None and timer.due_at <= end
        ):
            outcomes.append(False)
        counts[0] += len(outcomes)
        counts[1] += sum(outcomes)
        counts[2] += len(outcomes) - sum(outcomes)


def _steps(tally: _Tally, engine: Engine, proc: Procedure, events: Sequence[Event]) -> None:
    calendar = engine.calendars[proc.calendar]
    entered: tuple[str, datetime] | None = None
    for event in events:
        if event.kind == "started":
            entered = (event.target, event.at)
        elif event.source != event.target and entered is not None:
            state, since = entered
            seconds = calendar.elapsed(since, event.at).total_seconds()
            tally.visits.setdefault(state, []).append(seconds)
            entered = (event.target, event.at)


def _callback(tally: _Tally, measures: Measures, events: Sequence[Event]) -> None:
    spec = measures.callback
    if spec is None:
        return
    due = reached = unreachable = False
    for event in events:
        if not due:
            due = _matches(spec.due, event)
        elif _matches(spec.reached, event):
            reached = True
            break
        elif _matches(spec.unreachable, event):
            unreachable = True
            break
    tally.callback[0] += due
    tally.callback[1] += reached
    tally.callback[2] += unreachable


def _figures(tally: _Tally) -> ProcedureFigures:
    proc = tally.proc
    measures = proc.measures or _NO_MEASURES
    # The latest version's names first, then those only older versions had.
    names = [*proc.time_limits, *(n for n in tally.limits if n not in proc.time_limits)]
    limits = tuple(LimitFigures(name, *tally.limits.get(name, [0, 0, 0])) for name in names)
    steps = []
    states = [s for s in proc.states if not proc.states[s].final]
    for state in [*states, *(s for s in tally.visits if s not in proc.states)]:
        values = sorted(tally.visits.get(state, []))
        steps.append(
            StepFigures(state, len(values), nearest_rank(values, 50), nearest_rank(values, 90))
        )
    top = max(tally.levels, default=0)
    escalations = tuple(
        Count(
            "level",
            str(level),
            sum(n for lvl, n in tally.levels.items() if lvl >= level),
        )
        for level in range(1, max(top, len(proc.escalation) - 1) + 1)
    )
    breakdown = []
    for name in measures.breakdown:
        spec = proc.fields.get(name)
        choices = [str(c).lower() for c in (spec.choices if spec and spec.choices else [])]
        if spec is not None and spec.type == "boolean":
            choices = ["true", "false"]
        seen = [value for (key, value) in tally.values if key == name]
        for value in [*choices, *sorted(v for v in seen if v not in choices)]:
            breakdown.append(Count(name, value, tally.values.get((name, value), 0)))
    callback = CallbackFigures(*tally.callback) if measures.callback is not None else None
    satisfaction = SatisfactionFigures(*tally.answers) if measures.satisfied is not None else None
    return ProcedureFigures(
        procedure=proc.id,
        opened=tally.opened,
        closed=tally.closed,
        cancelled=tally.cancelled,
        open=tally.open,
        limits=limits,
        steps=tuple(steps),
        callback=callback,
        satisfaction=satisfaction,
        escalations=escalations,
        breakdown=tuple(breakdown),
    )
