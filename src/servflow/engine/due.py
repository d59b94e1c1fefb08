"""What falls due: the warnings, breaches, breach steps and automatic steps of the clock.

:func:`advance` applies, earliest first, everything the time limits (see
:mod:`servflow.engine.timing`) have planned up to a moment, each as an audit event
stamped with the moment it fell due and built like any other step
(:mod:`servflow.engine.step`); a provisional plan is first re-planned in a calendar
published further (:func:`replanned_event`, see :mod:`servflow.engine.provisional`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from servflow.engine.case import Case, Effect, Event, Outcome, TimerState, _case_event, _effect
from servflow.engine.limits import (
    ActionDue,
    CompiledBreachAction,
    CompiledLimit,
    Due,
    WarnDue,
    parse_due,
)
from servflow.engine.links import closing_effects, opening_effects
from servflow.engine.provisional import (
    PUBLICATIONS,
    Calendars,
    flagged,
    publications_of,
    published_further,
)
from servflow.engine.step import SYSTEM_ACTOR, Decided, apply_event, decide, stamped

if TYPE_CHECKING:
    from servflow.engine.compiled import CompiledProcedure

__all__ = ["SYSTEM_ACTOR", "advance", "replanned_event"]


def advance(calendars: Calendars, cp: CompiledProcedure, case: Case, at: datetime) -> Outcome:
    """Apply everything due by ``at``; each event is stamped with its own due moment."""
    events: list[Event] = []
    effects: list[Effect] = []
    if case.state not in cp.finals:
        # A calendar published further than a provisional plan: count it again first,
        # before anything falls due by the old plan.
        for limit in cp.limits:
            timer = case.timers.get(limit.name)
            if timer is not None and timer.provisional and published_further(calendars, timer):
                replanned, case = replanned_event(
                    calendars, cp, limit.name, timer, case, SYSTEM_ACTOR
                )
                events.append(replanned)
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
        due = parse_due(timer.next_action)
        assert due is not None  # next_at and next_action come together (integrity checks)
        new_events, new_effects = _due_events(cp, limit, timer, case, moment, due)
        for event in new_events:
            event, case = stamped(calendars, cp, case, event)
            events.append(event)
        effects.extend(new_effects)
        # An automatic transition runs after the breach that asked for it.
        for action in _actions_of(limit, new_events[0]):
            if action.fire is not None:
                fired = _auto_fire(cp, case, action.fire, moment, limit.name)
                if fired is not None:
                    before = case
                    event, case = stamped(calendars, cp, case, fired.event)
                    events.append(event)
                    effects.extend(fired.effects)
                    effects.extend(opening_effects(fired.branch, event, case))
                    effects.extend(closing_effects(cp, before, case))
    return Outcome(case=case, events=tuple(events), effects=tuple(effects))


def _actions_of(limit: CompiledLimit, event: Event) -> list[CompiledBreachAction]:
    return [limit.breach_actions[i] for i in event.detail.get("steps", ())]


def _due_events(
    cp: CompiledProcedure,
    limit: CompiledLimit,
    timer: TimerState,
    case: Case,
    moment: datetime,
    due: Due,
) -> tuple[list[Event], list[Effect]]:
    common: dict[str, Any] = {
        "at": moment,
        "trigger": limit.name,
        "actor": SYSTEM_ACTOR,
        "source": case.state,
        "target": case.state,
        "time_limit": limit.name,
    }
    effects: list[Effect] = []
    if isinstance(due, WarnDue):
        key = due.percent.basis_points
        event = _case_event(
            case,
            dict(
                kind="warned",
                detail=flagged(
                    timer, {"percent": key / 100, "percent_key": key, "cycle": timer.cycle}
                ),
                **common,
            ),
        )
        effects.extend(
            _effect(
                "notify",
                case.id,
                moment,
                limit.name,
                role,
                time_limit=limit.name,
                detail={"warning": key / 100},
            )
            for role in limit.warn_notify
        )
        return [event], effects
    if isinstance(due, ActionDue):
        actions = [limit.breach_actions[due.index]]
    else:
        actions = [s for s in limit.breach_actions if s.after is None]
    detail = flagged(timer, {"steps": [s.index for s in actions], "cycle": timer.cycle})
    raise_by = sum(1 for s in actions if s.escalate)
    if raise_by:
        detail["escalation_level"] = cp.raised_level(case.escalation_level, raise_by)
    effects.extend(
        _effect(
            "notify",
            case.id,
            moment,
            limit.name,
            s.notify,
            template=s.template,
            time_limit=limit.name,
            detail={"breach": True},
        )
        for s in actions
        if s.notify is not None
    )
    kind = "breach_step" if isinstance(due, ActionDue) else "breached"
    return [_case_event(case, dict(kind=kind, detail=detail, **common))], effects


def _auto_fire(
    cp: CompiledProcedure, case: Case, trigger: str, at: datetime, limit: str
) -> Decided | None:
    """The automatic step a breach asks for, decided as any step is (:func:`decide`).

    Only from a state the trigger leaves, on an open case; the procedure authorises it
    (no role is checked), and a branch that fails any other rule is not taken.
    """
    branches = cp.table.get((trigger, case.state))
    if not branches or case.state in cp.finals:
        return None
    return decide(cp, case, branches, {}, at=at, actor=None, time_limit=limit)


def replanned_event(
    calendars: Calendars,
    cp: CompiledProcedure,
    limit: str,
    timer: TimerState,
    case: Case,
    actor: str,
) -> tuple[Event, Case]:
    """The ``replanned`` event of one timer, and the case after it."""
    published = calendars[timer.calendar].published_through
    values: dict[str, Any] = {
        # At the case's last change, not at the call's time: advancing stays idempotent
        # and independent of how time is split.
        "at": case.updated_at,
        "kind": "replanned",
        "trigger": limit,
        "actor": actor,
        "source": case.state,
        "target": case.state,
        "time_limit": limit,
    }
    plain = _case_event(case, dict(values))
    after = apply_event(calendars, cp, case, plain)
    new = after.timers[limit]
    values["detail"] = {
        "cycle": timer.cycle,
        "published_through": published.isoformat() if published is not None else None,
        "was_published_through": _iso(timer.published_through),
        "was_due_at": _iso(timer.due_at),
        "due_at": _iso(new.due_at),
        "was_next_at": _iso(timer.next_at),
        "next_at": _iso(new.next_at),
        "provisional": new.provisional,
    }
    recorded = publications_of(calendars, case, after, plain)
    if recorded:
        values["detail"][PUBLICATIONS] = recorded
    return _case_event(case, values), after


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None
