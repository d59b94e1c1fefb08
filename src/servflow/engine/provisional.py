"""Provisional deadlines: counted past a calendar's published schedule, then re-planned.

A timer counted in a calendar's extended view past ``published_through`` is marked
provisional (:func:`mark_provisional`), with the ``published_through`` it was planned
under; its timer events say so (:func:`flagged`). An engine holding a calendar published
further re-plans it (:func:`needs_replan`, :func:`replanned_event`); the re-plan itself is
:func:`servflow.engine.timing._replan`, applied by ``timers_after`` to a ``replanned``
event, live and in replay alike. See the "Provisional deadlines" paragraph of
:mod:`servflow.engine.timing`.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from servflow.engine.case import Case, Event, TimerState, case_event

if TYPE_CHECKING:
    from servflow.engine.compiled import CompiledProcedure
    from servflow.engine.core import Engine
    from servflow.engine.limits import Clock

__all__ = [
    "flagged",
    "mark_provisional",
    "needs_replan",
    "published_further",
    "replanned_event",
]


def mark_provisional(engine: Engine, w: Clock) -> None:
    """Whether a running or paused timer was counted past the published schedule.

    It is if what is still to come (its due time, its next moment) lies past the end, or
    if its business seconds were counted past it (up to a resume or a pause after the
    end): a re-plan counts both again. A stopped cycle is history and is not re-planned.
    """
    cal = engine.calendars[w.calendar]
    end = cal.published_end
    provisional = False
    if end is not None and w.status != "stopped":
        # A plain loop: this runs for every timer an event touches.
        for moment in (w.next_at, w.resumed_at, w.paused_at):
            if moment is not None and moment > end:
                provisional = True
                break
        else:
            moment = w.due_at
            provisional = moment is not None and moment > end and w.breached_at is None
    w.provisional = provisional
    w.published_through = cal.published_through if provisional else None


def needs_replan(engine: Engine, case: Case) -> bool:
    """Whether a provisional timer of ``case`` counts in a calendar published further now.

    Kept cheap: a host may call ``advance`` on every case it wakes.
    """
    for timer in case.timers.values():
        if timer.provisional and published_further(engine, timer):
            return True
    return False


def published_further(engine: Engine, timer: TimerState) -> bool:
    """Whether the engine's calendar is published further than the timer was planned in."""
    cal = engine.calendars.get(timer.calendar)
    if cal is None:
        return False
    now, then = cal.published_through, timer.published_through
    # An engine with an older calendar never re-plans backwards: it keeps the plan.
    return now is None or then is None or now > then


def replanned_event(
    engine: Engine,
    cp: CompiledProcedure,
    limit: str,
    timer: TimerState,
    case: Case,
    actor: str,
) -> tuple[Event, Case]:
    """The ``replanned`` event of one timer, and the case after it."""
    from servflow.engine.core import _apply

    published = engine.calendars[timer.calendar].published_through
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
    after = _apply(engine, cp, case, case_event(case, dict(values)))
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
    return case_event(case, values), after


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def flagged(timer: TimerState, detail: dict[str, Any]) -> dict[str, Any]:
    """A moment counted past the published schedule says so in its event."""
    if timer.provisional:
        detail["provisional"] = True
        if timer.published_through is not None:
            detail["published_through"] = timer.published_through.isoformat()
    return detail
