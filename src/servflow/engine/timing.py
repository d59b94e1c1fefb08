"""Time limits: clocks that start, pause and stop with the case, and what falls due.

Theory of operation
-------------------
Each time limit of a procedure runs, per case, as a :class:`~servflow.engine.case.TimerState`
stored in the case. After every event (:func:`after_event`, shared by live processing and
replay) each limit looks at the event: a matching ``stops`` clause ends the current cycle;
a matching ``starts`` clause begins a new one (a reopened case starts a new cycle and keeps
the record of the earlier ones); entering or leaving a ``pauses`` state pauses or resumes
the clock. When a cycle starts, the first ``within`` target whose ``when`` holds fixes the
duration and the calendar; the due moment is ``calendar.add(start, duration)`` and the
*budget* is the business time from start to due. From then on everything is counted in
business seconds of that calendar, so pauses push the due moment later by exactly the
business time they took, never earlier.

What can fall due for a running clock: each ``warn_at`` percentage of the budget (once
per cycle, in order), the breach at the due moment (sticky: a breach is never undone),
and after a breach each ``on_breach`` step that has an ``after`` delay. Each timer keeps
its next moment; the case's ``next_due`` is the earliest of them, so a host needs one
wake-up per case. :func:`advance` applies what is due, earliest first, each as an audit
event stamped with the moment it fell due, so advancing to t1 and then to t2 gives the
same case as advancing straight to t2.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from servflow.engine.case import Case, CycleRecord, Effect, Event, Outcome, TimerState
from servflow.engine.durations import Duration, parse_duration
from servflow.engine.expr import Expression, compile_expression
from servflow.errors import EvaluationError
from servflow.model import TimeLimit

if TYPE_CHECKING:
    from servflow.engine.calendar import Calendar
    from servflow.engine.compiled import CompiledProcedure
    from servflow.engine.core import Engine

__all__ = ["CompiledLimit", "advance", "after_event", "compile_limits"]

SYSTEM_ACTOR = "servflow"


def _names(value: Any) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, list | tuple | set | frozenset):
        return frozenset(str(v) for v in value)
    return frozenset({str(value)})


@dataclass(frozen=True)
class _Target:
    when: Expression | None
    duration: Duration
    text: str
    calendar: str | None
    end_of_working_day: bool


@dataclass(frozen=True)
class _Step:
    index: int
    after: Duration | None
    notify: str | None
    template: str | None
    fire: str | None
    escalate: bool


@dataclass(frozen=True)
class CompiledLimit:
    """A time limit ready to run: its clauses as sets, its targets compiled."""

    name: str
    start_entered: frozenset[str]
    start_left: frozenset[str]
    start_events: frozenset[str]
    stop_entered: frozenset[str]
    stop_left: frozenset[str]
    stop_events: frozenset[str]
    pause_in: frozenset[str]
    targets: tuple[_Target, ...]
    warn_at: tuple[float, ...]
    warn_notify: tuple[str, ...]
    steps: tuple[_Step, ...]

    @staticmethod
    def _matches(
        entered: frozenset[str], left: frozenset[str], events: frozenset[str], event: Event
    ) -> bool:
        moved = event.source != event.target
        return (
            (event.target in entered and moved)
            or (event.source is not None and event.source in left and moved)
            or event.trigger in events
        )

    def starts_on(self, event: Event) -> bool:
        return self._matches(self.start_entered, self.start_left, self.start_events, event)

    def stops_on(self, event: Event) -> bool:
        return self._matches(self.stop_entered, self.stop_left, self.stop_events, event)


def compile_limits(limits: Mapping[str, TimeLimit]) -> tuple[CompiledLimit, ...]:
    out: list[CompiledLimit] = []
    for name, limit in limits.items():
        targets = tuple(
            _Target(
                when=compile_expression(t.when) if t.when else None,
                duration=parse_duration(t.limit),
                text=t.limit,
                calendar=t.calendar,
                end_of_working_day=t.end_of_working_day,
            )
            for t in limit.within
        )
        steps = tuple(
            _Step(
                index=i,
                after=parse_duration(str(a["after"])) if a.get("after") else None,
                notify=a.get("notify"),
                template=a.get("template"),
                fire=a.get("fire"),
                escalate=bool(a.get("escalate")),
            )
            for i, a in enumerate(limit.on_breach)
        )
        out.append(
            CompiledLimit(
                name=name,
                start_entered=_names(limit.starts.get("entered")),
                start_left=_names(limit.starts.get("left")),
                start_events=_names(limit.starts.get("event")),
                stop_entered=_names(limit.stops.get("entered")),
                stop_left=_names(limit.stops.get("left")),
                stop_events=_names(limit.stops.get("event")),
                pause_in=_names(limit.pauses.get("in")),
                targets=targets,
                warn_at=tuple(sorted(float(p.strip().rstrip("%")) for p in limit.warn_at)),
                warn_notify=tuple(limit.warn_notify),
                steps=steps,
            )
        )
    return tuple(out)


# -- the clock -------------------------------------------------------------------------


def _calendar(engine: Engine, name: str) -> Calendar:
    return engine.calendars[name]


def _elapsed_now(engine: Engine, t: TimerState, at: datetime) -> int:
    if t.status != "running" or t.resumed_at is None:
        return t.elapsed_seconds
    return t.elapsed_seconds + int(
        _calendar(engine, t.calendar).elapsed(t.resumed_at, at).total_seconds()
    )


def _plan(engine: Engine, limit: CompiledLimit, t: TimerState) -> TimerState:
    """Fill in the timer's next moment (and its due time) from its counters."""
    if t.status != "running" or t.resumed_at is None:
        return t.model_copy(update={"next_at": None, "next_action": None})
    cal = _calendar(engine, t.calendar)
    if t.breached_at is None:
        remaining = t.budget_seconds - t.elapsed_seconds
        due = (
            t.due_at if t.due_at is not None else cal.add(t.resumed_at, Duration(seconds=remaining))
        )
        for pct in limit.warn_at:
            key = _pct_key(pct)
            if key in t.warnings:
                continue
            need = math.ceil(t.budget_seconds * pct / 100)
            if need <= t.elapsed_seconds:
                # Passed while the clock was paused or stopped; it fires at resumption.
                return t.model_copy(
                    update={"due_at": due, "next_at": t.resumed_at, "next_action": f"warn:{key}"}
                )
            moment = cal.add(t.resumed_at, Duration(seconds=need - t.elapsed_seconds))
            if moment < due:
                return t.model_copy(
                    update={"due_at": due, "next_at": moment, "next_action": f"warn:{key}"}
                )
        return t.model_copy(update={"due_at": due, "next_at": due, "next_action": "breach"})
    for step in limit.steps:
        if step.after is not None and step.index not in t.steps_done:
            moment = cal.add(t.breached_at, step.after)
            return t.model_copy(
                update={"next_at": max(moment, t.resumed_at), "next_action": f"step:{step.index}"}
            )
    return t.model_copy(update={"next_at": None, "next_action": None})


def _pct_key(pct: float) -> int:
    return round(pct * 100)


def _pause(engine: Engine, t: TimerState, at: datetime) -> TimerState:
    return t.model_copy(
        update={
            "status": "paused",
            "elapsed_seconds": _elapsed_now(engine, t, at),
            "resumed_at": None,
            "paused_at": at,
            "due_at": None if t.breached_at is None else t.due_at,
        }
    )


def _resume(t: TimerState, at: datetime) -> TimerState:
    paused = int((at - t.paused_at).total_seconds()) if t.paused_at is not None else 0
    return t.model_copy(
        update={
            "status": "running",
            "resumed_at": at,
            "paused_at": None,
            "paused_seconds": t.paused_seconds + paused,
            "due_at": None if t.breached_at is None else t.due_at,
        }
    )


def _stop(engine: Engine, t: TimerState, at: datetime) -> TimerState:
    elapsed = _elapsed_now(engine, t, at)
    if t.status == "paused" and t.paused_at is not None:
        t = t.model_copy(
            update={"paused_seconds": t.paused_seconds + int((at - t.paused_at).total_seconds())}
        )
    return t.model_copy(
        update={
            "status": "stopped",
            "elapsed_seconds": elapsed,
            "resumed_at": None,
            "paused_at": None,
            "stopped_at": at,
            "next_at": None,
            "next_action": None,
        }
    )


def _start(
    engine: Engine,
    cp: CompiledProcedure,
    limit: CompiledLimit,
    old: TimerState | None,
    case: Case,
    at: datetime,
) -> TimerState:
    target = _choose_target(cp, limit, case)
    cal_name = target.calendar or cp.procedure.calendar
    cal = _calendar(engine, cal_name)
    due = cal.add(at, target.duration, end_of_working_day=target.end_of_working_day)
    budget = int(cal.elapsed(at, due).total_seconds())
    history: tuple[CycleRecord, ...] = ()
    cycle = 1
    if old is not None:
        cycle = old.cycle + 1
        history = (*old.history, _record(old, at))
    return TimerState(
        cycle=cycle,
        status="running",
        calendar=cal_name,
        target=target.text,
        started_at=at,
        budget_seconds=budget,
        resumed_at=at,
        due_at=due,
        history=history,
    )


def _record(t: TimerState, at: datetime) -> CycleRecord:
    ended = t.stopped_at or at
    return CycleRecord(
        cycle=t.cycle,
        started_at=t.started_at,
        ended_at=ended,
        due_at=t.due_at,
        business_seconds=t.elapsed_seconds,
        breached_at=t.breached_at,
        met=t.breached_at is None,
    )


def _choose_target(cp: CompiledProcedure, limit: CompiledLimit, case: Case) -> _Target:
    for target in limit.targets:
        if target.when is None:
            return target
        scope = cp.scope(target.when.names, case.data, case.state, "", case.escalation_level)
        try:
            if target.when.holds(scope):
                return target
        except EvaluationError:
            continue
    return limit.targets[-1]


def after_event(
    engine: Engine, cp: CompiledProcedure, before: Case | None, case: Case, event: Event
) -> Case:
    """Bring the case's timers up to date with ``event`` (already applied to its state)."""
    limits: tuple[CompiledLimit, ...] = cp.limits
    if not limits:
        return case
    timers = dict(case.timers)
    at = event.at
    changed = False
    for limit in limits:
        t = timers.get(limit.name)
        new = t
        if (
            event.time_limit == limit.name
            and t is not None
            and event.kind in ("warned", "breached", "breach_step")
        ):
            new = _due_applied(t, event)
        elif event.kind in ("started", "fired", "auto_fired"):
            active = t is not None and t.status != "stopped"
            if active and new is not None and limit.stops_on(event):
                new = _stop(engine, new, at)
                active = False
            if not active and limit.starts_on(event):
                new = _start(engine, cp, limit, new, case, at)
            if new is not None and new.status != "stopped":
                inside = case.state in limit.pause_in
                if inside and new.status == "running":
                    new = _pause(engine, new, at)
                elif not inside and new.status == "paused":
                    new = _resume(new, at)
        if new is not t and new is not None:
            timers[limit.name] = _plan(engine, limit, new)
            changed = True
    if not changed:
        return case
    moments = [t.next_at for t in timers.values() if t.next_at is not None]
    return case.model_copy(update={"timers": timers, "next_due": min(moments) if moments else None})


def _due_applied(t: TimerState, event: Event) -> TimerState:
    if event.kind == "warned":
        return t.model_copy(update={"warnings": (*t.warnings, int(event.detail["percent_key"]))})
    steps = tuple(event.detail.get("steps", ()))
    if event.kind == "breached":
        return t.model_copy(
            update={
                "breached_at": event.at,
                "elapsed_seconds": t.budget_seconds,
                "resumed_at": event.at,
                "steps_done": (*t.steps_done, *steps),
            }
        )
    return t.model_copy(update={"steps_done": (*t.steps_done, *steps)})


# -- advancing -------------------------------------------------------------------------


def advance(engine: Engine, cp: CompiledProcedure, case: Case, at: datetime) -> Outcome:
    """Apply everything due by ``at``; each event is stamped with its own due moment."""
    from servflow.engine.core import _apply

    events: list[Event] = []
    effects: list[Effect] = []
    guard = 0
    while case.next_due is not None and case.next_due <= at and case.state not in cp.finals:
        guard += 1
        if guard > 10_000:  # pragma: no cover - a procedure that loops on its own breaches
            break
        moment = case.next_due
        limit, timer = next(
            (lim, case.timers[lim.name])
            for lim in cp.limits
            if lim.name in case.timers and case.timers[lim.name].next_at == moment
        )
        action = timer.next_action or ""
        new_events, new_effects = _due_events(cp, limit, timer, case, moment, action)
        for event in new_events:
            case = _apply(engine, cp, case, event)
            events.append(event)
        effects.extend(new_effects)
        # An automatic transition runs after the breach that asked for it.
        for step in _steps_of(limit, new_events[0]):
            if step.fire is not None:
                fired = _auto_fire(engine, cp, case, step.fire, moment, limit.name)
                if fired is not None:
                    event, step_effects = fired
                    case = _apply(engine, cp, case, event)
                    events.append(event)
                    effects.extend(step_effects)
    return Outcome(case=case, events=tuple(events), effects=tuple(effects))


def _steps_of(limit: CompiledLimit, event: Event) -> list[_Step]:
    return [limit.steps[i] for i in event.detail.get("steps", ())]


def _due_events(
    cp: CompiledProcedure,
    limit: CompiledLimit,
    timer: TimerState,
    case: Case,
    moment: datetime,
    action: str,
) -> tuple[list[Event], list[Effect]]:
    common: dict[str, Any] = {
        "case_id": case.id,
        "seq": case.version + 1,
        "at": moment,
        "trigger": limit.name,
        "actor": SYSTEM_ACTOR,
        "source": case.state,
        "target": case.state,
        "time_limit": limit.name,
        "procedure": case.procedure,
        "procedure_version": case.procedure_version,
        "digest": case.digest,
    }
    effects: list[Effect] = []
    if action.startswith("warn:"):
        key = int(action.split(":", 1)[1])
        event = Event(
            kind="warned",
            detail={"percent": key / 100, "percent_key": key, "cycle": timer.cycle},
            **common,
        )
        for role in limit.warn_notify:
            effects.append(
                Effect(
                    kind="notify",
                    case_id=case.id,
                    at=moment,
                    trigger=limit.name,
                    target=role,
                    time_limit=limit.name,
                    detail={"warning": key / 100},
                )
            )
        return [event], effects
    if action == "breach":
        steps = [s for s in limit.steps if s.after is None]
    else:
        index = int(action.split(":", 1)[1])
        steps = [limit.steps[index]]
    detail: dict[str, Any] = {"steps": [s.index for s in steps], "cycle": timer.cycle}
    levels = len(cp.procedure.escalation)
    raise_by = sum(1 for s in steps if s.escalate)
    if raise_by:
        top = max(levels - 1, 0) if levels else case.escalation_level + raise_by
        detail["escalation_level"] = min(case.escalation_level + raise_by, top)
    for s in steps:
        if s.notify is not None:
            effects.append(
                Effect(
                    kind="notify",
                    case_id=case.id,
                    at=moment,
                    trigger=limit.name,
                    target=s.notify,
                    template=s.template,
                    time_limit=limit.name,
                    detail={"breach": True},
                )
            )
    kind = "breached" if action == "breach" else "breach_step"
    return [Event(kind=kind, detail=detail, **common)], effects


def _auto_fire(
    engine: Engine, cp: CompiledProcedure, case: Case, trigger: str, at: datetime, limit: str
) -> tuple[Event, tuple[Effect, ...]] | None:
    """The automatic transition a breach asks for, if it can be taken now."""
    from servflow.engine.core import _effects

    steps = cp.table.get((trigger, case.state))
    if not steps or case.state in cp.finals:
        return None
    for step in steps:
        if step.guard is not None:
            scope = cp.scope(
                step.guard.names, case.data, case.state, trigger, case.escalation_level
            )
            try:
                if not step.guard.holds(scope):
                    continue
            except EvaluationError:
                continue
        detail: dict[str, Any] = {"time_limit": limit}
        if len(steps) > 1:
            detail["branch"] = step.index
        if step.spec.escalates:
            detail["escalation_level"] = engine._next_level(cp, case.escalation_level)
        event = Event(
            case_id=case.id,
            seq=case.version + 1,
            at=at,
            kind="auto_fired",
            trigger=trigger,
            actor=SYSTEM_ACTOR,
            role=None,
            source=case.state,
            target=step.to,
            time_limit=limit,
            detail=detail,
            procedure=case.procedure,
            procedure_version=case.procedure_version,
            digest=case.digest,
        )
        return event, _effects(step, case, event)
    return None
