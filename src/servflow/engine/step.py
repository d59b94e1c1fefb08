"""Building a step: the case an event makes, the effects it asks for, what it records.

Live processing and replay share these functions, so a log replays to the very case its
steps built: :func:`_apply` turns (case, event) into the next case, timers included, in
the calendars as published through what the event records; :func:`stamped` applies an
event the engine built and records those publications; :func:`_effects` and
:func:`_detail` give a step's effects and the detail its event records.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from servflow.engine.case import Case, Effect, Event, effect, trusted
from servflow.engine.compiled import CompiledProcedure, CompiledStep
from servflow.engine.provisional import PUBLICATIONS, Calendars, publications_of, viewed
from servflow.engine.timing import timers_after

__all__ = ["_apply", "_detail", "_effects", "stamped"]


def _detail(
    cp: CompiledProcedure, steps: tuple[CompiledStep, ...], step: CompiledStep, case: Case
) -> dict[str, Any]:
    """What an event records beyond its move: which branch, and a raised level."""
    detail: dict[str, Any] = {}
    if len(steps) > 1:
        detail["branch"] = step.index
    if step.spec.escalates:
        detail["escalation_level"] = cp.raised_level(case.escalation_level)
    return detail


def _effects(step: CompiledStep, case: Case, event: Event) -> tuple[Effect, ...]:
    out: list[Effect] = []
    for spec in step.spec.effects:
        if spec.notify is not None:
            out.append(
                effect(
                    "notify", case.id, event.at, event.trigger, spec.notify, template=spec.template
                )
            )
        if spec.record is not None:
            out.append(
                effect(
                    "record", case.id, event.at, event.trigger, spec.record, template=spec.template
                )
            )
    return tuple(out)


def _apply(calendars: Calendars, cp: CompiledProcedure, case: Case | None, event: Event) -> Case:
    """The one function that turns (case, event) into the next case, live and in replay.

    In the engine's calendars as published through what the event records, if it records
    publications (see :mod:`servflow.engine.provisional`).
    """
    published = event.detail.get(PUBLICATIONS)
    if published:
        calendars = viewed(calendars, published)
    if case is None:
        data = dict.fromkeys(cp.fields)
        level = 0
        timers: Mapping[str, Any] = {}
        next_due = None
    else:
        data = dict(case.data)
        level = event.detail.get("escalation_level", case.escalation_level)
        timers = case.timers
        next_due = case.next_due
    data.update(event.changes)
    state = event.target

    def scope_of(names: frozenset[str]) -> dict[str, Any]:
        return cp.scope(names, data, state, event.trigger, level)

    timed = timers_after(calendars, cp, timers, event, scope_of, state)
    if timed is not None:
        timers, next_due = timed
    if case is None:
        return Case(
            id=event.case_id,
            procedure=event.procedure,
            procedure_version=event.procedure_version,
            digest=event.digest,
            state=state,
            data=data,
            version=1,
            opened_at=event.at,
            updated_at=event.at,
            timers=timers,
            next_due=next_due,
        )
    return case.model_copy(
        update={
            "state": state,
            "data": data,
            "version": event.seq,
            "updated_at": event.at,
            "escalation_level": level,
            "timers": timers,
            "next_due": next_due,
        }
    )


def stamped(
    calendars: Calendars, cp: CompiledProcedure, case: Case | None, event: Event
) -> tuple[Event, Case]:
    """Apply an event the engine built and record the publications it depended on.

    The record changes nothing in the case (``_apply`` reads only ``escalation_level``
    from a detail), so the event is applied once, before it is stamped.
    """
    after = _apply(calendars, cp, case, event)
    published = publications_of(calendars, case, after, event)
    if published:
        event = trusted(
            Event, {**event.__dict__, "detail": {**event.detail, PUBLICATIONS: published}}
        )
    return event, after
