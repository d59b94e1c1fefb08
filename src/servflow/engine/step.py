"""Deciding and building a step: the one place a step is decided, for a person or the clock.

:func:`decide` takes a step's branches and the data it brings and answers with the
branch taken, the audit event that records it and the effects it asks for; it is the
same function whether a person opens a case (``Engine.start``), a person fires a
trigger (``Engine.fire``), the clock takes an automatic step a breach asks for
(``Engine.advance``) or a replay decides a logged step again
(:mod:`servflow.engine.verify`), as Sismic chooses eventless and event-driven
transitions with the same code. The rules themselves live in
:mod:`servflow.engine.rules`; the order they apply in lives here.

Live processing and replay also share the building: :func:`apply_event` turns (case, event)
into the next case, timers included, in the calendars as published through what the
event records; :func:`stamped` applies an event the engine built and records those
publications; :func:`effects_of` and :func:`event_detail` give a step's effects and the detail
its event records.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from servflow.engine.case import (
    Actor,
    Case,
    CaseParent,
    Effect,
    Event,
    _case_event,
    _effect,
    _trusted,
)
from servflow.engine.compiled import CompiledBranch, CompiledProcedure, Step
from servflow.engine.links import OPENS, PARENT, opened_ids, parent_of
from servflow.engine.provisional import PUBLICATIONS, Calendars, publications_of, viewed
from servflow.engine.rules import (
    authorise,
    check_invariants,
    check_requires,
    choose_branch,
    holds,
    in_english,
)
from servflow.engine.timing import timers_after
from servflow.engine.values import FieldValueError, normalise
from servflow.errors import Rejected
from servflow.model import Branch

__all__ = [
    "ACTOR_ROLES",
    "SYSTEM_ACTOR",
    "Decided",
    "apply_event",
    "decide",
    "effects_of",
    "event_detail",
    "stamped",
    "step_of",
]

#: The actor the clock's events name: the procedure itself authorises what it does.
SYSTEM_ACTOR = "servflow"
#: Where a person's step records the roles `actor.roles` read, when a guard reads them.
ACTOR_ROLES = "actor_roles"


@dataclass(frozen=True, slots=True)
class Decided:
    """A step decided: the branch taken and its event (not yet applied)."""

    branch: CompiledBranch
    event: Event

    @property
    def effects(self) -> tuple[Effect, ...]:
        """The effects the step asks for (built on demand: a replay needs none)."""
        return effects_of(self.branch, self.event)


def decide(
    cp: CompiledProcedure,
    case: Case | None,
    branches: tuple[CompiledBranch, ...],
    changes: dict[str, Any],
    *,
    at: datetime,
    actor: Actor | None,
    given: Collection[str] = (),
    time_limit: str | None = None,
    case_id: str = "",
    claims: Callable[[CompiledBranch], None] | None = None,
    parent: CaseParent | None = None,
) -> Decided | None:
    """Decide which of ``branches`` (the branches of one trigger from the case's state) is
    taken with ``changes`` (stored values, as the data's validation gives them), and
    build its event.

    A person (``actor``): the first branch whose guard holds on the merged data is taken
    (a guard that cannot be evaluated does not hold); the fields it clears that the
    person did not give (``given`` names what they gave) are cleared; the actor must
    hold one of its roles at the case's escalation level, within its authority; its
    required fields must have values and the procedure's invariants must hold after it.
    The first rule that fails raises :class:`Rejected`. Opening a case (``case`` None,
    ``branches`` the start alone, ``case_id`` its id) checks who may open it before its
    condition, as it always has. ``claims``, if given, is called with the branch as soon as
    it is chosen, before its other rules: a replay checks there what its log claims of the
    branch, so a log is refuted for the first thing wrong in the order ``fire`` checks.
    ``parent`` (opening only) is the case that opened this one, recorded in its event.

    The clock (``actor`` None, ``time_limit`` the limit whose breach asks for the step):
    the procedure authorises it, so no role is checked, and every other rule holds as
    for a person; a branch that fails any of them is passed over for the next, and when
    none passes the step is not taken (None).
    """
    if case is None:
        assert actor is not None
        return _opened(cp, branches[0], changes, at, actor, case_id, parent)
    trigger = branches[0].trigger
    state, level = case.state, case.escalation_level
    merged = {**case.data, **changes}
    step = step_of(cp, at, actor)
    if actor is not None:
        branch = choose_branch(cp, branches, merged, state, trigger, level, step, given)
        if claims is not None:
            claims(branch)
        return _built(cp, case, branches, branch, changes, merged, given, step, actor, time_limit)
    for branch in branches:
        try:
            if branch.guard is not None and not holds(
                cp, branch.guard, branch.fresh_view(merged, given), state, trigger, level, step
            ):
                continue
            return _built(
                cp, case, branches, branch, changes, merged, given, step, None, time_limit
            )
        except Rejected:
            continue  # the clock passes over a branch whose rules do not all hold
    return None


def _built(
    cp: CompiledProcedure,
    case: Case,
    branches: tuple[CompiledBranch, ...],
    branch: CompiledBranch,
    changes: dict[str, Any],
    merged: dict[str, Any],
    given: Collection[str],
    step: Step,
    actor: Actor | None,
    time_limit: str | None,
) -> Decided:
    """The rules after the branch is chosen, then the event: see :func:`decide`."""
    trigger, level, at = branch.trigger, case.escalation_level, step.at
    if branch.clear:
        # Copies: the clock may pass over this branch for the next one.
        changes, merged = dict(changes), dict(merged)
        for name in branch.clear:
            if name not in given and merged.get(name) is not None:
                merged[name] = None
                changes[name] = None
    if branch.counts:
        changes, merged = dict(changes), dict(merged)
        for name in branch.counts:
            merged[name] = changes[name] = _counted(cp, branch, name, case.data.get(name), given)
    role = (
        None
        if actor is None
        else authorise(cp, branches, branch, actor, merged, case.state, trigger, level, step)
    )
    check_requires(cp, branch, merged)
    check_invariants(cp, merged, branch.to, trigger, level)
    detail = event_detail(cp, branches, branch, case)
    values: dict[str, Any] = {
        "at": at,
        "kind": "fired" if actor is not None else "auto_fired",
        "trigger": trigger,
        "actor": actor.id if actor is not None else SYSTEM_ACTOR,
        "role": role,
        "source": case.state,
        "target": branch.to,
        "changes": changes,
    }
    if time_limit is not None:
        values["time_limit"] = time_limit
        detail = {"time_limit": time_limit, **detail}
    if actor is not None and cp.reads_roles:
        detail[ACTOR_ROLES] = list(step.roles)
    values["detail"] = detail
    event = _case_event(case, values)
    return Decided(branch, event)


def _counted(
    cp: CompiledProcedure, branch: CompiledBranch, name: str, now: Any, given: Collection[str]
) -> int:
    """The count ``branch`` leaves in field ``name`` (``now`` its value before the step)."""
    trigger = branch.trigger
    if name in given:
        raise Rejected(
            "invalid_data",
            f"{trigger!r} counts field {name!r} itself; it cannot be given",
            field=name,
            trigger=trigger,
        )
    try:
        counted: int = normalise(cp.fields[name], (now or 0) + 1)
    except FieldValueError as exc:
        raise Rejected(
            "invalid_data",
            f"{trigger!r} cannot count field {name!r}: {exc}",
            field=name,
            trigger=trigger,
        ) from None
    return counted


def _opened(
    cp: CompiledProcedure,
    start: CompiledBranch,
    changes: dict[str, Any],
    at: datetime,
    actor: Actor,
    case_id: str,
    parent: CaseParent | None = None,
) -> Decided:
    """The opening step: the start's rules on the defaults and the data given."""
    merged = {**cp.defaults, **changes}
    state = start.to
    step = step_of(cp, at, actor)
    role = authorise(cp, [start], start, actor, merged, state, "start", 0, step)
    if start.guard is not None and not holds(cp, start.guard, merged, state, "start", 0, step):
        exc = Rejected(
            "guard_failed",
            f"'start': the condition {start.guard.source!r} does not hold",
            trigger="start",
            expression=start.guard.source,
        )
        if start.spec.message:
            exc.worded(start.spec.message, f"'start': {in_english(start.spec.message)}")
        raise exc
    check_requires(cp, start, merged)
    check_invariants(cp, merged, state, "start", 0)
    event = _trusted(
        Event,
        {
            "case_id": case_id,
            "seq": 1,
            "at": at,
            "kind": "started",
            "trigger": "start",
            "actor": actor.id,
            "role": role,
            "source": None,
            "target": state,
            "changes": {k: v for k, v in merged.items() if v is not None},
            "procedure": cp.procedure.id,
            "procedure_version": cp.procedure.version,
            "digest": cp.digest,
            "detail": {
                **({PARENT: parent.model_dump(mode="json")} if parent is not None else {}),
                **({ACTOR_ROLES: list(step.roles)} if cp.reads_roles else {}),
            },
        },
    )
    return Decided(start, event)


def step_of(cp: CompiledProcedure, at: datetime, actor: Actor | None) -> Step:
    """Who takes a step (the clock when ``actor`` is None) and when, as guards read it."""
    if actor is None:
        return Step(at, SYSTEM_ACTOR)
    return Step(at, actor.id, cp.roles_of(actor.roles))


def event_detail(
    cp: CompiledProcedure, branches: tuple[CompiledBranch, ...], branch: CompiledBranch, case: Case
) -> dict[str, Any]:
    """What an event records beyond its move: which branch, and a raised level."""
    detail: dict[str, Any] = {}
    if len(branches) > 1:
        detail["branch"] = branch.index
    if branch.spec.escalates:
        detail["escalation_level"] = cp.raised_level(case.escalation_level)
    elif branch.spec.deescalates not in (None, False):
        detail["escalation_level"] = cp.lowered_level(
            case.escalation_level, branch.spec.deescalates
        )
    if isinstance(branch.spec, Branch) and branch.spec.opens:
        detail[OPENS] = opened_ids(case.id, case.version + 1, branch.spec.opens)
    return detail


def effects_of(branch: CompiledBranch, event: Event) -> tuple[Effect, ...]:
    out: list[Effect] = []
    case_id = event.case_id
    for spec in branch.spec.effects:
        if spec.notify is not None:
            out.append(
                _effect(
                    "notify", case_id, event.at, event.trigger, spec.notify, template=spec.template
                )
            )
        if spec.record is not None:
            out.append(
                _effect(
                    "record", case_id, event.at, event.trigger, spec.record, template=spec.template
                )
            )
    return tuple(out)


def apply_event(
    calendars: Calendars, cp: CompiledProcedure, case: Case | None, event: Event
) -> Case:
    """The one function that turns (case, event) into the next case, live and in replay.

    In the engine's calendars as published through what the event records, if it records
    publications (see :mod:`servflow.engine.provisional`).
    """
    published = event.detail.get(PUBLICATIONS)
    if published:
        calendars = viewed(calendars, published)
    parent = None
    if case is None:
        data = dict.fromkeys(cp.fields)
        level = 0
        timers: Mapping[str, Any] = {}
        next_due = None
        if PARENT in event.detail:
            parent = parent_of(event.detail[PARENT])
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
            parent=parent,
        )
    # Built like the engine's events (case._trusted): every value is the checked case's
    # or one the engine just computed; model_copy cost a twentieth of a step.
    return _trusted(
        Case,
        {
            **case.__dict__,
            "state": state,
            "data": data,
            "version": event.seq,
            "updated_at": event.at,
            "escalation_level": level,
            "timers": timers,
            "next_due": next_due,
        },
    )


def stamped(
    calendars: Calendars, cp: CompiledProcedure, case: Case | None, event: Event
) -> tuple[Event, Case]:
    """Apply an event the engine built and record the publications it depended on.

    The record changes nothing in the case (``apply_event`` reads only ``escalation_level``
    from a detail), so the event is applied once, before it is stamped.
    """
    after = apply_event(calendars, cp, case, event)
    published = publications_of(calendars, case, after, event)
    if published:
        event = _trusted(
            Event, {**event.__dict__, "detail": {**event.detail, PUBLICATIONS: published}}
        )
    return event, after
