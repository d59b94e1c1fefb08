"""Time limits: clocks that start, pause and stop with the case, and what falls due.

Theory of operation
-------------------
Each time limit of a procedure runs, per case, as a :class:`~servflow.engine.case.TimerState`
stored in the case. After every event (:func:`timers_after`, shared by live processing and
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
wake-up per case. :func:`servflow.engine.due.advance` applies what is due, earliest
first, each as an audit event stamped with the moment it fell due, so advancing to t1 and
then to t2 gives the same case as advancing straight to t2. The clock is given only the
compiled procedure and the calendars it counts in (by name, as published through what
the event records), never the engine.

Provisional deadlines. Clocks count in the calendar's extended view (see
:attr:`~servflow.engine.calendar.Calendar.extended`): past ``published_through`` it uses
the holidays the law fixes, so the desk never stops on 1 January. A running or paused
timer whose coming moments (due time, next warning or step) lie past the published
schedule, or whose business seconds were counted past it, is marked ``provisional`` with
the ``published_through`` it was planned under (:func:`.provisional.mark_provisional`); its
warned/breached events say ``provisional: true``. When the engine is
given a calendar published further, ``advance`` (and so ``fire``) first re-plans each
such timer: a ``replanned`` event, stamped at the case's last change so that advancing
stays idempotent and independent of how time is split, which :func:`timers_after`
applies like any other (:func:`_replan`), live and in replay alike. A re-plan is computed
from the cycle's start, its pauses and the case's data only, never from the provisional
values it replaces. Each event whose processing depended on a calendar's publication
records it, and is applied and derived again in that publication (see
:mod:`servflow.engine.provisional`), so a log written by hosts holding different
publications replays exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from servflow.bounds import moment_problem
from servflow.engine.case import (
    CycleRecord,
    Event,
    TimerState,
)
from servflow.engine.durations import Duration
from servflow.engine.limits import (
    BREACH,
    ActionDue,
    Clock,
    CompiledLimit,
    Percent,
    Target,
    WarnDue,
)
from servflow.engine.provisional import Calendars, mark_provisional
from servflow.errors import CalendarError, EvaluationError, Rejected, ServflowError

if TYPE_CHECKING:
    from servflow.engine.calendar import Calendar
    from servflow.engine.compiled import CompiledProcedure

__all__ = ["timers_after"]


# -- the clock -------------------------------------------------------------------------


def _calendar(calendars: Calendars, name: str) -> Calendar:
    # Past the published schedule, counted with the holidays the law fixes (provisional).
    return calendars[name].extended


# The clock's operations work on a typed, mutable copy of a timer (limits.Clock).
W = Clock


def _elapsed_now(calendars: Calendars, w: W, at: datetime) -> int:
    if w.status != "running" or w.resumed_at is None:
        return int(w.elapsed_seconds)
    cal = _calendar(calendars, w.calendar)
    return int(w.elapsed_seconds) + int(cal.elapsed(w.resumed_at, at).total_seconds())


def _plan(calendars: Calendars, limit: CompiledLimit, w: W, now: datetime) -> None:
    """Fill in the timer's next moment (and its due time) from its counters.

    Nothing falls due before ``now`` (the event being applied): a breach that a changed
    target has already reached falls due at once (``due_at`` keeps the true deadline). A
    warning threshold that a changed target has already passed is skipped, not fired late.
    """
    w.next_at, w.next_action = None, None
    resumed = w.resumed_at
    if w.status != "running" or resumed is None:
        return
    cal = _calendar(calendars, w.calendar)
    budget, elapsed = w.budget_seconds, w.elapsed_seconds
    breached = w.breached_at
    if breached is None:
        due = w.due_at
        if due is None:
            remaining = budget - elapsed
            due = cal.add(resumed, Duration(seconds=remaining)) if remaining > 0 else resumed
            w.due_at = due
        w.next_at, w.next_action = due, BREACH
        for pct in limit.warn_at:
            need = math.ceil(budget * pct.value / 100)
            if pct in w.warnings or need <= elapsed:
                continue
            moment = cal.add(resumed, Duration(seconds=need - elapsed))
            if moment < due:
                w.next_at, w.next_action = moment, WarnDue(pct)
            break
    else:
        for action in limit.breach_actions:
            if action.after is not None and action.index not in w.actions_done:
                moment = cal.add(breached, action.after)
                w.next_at, w.next_action = max(moment, resumed), ActionDue(action.index)
                break
    if w.next_at is not None and w.next_at < now:
        w.next_at = now


def _pause(calendars: Calendars, w: W, at: datetime) -> None:
    w.elapsed_seconds = _elapsed_now(calendars, w, at)
    w.status, w.resumed_at, w.paused_at = "paused", None, at
    if w.breached_at is None and not w.fixed:
        w.due_at = None


def _end_pause(w: W, at: datetime) -> None:
    if w.paused_at is not None:
        w.paused_seconds += int((at - w.paused_at).total_seconds())
        w.pauses = (*w.pauses, (w.paused_at, at))
        w.paused_at = None


def _resume(w: W, at: datetime) -> None:
    _end_pause(w, at)
    w.status, w.resumed_at = "running", at
    if w.breached_at is None and not w.fixed:
        w.due_at = None


def _stop(calendars: Calendars, w: W, at: datetime) -> None:
    w.elapsed_seconds = _elapsed_now(calendars, w, at)
    _end_pause(w, at)
    w.status, w.resumed_at, w.stopped_at = "stopped", None, at


def _start(
    calendars: Calendars,
    cp: CompiledProcedure,
    limit: CompiledLimit,
    old: W | None,
    scope_of: _ScopeOf,
    at: datetime,
) -> W:
    target = _choose_target(limit, scope_of)
    cal_name = target.calendar or cp.procedure.calendar
    cal = _calendar(calendars, cal_name)
    try:
        due = _target_due(cal, target, at, scope_of)
        if (
            target.until is None
            and target.duration.working_days == 0
            and not target.end_of_working_day
        ):
            budget = target.duration.seconds
        else:
            budget = int(cal.elapsed(at, due).total_seconds())
    except CalendarError as exc:
        raise _beyond_calendar(target, exc) from None
    history: tuple[CycleRecord, ...] = ()
    cycle = 1
    if old is not None:
        cycle = old.cycle + 1
        history = (*old.history, old.record(at))
    return Clock(
        fixed=target.until is not None,
        cycle=cycle,
        calendar=cal_name,
        within=target.text,
        started_at=at,
        budget_seconds=budget,
        resumed_at=at,
        due_at=due,
        history=history,
    )


def _retarget(
    calendars: Calendars,
    cp: CompiledProcedure,
    limit: CompiledLimit,
    w: W,
    scope_of: _ScopeOf,
    at: datetime,
    *,
    force: bool = False,
) -> bool:
    """The case's data changed what its target depends on: the cycle keeps its start.

    The new target is counted from the cycle's start in its own calendar, less the
    pauses so far, so a changed priority gives exactly the due time the cycle would have
    had with that priority from the start. A breach already recorded stays.
    """
    target = _choose_target(limit, scope_of)
    cal_name = target.calendar or cp.procedure.calendar
    if not force and target.until is None and target.text == w.within and cal_name == w.calendar:
        return False
    cal = _calendar(calendars, cal_name)
    started = w.started_at
    try:
        due = _target_due(cal, target, started, scope_of)
        budget = int(cal.elapsed(started, due).total_seconds())
    except CalendarError as exc:
        raise _beyond_calendar(target, exc) from None
    paused = sum(int(cal.elapsed(a, b).total_seconds()) for a, b in w.pauses)
    if w.status == "paused" and w.paused_at is not None:
        paused += int(cal.elapsed(w.paused_at, at).total_seconds())
    elapsed = int(cal.elapsed(started, at).total_seconds()) - paused
    w.calendar, w.within, w.fixed = cal_name, target.text, target.until is not None
    w.budget_seconds, w.elapsed_seconds = budget, elapsed
    w.resumed_at = at if w.status == "running" else None
    if w.breached_at is None and w.fixed:
        w.due_at = due  # a date from the case is the deadline, whatever the pauses
    elif w.breached_at is None:
        # The true deadline when it is already behind us and nothing was paused (the
        # breach is then recorded at the change, the earliest moment it can be known);
        # otherwise planned from the business time that remains.
        w.due_at = due if budget <= elapsed and not paused else None
    return True


def _replan(
    calendars: Calendars,
    cp: CompiledProcedure,
    limit: CompiledLimit,
    w: W,
    scope_of: _ScopeOf,
    at: datetime,
) -> None:
    """Count a running or paused cycle again in the calendar the engine holds now.

    Like a changed target, from the cycle's start less its pauses; a breach already
    recorded stays, and its ``due_at`` becomes the deadline the calendar now gives.
    """
    if w.status == "stopped":
        return
    _retarget(calendars, cp, limit, w, scope_of, at, force=True)
    if w.breached_at is None:
        return
    cal = _calendar(calendars, w.calendar)
    try:
        if w.fixed:
            w.due_at = _target_due(cal, _choose_target(limit, scope_of), w.started_at, scope_of)
            return
        # The moment the budget ran out: working time from the start, skipping pauses.
        moment, left = w.started_at, w.budget_seconds
        for begin, end in w.pauses:
            span = int(cal.elapsed(moment, begin).total_seconds())
            if span >= left:
                break
            left, moment = left - span, end
        w.due_at = cal.add(moment, Duration(seconds=left)) if left > 0 else moment
    except CalendarError:
        return  # the breach stands; its deadline keeps the value it had


def _target_due(cal: Calendar, target: Target, start: datetime, scope_of: _ScopeOf) -> datetime:
    """The deadline a target sets for a cycle that starts at ``start``.

    A deadline past the years servflow keeps (``bounds.LAST_YEAR``), from a date near the
    end of them or a time limit that runs past it, is refused as the event's data: the
    case it would make could not be stored or read back.
    """
    due = _unchecked_due(cal, target, start, scope_of)
    problem = moment_problem(due)
    if problem is not None:
        field = target.until if target.until is not None else "at"
        raise Rejected(
            "invalid_data",
            f"the deadline {'the date in ' + repr(field) if target.until else 'this step'} "
            f"sets is outside the years servflow keeps ({problem})",
            field=field,
        )
    return due


def _unchecked_due(cal: Calendar, target: Target, start: datetime, scope_of: _ScopeOf) -> datetime:
    if target.until is None:
        return cal.add(start, target.duration, end_of_working_day=target.end_of_working_day)
    value = scope_of(frozenset({target.until}))[target.until]
    if value is None:
        # Only the last target can get here (the others are skipped while empty).
        raise Rejected(
            "invalid_data",
            f"the time limit's deadline field {target.until!r} has no value",
            field=target.until,
        )
    moment = _field_moment(cal, value)
    if target.offset is None:
        return moment
    # An offset is a duration like any other: counted in the target's calendar.
    if target.before:
        return cal.subtract(moment, target.offset)
    return cal.add(moment, target.offset)


def _field_moment(cal: Calendar, value: date | datetime) -> datetime:
    """The instant a deadline field names, before any offset."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    # A date: "by Friday" means by the close of business on Friday, or the end of that
    # day in the calendar's zone if the desk does not open then.
    assert isinstance(value, date)
    close = cal.close_of(value)
    if close is not None:
        return close
    midnight = datetime.combine(value + timedelta(days=1), datetime.min.time())
    return midnight.replace(tzinfo=cal.zone).astimezone(UTC)


def _beyond_calendar(target: Target, exc: CalendarError) -> ServflowError:
    """A deadline the calendar cannot place: the caller's date, or the calendar's limit.

    A date the case gives (``until``) past the published schedule is the event's data at
    fault (``invalid_data`` on that field); a duration that runs past it is the
    calendar's, and stays a :class:`CalendarError`.
    """
    if target.until is None:
        return exc
    return Rejected(
        "invalid_data",
        f"the date in {target.until!r} cannot be placed in the calendar ({exc})",
        field=target.until,
    )


# The typed values an expression reading these names sees (CompiledProcedure.scope, bound
# to the case being built).
_ScopeOf = Callable[[frozenset[str]], dict[str, Any]]


def _choose_target(limit: CompiledLimit, scope_of: _ScopeOf) -> Target:
    for target in limit.targets:
        if target.until is not None and scope_of(frozenset({target.until}))[target.until] is None:
            continue  # a deadline field without a value: the next target applies
        if target.when is None:
            return target
        try:
            if target.when.holds(scope_of(target.when.names)):
                return target
        except EvaluationError:
            continue
    return limit.targets[-1]


def timers_after(
    calendars: Calendars,
    cp: CompiledProcedure,
    timers: Mapping[str, TimerState],
    event: Event,
    scope_of: _ScopeOf,
    state: str,
) -> tuple[dict[str, TimerState], datetime | None] | None:
    """The timers after ``event`` and the next due moment; None when nothing changed."""
    limits: tuple[CompiledLimit, ...] = cp.limits
    if not limits:
        return None
    # Timers count in UTC: comparing two times of one ZoneInfo ignores `fold`, which
    # would misorder moments in the hour a DST change repeats.
    at = event.at.astimezone(UTC)
    result: dict[str, TimerState] | None = None
    kind = event.kind
    step = (event.trigger, event.source, event.target)
    for limit in limits:
        t = timers.get(limit.name)
        w: W | None = None
        if kind in ("warned", "breached", "breach_step"):
            if event.time_limit == limit.name and t is not None:
                w = Clock.of(t)
                _due_applied(calendars, w, event, at)
        elif kind == "replanned":
            if event.time_limit == limit.name and t is not None and t.status != "stopped":
                w = Clock.of(t)
                _replan(calendars, cp, limit, w, scope_of, at)
        else:
            active = t is not None and t.status != "stopped"
            # A case that closes stops every clock: nothing can happen to it any more.
            if active and t is not None and (limit.stops.matches(*step) or state in cp.finals):
                w = Clock.of(t)
                _stop(calendars, w, at)
                active = False
            if not active and limit.starts.matches(*step) and state not in cp.finals:
                old = w if w is not None else (Clock.of(t) if t is not None else None)
                w = _start(calendars, cp, limit, old, scope_of, at)
            elif active and t is not None and limit.target_names.intersection(event.changes):
                w = Clock.of(t)
                if not _retarget(calendars, cp, limit, w, scope_of, at):
                    w = None
            status = w.status if w is not None else (t.status if t is not None else "stopped")
            if status != "stopped":
                inside = state in limit.pause_in
                if (inside and status == "running") or (not inside and status == "paused"):
                    if w is None:
                        assert t is not None
                        w = Clock.of(t)
                    if inside:
                        _pause(calendars, w, at)
                    else:
                        _resume(w, at)
        if w is not None:
            _plan(calendars, limit, w, at)
            mark_provisional(calendars, w)
            if result is None:
                result = dict(timers)
            result[limit.name] = w.stored()
    if result is None:
        return None
    moments = [t.next_at for t in result.values() if t.next_at is not None]
    return result, (min(moments) if moments else None)


def _due_applied(calendars: Calendars, w: W, event: Event, at: datetime) -> None:
    if event.kind == "warned":
        w.warnings = (*w.warnings, Percent.stored(int(event.detail["percent_key"])))
        return
    w.actions_done = (*w.actions_done, *event.detail.get("steps", ()))
    if event.kind == "breached":
        w.elapsed_seconds = _elapsed_now(calendars, w, at)
        w.breached_at = at
        if w.status == "running":
            w.resumed_at = at
