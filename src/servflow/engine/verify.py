"""Replaying an audit log: every event checked against the procedure it is pinned to.

A log is evidence only if the engine could have written it. Before an event is applied
(by :func:`~servflow.engine.step.apply_event`, the function live processing uses, so replay
still equals live) it is checked in three layers, and the first one that fails raises
:class:`~servflow.errors.ReplayError` naming the event's ``seq`` and the problem in words:

1. **The envelope**: an event (not something shaped like one), of the same case, pinned
   to the same procedure version and digest as the first, numbered one after the other,
   with a timezone-aware time no earlier than the event before.
2. **A person's step** (``started``, ``fired``) is decided again by the function that
   decides it live (:func:`servflow.engine.step.decide`): the trigger leaves the state
   the case is in, the role written in the event could take it (escalation ladder and
   authority included), each changed value fits its field and is in its stored form, the
   guard chooses the branch the event names, required fields are filled and the
   invariants hold on the data as it was then. The event it builds is compared with the
   logged one, field by field.
3. **What the clock did** (every other kind: warnings, breaches, breach steps, automatic
   transitions, and whatever kinds the time limits produce in future) is not checked
   kind by kind: ``Engine.advance`` itself is run up to the event's time and its events
   must be exactly the logged ones. And before a person's step the clock is run as
   ``fire`` runs it, so nothing may have fallen due that the log leaves out.

Every layer runs in the calendars the event's host had: an event that records the
publications it was computed under (``detail["publications"]``, see
:mod:`servflow.engine.provisional`) is applied, and its clock and re-plans derived, in
the engine viewed as published through them; an event that records none in the engine
itself. One host wrote a batch of clock events, but only some of them may record its
publication (those that counted past its end): when a later one names it, the batch is
derived again, from its start, in that view. A publication later than the engine's own
cannot be reproduced and is refused, naming the calendar and both dates.

Checking a step costs about what firing it costs, without the data parsing: no event is
validated twice, and the clock is only run again where the log says it ran.

:func:`verify_log` is the auditor's form: it does not stop at the first problem but
returns a :class:`ReplayReport`. The rules are checked up to the first refuted event
(every later step would be judged against a case the log has already falsified); the
envelope is checked to the end, so the report shows every gap, repeat, reordering,
foreign event, change of definition and step back in time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from servflow.engine.case import Actor, Case, Event, Outcome, _trusted
from servflow.engine.due import advance
from servflow.engine.integrity import check_time
from servflow.engine.links import PARENT, parent_of
from servflow.engine.provisional import (
    PUBLICATIONS,
    Calendars,
    needs_replan,
    publication_problem,
    unrecorded,
    viewed,
)
from servflow.engine.step import ACTOR_ROLES, apply_event, decide, stamped
from servflow.engine.values import FieldValueError, normalise
from servflow.errors import CalendarError, EvaluationError, Rejected, ReplayError

if TYPE_CHECKING:
    from servflow.engine.compiled import CompiledBranch, CompiledProcedure

__all__ = ["ReplayReport", "Replayer", "replay_log", "verify_log"]

#: How a replay finds the compiled version a log is pinned to (the engine's lookup, which
#: refuses a changed procedure): procedure id, version, digest, and what is pinned.
Pinned = Callable[[str, int, str, str], "CompiledProcedure"]

#: The kinds a person's call writes; every other kind is the clock's.
PERSON_KINDS = frozenset({"started", "fired"})
# What an event says beyond its envelope (case, seq, definition), which layer 1 checks.
_COMPARED = (
    "at",
    "kind",
    "trigger",
    "actor",
    "role",
    "source",
    "target",
    "changes",
    "time_limit",
    "detail",
)


@dataclass(frozen=True)
class ReplayReport:
    """What :meth:`Engine.verify <servflow.engine.core.Engine.verify>` found in a log.

    ``ok`` is true when every event verified (and the stored case, if one was given,
    equals the replayed one). ``case`` is the case rebuilt from the events that verified,
    in order, up to the first problem (None when even the first event fails), and
    ``verified`` is how many events that is. ``problems`` lists each problem as a
    :class:`~servflow.errors.ReplayError`, in log order.
    """

    ok: bool
    case: Case | None
    verified: int
    events: int
    problems: tuple[ReplayError, ...]

    @property
    def first(self) -> ReplayError | None:
        """The first problem, the one :meth:`Engine.replay <servflow.engine.core.Engine.replay>` raises."""
        return self.problems[0] if self.problems else None


def _name(value: object) -> str:
    """A name from the log, quoted and cut short: a tampered log may hold anything."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Again(Exception):
    """Internal: the branch chosen leaves a logged None unexplained; decide once more."""

    def __init__(self, branch: CompiledBranch) -> None:
        super().__init__()
        self.branch = branch


class _Refuted(Exception):
    """Internal: an event the procedure refutes (becomes a ReplayError with its seq)."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


# -- the envelope ----------------------------------------------------------------------


def _as_event(raw: object) -> Event:
    """An :class:`Event` whose envelope has the types the engine writes."""
    if isinstance(raw, Event):
        event = raw
        values = event.__dict__
        seq, at = values.get("seq"), values.get("at")
        # Events built with model_construct (or altered in place) skip validation.
        if (
            type(seq) is not int
            or not isinstance(at, datetime)
            or type(values.get("changes")) is not dict
            or type(values.get("detail")) is not dict
            or not isinstance(values.get("kind"), str)
            or not isinstance(values.get("trigger"), str)
            or not isinstance(values.get("target"), str)
        ):
            event = _validated(event.__dict__)
        return event
    if isinstance(raw, Mapping):
        return _validated(raw)
    raise _Refuted(f"not an event but a value of type {type(raw).__name__}")


def _seq_of(raw: object) -> int | None:
    """The seq a damaged event claims, to name it in the error, if it has a usable one."""
    seq = raw.get("seq") if isinstance(raw, Mapping) else getattr(raw, "seq", None)
    return seq if type(seq) is int else None


def _validated(values: Mapping[str, Any]) -> Event:
    try:
        return Event.model_validate(dict(values))
    except ValidationError as exc:
        # pydantic's messages never hold the input; its `input` entry does, so only the
        # location and the message are used.
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the event"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise _Refuted(f"not a valid event: {where}: {first['msg']}{more}") from None


class _Envelope:
    """The checks of layer 1, which hold between events whatever they mean."""

    def __init__(self) -> None:
        self.first: Event | None = None
        self.expected_seq = 1
        self.last_at: datetime | None = None

    def check(self, event: Event, position: int) -> None:
        seq = event.seq
        first = self.first
        if first is None:
            self.first = first = event
        if event.case_id != first.case_id:
            # Not counted in this case's sequence or time: it is another case's.
            raise _Refuted(
                f"it belongs to case {_name(event.case_id)}, not {_name(first.case_id)} "
                "(an event of another case)"
            )
        expected, self.expected_seq = self.expected_seq, seq + 1
        at, last = event.at, self.last_at
        if at.tzinfo is None or at.utcoffset() is None:
            raise _Refuted("its time has no time zone (the engine writes aware times)")
        self.last_at = at if last is None or at > last else last
        if seq != expected:
            if position == 0:
                raise _Refuted("the log does not begin with the case's first event (seq 1)")
            if seq == expected - 1:
                raise _Refuted(f"seq {seq} twice: an event repeated")
            if seq < expected:
                raise _Refuted(
                    f"seq {seq} comes after seq {expected - 1}: an event repeated or out of order"
                )
            missing = f"seq {expected}" if seq == expected + 1 else f"seq {expected} to {seq - 1}"
            raise _Refuted(f"{missing} missing before it (the log has a gap)")
        if (event.procedure, event.procedure_version, event.digest) != (
            first.procedure,
            first.procedure_version,
            first.digest,
        ):
            raise _Refuted(
                f"it was written by {_name(event.procedure)} v{event.procedure_version} with "
                f"digest {_name(event.digest)}, but the log began with {first.procedure} "
                f"v{first.procedure_version} with digest {first.digest}"
            )
        if last is not None and at < last:
            raise _Refuted(
                f"its time {at.isoformat()} is before the previous event's "
                f"{last.isoformat()} (a log only goes forward in time)"
            )


# -- a person's step -------------------------------------------------------------------


def _rule(exc: Rejected) -> _Refuted:
    # Rejected messages are written to be shown (no pii values), so they are reused.
    return _Refuted(f"{exc.reason}: {exc.message}")


# Actors as a log names them (an id and the one role that authorised the step), shared
# by the events of a log: building one per event cost a tenth of a step's check.
_Actors = dict[tuple[str, str], Actor]


def _actor(event: Event, actors: _Actors) -> Actor:
    actor, role = event.actor, event.role
    if not isinstance(actor, str) or not 1 <= len(actor) <= 200:
        raise _Refuted("a person's step names no actor (1-200 characters)")
    if not isinstance(role, str):
        raise _Refuted("a person's step names no role that authorised it")
    held = event.detail.get(ACTOR_ROLES)
    if held is not None:
        # A procedure whose guards read `actor.roles` records them all; the step is
        # decided again with those (the event the engine writes records the same list).
        if (
            type(held) is not list
            or not all(type(r) is str for r in held)
            or role not in held
            or len(held) > 200
        ):
            raise _Refuted("the roles it records for the actor do not include its role")
        return _trusted(Actor, {"id": actor, "roles": frozenset(held)})
    found = actors.get((actor, role))
    if found is None:
        found = actors[(actor, role)] = _trusted(Actor, {"id": actor, "roles": frozenset({role})})
    return found


def _role(cp: CompiledProcedure, event: Event) -> None:
    if event.role not in cp.ranks:
        raise _Refuted(
            f"forbidden: unknown role {_name(event.role)}: {cp.procedure.id} has no such role"
        )


def _stored(cp: CompiledProcedure, changes: Mapping[str, Any]) -> None:
    """Each changed value names a field, fits it and is in the form a case stores."""
    fields = cp.fields
    for name, value in changes.items():
        spec = fields.get(name)
        if spec is None:
            raise _Refuted(f"unknown field {_name(name)} in its changes")
        if value is None:
            continue
        try:
            stored = normalise(spec, value)
        except FieldValueError as exc:  # its messages never repeat a pii value
            raise _Refuted(f"invalid_data: field {name!r}: {exc}") from None
        if stored != value or type(stored) is not type(value):
            raise _Refuted(f"field {name!r} is not in the form the engine stores")


def _accepted(branch: CompiledBranch, name: str) -> bool:
    return branch.accepts is None or name in branch.accepts


def _differences(event: Event, expected: Event, names: tuple[str, ...]) -> list[str]:
    got, want = event.__dict__, expected.__dict__
    return [n for n in names if got.get(n) != want.get(n)]


def _mismatch(event: Event, expected: Event, what: str) -> _Refuted:
    lacking = unrecorded(event, expected)
    if lacking is not None:
        return _Refuted(lacking)
    names = _differences(event, expected, _COMPARED)
    if "changes" in names:
        moved = sorted(
            set(event.changes).symmetric_difference(expected.changes)
            | {k for k in event.changes if event.changes.get(k) != expected.changes.get(k)},
            key=str,
        )
        names[names.index("changes")] = f"changes ({', '.join(_name(n) for n in moved)})"
    return _Refuted(f"it differs from {what} in: {', '.join(names)}")


def check_started(
    calendars: Calendars, cp: CompiledProcedure, event: Event, actors: _Actors
) -> Case:
    """Layer 2 for the event that opened the case; the case it opens."""
    proc = cp.procedure
    if event.kind != "started":
        raise _Refuted(f"the log begins with a {_name(event.kind)} event, not 'started'")
    start = cp.start
    if event.target != start.to:
        raise _Refuted(f"{proc.id} opens in {start.to!r}, not {_name(event.target)}")
    actor = _actor(event, actors)
    _role(cp, event)
    _stored(cp, event.changes)
    # What the caller gave, as the start's data validation gives it: the values that
    # differ from the defaults, and None for a default the caller cleared.
    changes: dict[str, Any] = {}
    for name, value in event.changes.items():
        if value is None:
            raise _Refuted(f"field {name!r} is recorded as set to nothing; a start records values")
        if not _accepted(start, name) and cp.defaults.get(name) != value:
            raise _Refuted(f"invalid_data: 'start' does not accept field {name!r}")
        if cp.defaults.get(name) != value:
            changes[name] = value
    for name in cp.defaults:
        if name not in event.changes:
            if not _accepted(start, name):
                raise _Refuted(f"field {name!r} lost its default value at the start")
            changes[name] = None  # the caller cleared it
    parent = None
    if PARENT in event.detail:
        try:
            parent = parent_of(event.detail[PARENT])
        except ValueError as exc:
            raise _Refuted(f"detail.parent: {exc}") from None
    try:
        decided = decide(
            cp,
            None,
            (start,),
            changes,
            at=event.at,
            actor=actor,
            case_id=event.case_id,
            parent=parent,
        )
    except Rejected as exc:
        raise _rule(exc) from None
    assert decided is not None  # a person's step is taken or rejected
    expected, case = stamped(calendars, cp, None, decided.event)
    if expected.__dict__ != event.__dict__:
        raise _mismatch(event, expected, "the 'started' event the procedure writes")
    return case


def check_fired(
    calendars: Calendars, cp: CompiledProcedure, case: Case, event: Event, actors: _Actors
) -> Case:
    """Layer 2 for a person's step on an open case, in the order ``fire`` checks; the
    case after it (computed in ``calendars``, viewed as of the event's publications)."""
    proc = cp.procedure
    kind, trigger, state = event.kind, event.trigger, case.state
    if kind == "started":
        raise _Refuted("a second 'started' event: a case is opened once")
    if state in cp.finals:
        raise _Refuted(
            f"final_state: the case is closed ({state!r}); nothing follows a final state"
        )
    branches = cp.table.get((trigger, state))
    if branches is None:
        if trigger not in proc.transitions:
            raise _Refuted(f"unknown_trigger: {proc.id} has no trigger {_name(trigger)}")
        allowed = ", ".join(repr(s) for s in cp.sources.get(trigger, ()))
        raise _Refuted(
            f"not_in_state: {trigger!r} can only be taken from {allowed}; the case is in {state!r}"
        )
    if event.source != state:
        raise _Refuted(f"it says the case was in {_name(event.source)}; it was in {state!r}")
    actor = _actor(event, actors)
    _role(cp, event)
    if not any(event.role in s.roles for s in branches):
        # As fire: the roles before the data, so the problem is the one fire would name.
        roles = sorted(
            {r for s in branches for r in s.roles}, key=lambda r: (cp.ranks.get(r, 0), r)
        )
        raise _Refuted(f"forbidden: {trigger!r} needs one of the roles {', '.join(roles)}")
    changes = event.changes
    _stored(cp, changes)
    data = case.data
    for name, value in changes.items():
        if value == data.get(name):
            raise _Refuted(f"field {name!r} is recorded as changed but keeps its value")
    # A field a branch of the trigger counts is the engine's to set: no caller gives it
    # (fire refuses it), so its logged value is the count, checked with the whole event.
    counted = {n for s in branches for n in s.counts}
    # Which cleared values the caller gave (they count for the guards) and which the
    # branch's `clear` made (they do not): a None for a field no branch clears was given.
    given = {
        n: v
        for n, v in changes.items()
        if n not in counted and (v is not None or not any(n in s.clear for s in branches))
    }
    # A value a branch clears that the log leaves as it was, the caller gave again.
    named = {*given, *(n for s in branches for n in s.clear if n not in changes)}
    again = True

    def claims(branch: CompiledBranch) -> None:
        """What the log claims of the branch, checked as soon as it is chosen."""
        if again and any(
            v is None and n not in branch.clear
            for n, v in changes.items()
            if n not in given and n not in counted
        ):
            raise _Again(branch)  # a None this branch does not clear was given after all
        for name in given:
            if not any(_accepted(s, name) for s in branches):
                raise _Refuted(f"invalid_data: {trigger!r} does not accept field {name!r}")
        for name in branch.clear:
            if name not in changes and data.get(name) is not None and not _accepted(branch, name):
                raise _Refuted(f"{trigger!r} clears field {name!r}, but the event does not")
        if event.target != branch.to:
            raise _Refuted(
                f"{trigger!r} from {state!r} goes to {branch.to!r}, not {_name(event.target)}"
            )

    # Then the step is decided as fire decides it, from what the caller gave.
    try:
        try:
            decided = decide(
                cp, case, branches, given, at=event.at, actor=actor, given=named, claims=claims
            )
        except _Again as first:
            # Decide again with that None counted as given (as fire would have seen it).
            given = {
                n: v
                for n, v in changes.items()
                if n not in counted and (v is not None or n not in first.branch.clear)
            }
            named = {*given, *(n for s in branches for n in s.clear if n not in changes)}
            again = False
            decided = decide(
                cp, case, branches, given, at=event.at, actor=actor, given=named, claims=claims
            )
    except Rejected as exc:
        raise _rule(exc) from None
    assert decided is not None  # a person's step is taken or rejected
    expected, after = stamped(calendars, cp, case, decided.event)
    if expected.__dict__ != event.__dict__:
        raise _mismatch(event, expected, f"the {trigger!r} event the procedure writes")
    return after


def _not_due(event: Event, expected: Event) -> _Refuted:
    """The logged event is not the one the clock writes at this point."""
    if event.kind in PERSON_KINDS:
        return _Refuted(
            f"{expected.time_limit!r} fell due at {expected.at.isoformat()} before it, but "
            f"the log lacks the {expected.kind!r} event (seq {expected.seq}) that records it"
        )
    return _mismatch(event, expected, f"the {expected.kind!r} event the time limits write here")


def _unappliable(exc: Exception) -> str:
    """Why the engine could not have applied an event, from the error applying it raised."""
    if isinstance(exc, Rejected):
        return f"{exc.reason}: {exc.message}"
    if isinstance(exc, OverflowError):
        return "a time the event implies is out of range (the engine could not have written it)"
    # CalendarError and EvaluationError messages name calendars, dates and expressions.
    return f"the engine could not have applied it: {exc}"


# -- the log ---------------------------------------------------------------------------


class _Run:
    """One pass over a log; ``problems`` is None to stop at the first problem."""

    def __init__(
        self, pinned: Pinned, calendars: Calendars, problems: list[ReplayError] | None
    ) -> None:
        self.pinned = pinned
        self.calendars = calendars
        self.problems = problems
        self.case: Case | None = None
        self.verified = 0
        self.count = 0
        self.case_id: str | None = None
        self.actors: _Actors = {}
        # The pass's progress, kept between calls of `feed` (see `Replayer`).
        self.envelope = _Envelope()
        self.cp: CompiledProcedure | None = None
        self.current: Case | None = None  # the case as the events so far built it
        self.good = True  # no problem yet: the rules are still being checked
        # The clock's events of one moment come as a batch: `advance` builds the case
        # after all of them, so those that matched so far (`pending`) are applied one by
        # one only if the report needs the case in the middle of a batch.
        self.batch: list[Event] = []  # the clock's events still expected, in order
        self.batch_case: Case | None = None  # the case once the whole batch is applied
        self.pending: list[Event] = []
        self.position = -1

    def refuted(self, seq: int | None, problem: str) -> None:
        error = ReplayError(problem, seq=seq, case_id=self.case_id)
        if self.problems is None:
            raise error
        self.problems.append(error)

    def run(self, events: Iterable[object]) -> None:
        self.feed(events)
        self.finish()

    def feed(self, events: Iterable[object]) -> None:
        """Check and apply more events of the log; may be called again with the next ones."""
        envelope = self.envelope
        for raw in events:
            self.position += 1
            position = self.position
            seq = _seq_of(raw)
            try:
                event = _as_event(raw)
                seq = event.seq
                if position == 0:
                    self.case_id = event.case_id
                envelope.check(event, position)
            except _Refuted as exc:
                if self.good:
                    self._settle(self.cp, self.pending)
                self.refuted(seq, exc.problem)
                self.good = False
                continue
            if not self.good:
                continue
            cp, case = self.cp, self.current
            try:
                if cp is None:
                    cp = self.cp = self.pinned(
                        event.procedure,
                        event.procedure_version,
                        event.digest,
                        f"the log of {event.case_id}",
                    )
                    case = check_started(self.view(event), cp, event, self.actors)
                elif self.batch:
                    expected = self.batch.pop(0)
                    if event.__dict__ != expected.__dict__:
                        assert case is not None
                        self.batch, self.batch_case = self._again(
                            cp, case, self.pending, event, expected
                        )
                    self.pending.append(event)
                    if not self.batch:
                        case, self.pending = self.batch_case, []
                else:
                    assert case is not None
                    case, self.batch, self.batch_case = self._step(cp, case, event)
                    if self.batch:
                        self.pending = [event]
            except _Refuted as exc:
                self._settle(cp, self.pending)
                self.refuted(event.seq, exc.problem)
                self.good = False
                continue
            except (Rejected, CalendarError, EvaluationError, OverflowError) as exc:
                # Applying the event (its clocks) failed where fire would have refused it.
                self._settle(cp, self.pending)
                self.refuted(event.seq, _unappliable(exc))
                self.good = False
                continue
            self.current = case
            if not self.pending:
                self.verified = position + 1
                self.case = case

    def finish(self) -> None:
        """The end of the log: a batch cut off, or no event at all, is a problem."""
        self.count = self.position + 1
        batch = self.batch
        if self.good and batch:
            self._settle(self.cp, self.pending)
            # The log stops in the middle of what the clock did at one moment: a host
            # stores an outcome's events together, so the rest was cut off.
            assert self.case is not None
            self.refuted(
                None,
                f"the log ends after seq {self.case.version}, in the middle of what fell due at "
                f"{batch[0].at.isoformat()} (the {batch[0].kind!r} event seq {batch[0].seq} "
                "is missing: truncated?)",
            )
        if self.count == 0:
            self.refuted(None, "an empty log holds no case")

    def view(self, event: Event) -> Calendars:
        """The engine's calendars as they were published for the event's host."""
        recorded = event.detail.get(PUBLICATIONS)
        if recorded is None:
            return self.calendars
        problem = publication_problem(self.calendars, recorded)
        if problem is not None:
            raise _Refuted(problem)
        assert isinstance(recorded, Mapping)
        return viewed(self.calendars, recorded)

    def _again(
        self, cp: CompiledProcedure, case: Case, pending: list[Event], event: Event, expected: Event
    ) -> tuple[list[Event], Case | None]:
        """The rest of a batch, derived again once a later event names its publications.

        One host wrote the whole batch, but its first events may record none (they
        counted nothing past the published end) and a later one its publication: the
        batch is then derived again, from its start, in the calendars that one records.
        Those that recorded none come out the same in them (they looked at nothing past
        its end), so the log still has to match the derivation event for event.
        """
        recorded = event.detail.get(PUBLICATIONS)
        first = pending[0].detail.get(PUBLICATIONS) if pending else None
        if not pending or recorded is None or recorded == first:
            raise _not_due(event, expected)
        view = self.view(event)
        outcome = _advanced(view, cp, case, pending[0].at)
        produced = list(outcome.events)
        done = len(pending)
        for logged, derived in zip([*pending, event], produced, strict=False):
            if logged.__dict__ != derived.__dict__:
                raise _not_due(logged, derived)
        if len(produced) <= done:
            raise _not_due(event, expected)
        rest = produced[done + 1 :]
        return rest, outcome.case

    def _settle(self, cp: CompiledProcedure | None, pending: list[Event]) -> None:
        """The case after the events of an unfinished batch that did verify."""
        case = self.case
        if cp is None or case is None:
            return
        for event in pending:
            case = apply_event(self.calendars, cp, case, event)
        self.case = case
        self.verified += len(pending)

    def _step(
        self, cp: CompiledProcedure, case: Case, event: Event
    ) -> tuple[Case, list[Event], Case | None]:
        """Check one event after the first; returns the case and the clock's batch.

        The clock is run exactly as live processing runs it: before a person's step as
        ``fire`` does (when the case's ``next_due`` has come), and for the clock's own
        events by ``Engine.advance`` itself, so that whatever ``advance`` writes (new
        kinds of events included) is what the log must hold.
        """
        at = event.at
        person = event.kind in PERSON_KINDS
        # In the calendars the event's host had: its re-plans and its clock too.
        calendars = self.view(event)
        if (
            not person
            or (case.next_due is not None and case.next_due <= at)
            or needs_replan(calendars, case)
        ):
            outcome = _advanced(calendars, cp, case, at)
            if outcome.events:
                produced = list(outcome.events)
                expected = produced.pop(0)
                if event.__dict__ != expected.__dict__:
                    raise _not_due(event, expected)
                if produced:
                    return case, produced, outcome.case
                return outcome.case, [], None
        if not person:
            raise _Refuted(
                f"nothing falls due at {at.isoformat()}: the time limits do not produce "
                f"this {_name(event.kind)} event"
            )
        return check_fired(calendars, cp, case, event, self.actors), [], None


def _advanced(calendars: Calendars, cp: CompiledProcedure, case: Case, at: datetime) -> Outcome:
    """What ``Engine.advance`` answers for a case this replay built, which it trusts."""
    check_time(at)
    return advance(calendars, cp, case, at)


class Replayer:
    """A log replayed as it grows: each :meth:`feed` checks only the events it is given.

    The same pass as :func:`replay_log`, kept open between calls, so that a test that
    checks "replay equals live" after every step costs one step's check per step, not the
    whole log's. Feed whole outcomes (an outcome's events are one batch); the first event
    refuted raises :class:`~servflow.errors.ReplayError` as :func:`replay_log` would.
    """

    def __init__(self, pinned: Pinned, calendars: Calendars) -> None:
        self._run = _Run(pinned, calendars, None)

    def feed(self, events: Iterable[object]) -> Case:
        """The case the log rebuilds once ``events`` are added to what was fed before."""
        self._run.feed(events)
        if self._run.batch:
            self._run.finish()  # raises: the events stop in the middle of a batch
        assert self._run.case is not None, "feed the log from its first event"
        return self._run.case


def replay_log(pinned: Pinned, calendars: Calendars, events: Iterable[object]) -> Case:
    """The case the log rebuilds; :class:`ReplayError` at the first event refuted."""
    run = _Run(pinned, calendars, None)
    run.run(events)
    assert run.case is not None
    return run.case


def verify_log(
    pinned: Pinned, calendars: Calendars, events: Iterable[object], stored: Case | None
) -> ReplayReport:
    """Every problem of the log (see the module's docstring), and the case it proves."""
    problems: list[ReplayError] = []
    run = _Run(pinned, calendars, problems)
    run.run(events)
    if stored is not None and not problems and run.case is not None and run.case != stored:
        mine, theirs = run.case.model_dump(), stored.model_dump()
        names = [n for n in mine if mine[n] != theirs.get(n)]
        if "data" in names:
            fields = sorted(
                n
                for n in {*mine["data"], *theirs["data"]}
                if mine["data"].get(n) != theirs["data"].get(n)
            )
            names[names.index("data")] = f"data ({', '.join(_name(n) for n in fields)})"
        problems.append(
            ReplayError(
                f"the stored case differs from the case its log rebuilds in: {', '.join(names)}",
                seq=None,
                case_id=run.case_id,
            )
        )
    return ReplayReport(
        ok=not problems,
        case=run.case,
        verified=run.verified,
        events=run.count,
        problems=tuple(problems),
    )
