"""Provisional deadlines: counted past a calendar's published schedule, then re-planned.

A timer counted in a calendar's extended view past ``published_through`` is marked
provisional (:func:`mark_provisional`), with the ``published_through`` it was planned
under; its timer events say so (:func:`flagged`). An engine holding a calendar published
further re-plans it (:func:`needs_replan`,
:func:`~servflow.engine.due.replanned_event`); the re-plan itself is
:func:`servflow.engine.timing._replan`, applied by ``timers_after`` to a ``replanned``
event, live and in replay alike. See the "Provisional deadlines" paragraph of
:mod:`servflow.engine.timing`.

Publications. Hosts of one desk may hold different publications of a calendar (one
still has the 2026 file when another has 2027's), and what an event does to a timer
past the published end depends on which. So every event whose processing depended on
the publication records it, per calendar, in ``detail["publications"]``
(:func:`~servflow.engine.step.stamped`, :func:`publications_of`): an event that planned or re-planned a timer
reaching past the end, that touched a timer at a moment past it, or that was processed
while a timer was provisional (the host's decision to re-plan, and the clock events of
that timer, depend on its publication). :func:`~servflow.engine.step.apply_event` applies an
event in the engine's calendars viewed as of what it records (:func:`viewed`,
:meth:`~servflow.engine.calendar.Calendar.as_published`), so live processing and replay
compute it in the very calendar its host had. An event that records nothing is computed
in the engine's own calendars, which is exact: it looked at no date past its host's
published end, and two publications of a calendar agree up to the older one's end.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from servflow.engine.case import Case, Event, TimerState
from servflow.errors import CalendarError

if TYPE_CHECKING:
    from servflow.engine.calendar import Calendar
    from servflow.engine.limits import Clock

__all__ = [
    "PUBLICATIONS",
    "Calendars",
    "flagged",
    "mark_provisional",
    "needs_replan",
    "publication_problem",
    "publications_of",
    "published_further",
    "unrecorded",
    "viewed",
]

#: The key of an event's detail that records the publications it was computed under.
PUBLICATIONS = "publications"

#: The calendars a step is computed in, by name: the engine's own, or a view of them as
#: published through what an event records (:func:`viewed`). All the clock is given.
Calendars = Mapping[str, "Calendar"]


def mark_provisional(calendars: Calendars, w: Clock) -> None:
    """Whether a running or paused timer was counted past the published schedule.

    It is if what is still to come (its due time, its next moment) lies past the end, or
    if its business seconds were counted past it (up to a resume or a pause after the
    end): a re-plan counts both again. A stopped cycle is history and is not re-planned.
    """
    cal = calendars[w.calendar]
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


def needs_replan(calendars: Calendars, case: Case) -> bool:
    """Whether a provisional timer of ``case`` counts in a calendar published further now.

    Kept cheap: a host may call ``advance`` on every case it wakes.
    """
    for timer in case.timers.values():
        if timer.provisional and published_further(calendars, timer):
            return True
    return False


def published_further(calendars: Calendars, timer: TimerState) -> bool:
    """Whether the engine's calendar is published further than the timer was planned in."""
    cal = calendars.get(timer.calendar)
    if cal is None:
        return False
    now, then = cal.published_through, timer.published_through
    # An engine with an older calendar never re-plans backwards: it keeps the plan.
    return now is None or then is None or now > then


def flagged(timer: TimerState, detail: dict[str, Any]) -> dict[str, Any]:
    """A moment counted past the published schedule says so in its event."""
    if timer.provisional:
        detail["provisional"] = True
        if timer.published_through is not None:
            detail["published_through"] = timer.published_through.isoformat()
    return detail


# -- publications ----------------------------------------------------------------------


def publications_of(
    calendars: Calendars, before: Case | None, after: Case, event: Event
) -> dict[str, str]:
    """The publication of each calendar the processing of ``event`` depended on.

    A calendar counts if a timer of it was provisional before the event (whether the
    host re-plans, and what that timer's clock events compute, depend on how far the
    calendar is published), or if a timer the event changed was counted at a moment
    past the published end: every calendar question a change asks lies between the
    cycle's start and the latest of the event's time and the timer's new moments.
    """
    cals = calendars
    names: set[str] = set()
    old: Mapping[str, TimerState] = before.timers if before is not None else {}
    for timer in old.values():
        if timer.provisional:
            names.add(timer.calendar)
    at = event.at
    for key, timer in after.timers.items():
        if old.get(key) is timer or timer.calendar in names:
            continue
        cal = cals.get(timer.calendar)
        end = cal.published_end if cal is not None else None
        if end is None:
            continue
        if at > end or any(
            m is not None and m > end
            for m in (
                timer.next_at,
                timer.due_at,
                timer.resumed_at,
                timer.paused_at,
                timer.stopped_at,
                timer.breached_at,
            )
        ):
            names.add(timer.calendar)
    out: dict[str, str] = {}
    for name in sorted(names):
        cal = cals.get(name)
        through = cal.published_through if cal is not None else None
        if through is not None:
            out[name] = through.isoformat()
    return out


def publication_problem(calendars: Calendars, recorded: object) -> str | None:
    """Why an engine cannot apply what an event records as its publications, if it cannot.

    Each name must be a calendar the engine holds, each date an ISO date no later than
    the engine's own publication: a calendar published further than the engine's cannot
    be reproduced from it.
    """
    if not isinstance(recorded, Mapping) or not recorded:
        return "its publications are not a mapping of calendar names to dates"
    for name, value in recorded.items():
        cal = calendars.get(name) if isinstance(name, str) else None
        if cal is None:
            shown = repr(name)
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            return f"it records a publication of {shown}, a calendar this engine does not hold"
        if type(value) is not str or len(value) != 10:
            return f"its publication of calendar {name!r} is not a date (YYYY-MM-DD)"
        try:
            through = date.fromisoformat(value)
        except ValueError:
            return f"its publication of calendar {name!r} is not a date (YYYY-MM-DD)"
        own = cal.published_through
        if own is not None and through > own:
            return (
                f"it was computed with calendar {name!r} published through {value}, but "
                f"this engine's {name!r} is published through {own.isoformat()} only: "
                "replay the log with an engine holding that publication or a later one"
            )
    return None


def unrecorded(event: Event, expected: Event) -> str | None:
    """An event that records no publication of a calendar the engine computed it past.

    Its host counted those dates in a calendar published further than this engine's
    (had it counted them provisionally, it would have recorded its publication).
    """
    want = expected.detail.get(PUBLICATIONS) or {}
    got = event.detail.get(PUBLICATIONS) or {}
    for name, through in want.items():
        if name not in got:
            return (
                f"it records no publication of calendar {name!r}, yet it counts past "
                f"{through}, where this engine's {name!r} is published through: a host "
                "holding it published further wrote it (replay the log with an engine "
                "holding that publication or a later one), or its record was removed"
            )
    return None


def viewed(calendars: Calendars, recorded: Mapping[str, Any]) -> Calendars:
    """``calendars`` as published through the dates ``recorded``.

    The very mapping when its calendars are published exactly that far (the live case);
    otherwise a new one sharing the others (each calendar keeps its views, so a replay
    asking for the same few does not build them again).
    """
    for name, value in recorded.items():
        cal = calendars.get(name)
        through = cal.published_through if cal is not None else None
        if through is None or through.isoformat() != value:
            break
    else:
        return calendars
    problem = publication_problem(calendars, recorded)
    if problem is not None:
        raise CalendarError(str(next(iter(recorded), "?")), problem)
    return {
        **calendars,
        **{n: calendars[n].as_published(date.fromisoformat(v)) for n, v in recorded.items()},
    }
