"""The engine: a pure function from (case, event, actor, time) to (case, events, effects).

Theory of operation
-------------------
An :class:`Engine` holds compiled procedures, keyed by id and version, and the calendars
their time limits count in. It owns no storage, no threads and no clock. Every call that
depends on time takes ``at``, a timezone-aware datetime, and uses that one value for the
whole step.

``fire`` checks, in this order, and stops at the first failure with a :class:`Rejected`
carrying a stable reason: the time is aware (else ``ValueError``); the ``expected_version``
matches (``stale_version``); the time is not before the case's last change
(``invalid_data`` on ``at``). Then whatever fell due by that time is applied (as
:meth:`Engine.advance` would), and on the result: the case is not closed
(``final_state``); the trigger exists (``unknown_trigger``) and leaves the current state
(``not_in_state``); the actor holds one of the roles of some branch (``forbidden``); the
event's data fits the fields (``invalid_data``); a branch's guard holds on the merged data
(``guard_failed``; the first branch whose guard holds is taken, a guard that cannot be
evaluated does not hold); the actor holds one of that
branch's roles at the case's escalation level (``forbidden``); one of those roles is within
its authority (``beyond_authority``, naming the roles that could decide); the required
fields have values (``invalid_data``); and the procedure's invariants hold afterwards
(``guard_failed``). Only then is a new case built. Nothing given to the engine is ever
mutated, so a rejection leaves the case exactly as it was.

Where a step is decided: in one function, :func:`servflow.engine.step.decide`, whoever
takes it. ``start`` and ``fire`` check their arguments and the data (above), then call it
for a person; ``advance`` calls it for the clock (:mod:`servflow.engine.due`: the
automatic step a breach asks for, which the procedure authorises and which passes over a
branch that fails a rule); replay calls it for each person's step of a log. The rules it
applies are :mod:`servflow.engine.rules`; the clocks it plans are
:mod:`servflow.engine.timing`. This module holds the procedures and calendars and
answers the calls; it decides nothing itself.

Every accepted step returns one audit :class:`Event` per change; applying those events in
order (:meth:`Engine.replay`) rebuilds the same case, timers included, because live
processing and replay share one function, :func:`servflow.engine.step.apply_event`. Replay
trusts no event: each is first decided again by the same function and time limits
(:mod:`servflow.engine.verify`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from servflow._hints import did_you_mean
from servflow.bounds import FIRST_YEAR, LAST_YEAR
from servflow.calendar_spec import CalendarSpec
from servflow.engine.calendar import ALWAYS, Calendar, build_calendar
from servflow.engine.case import (
    Actor,
    Availability,
    Case,
    CaseParent,
    Event,
    Outcome,
)
from servflow.engine.compiled import CompiledProcedure, compile_procedure
from servflow.engine.due import advance as _advance
from servflow.engine.integrity import check_arguments, check_case
from servflow.engine.integrity import check_time as _check_time
from servflow.engine.links import closing_effects, link_problems, opening_effects, parent_of
from servflow.engine.provisional import needs_replan
from servflow.engine.registry import (
    BUILT_IN_CALENDAR,
    calendar_name_problem,
    calendar_references,
    duplicate_version_message,
    unknown_calendar_message,
)
from servflow.engine.rules import (
    authorise,
    branches_from,
    choose_branch,
    validate_data,
)
from servflow.engine.schedule import Opening, openings_of
from servflow.engine.step import decide, stamped, step_of
from servflow.errors import DefinitionError, Diagnostic, Rejected
from servflow.model import Procedure

if TYPE_CHECKING:
    from servflow.engine.verify import Replayer, ReplayReport

__all__ = ["Checker", "Engine"]


Checker = Callable[[Procedure], Iterable[Diagnostic]]
"""The language's static checks of one procedure: its problems (only errors count)."""


class Engine:
    """Runs cases of the procedures it holds. Pure: see the module's docstring.

    This is the engine on its own, which imports nothing above it: it compiles the
    procedures it is given and applies the rules every set of them must satisfy
    (:mod:`servflow.engine.registry`), but it does not know the language's static checks
    (references, expressions, the graph), which live with the loader. It runs them when it
    is given a ``checker``. :class:`servflow.Engine`, the class to use, is this class with
    the checker supplied and the loading constructors (``from_directory``, ``standard``)
    added; procedures built in Python are checked there as a file would be.
    """

    def __init__(
        self,
        procedures: Iterable[Procedure] = (),
        *,
        calendars: Mapping[str, CalendarSpec | Calendar] | None = None,
        checker: Checker | None = None,
    ) -> None:
        """Compile ``procedures``; raises :class:`DefinitionError` listing every problem.

        ``checker`` returns the static problems of one procedure; without it the
        procedures must come checked (the loader's, whose checks are the same).
        """
        self._versions: dict[tuple[str, int], CompiledProcedure] = {}
        self._latest: dict[str, int] = {}
        self.calendars: dict[str, Calendar] = {BUILT_IN_CALENDAR: ALWAYS}
        for name, spec in (calendars or {}).items():
            if not isinstance(name, str) or not isinstance(spec, CalendarSpec | Calendar):
                raise TypeError("`calendars` maps names (text) to CalendarSpec or Calendar objects")
            if name == BUILT_IN_CALENDAR and spec is ALWAYS:
                continue  # the built-in calendar handed back: nothing to define
            problem = calendar_name_problem(name, ())  # a mapping names each calendar once
            if problem is not None:
                raise DefinitionError(
                    [Diagnostic(name, 0, 0, "error", "duplicate-calendar", problem)]
                )
            self.calendars[name] = (
                spec if isinstance(spec, Calendar) else build_calendar(name, spec)
            )
        problems: list[Diagnostic] = []
        seen: set[tuple[str, int]] = set()  # the loader's rule: a refused one is still there
        for proc in procedures:
            if not isinstance(proc, Procedure):
                raise TypeError(f"expected Procedure objects, not {type(proc).__name__}")
            key = (proc.id, proc.version)
            if key in seen:
                message = duplicate_version_message(proc.id, proc.version, None)
                problems.append(Diagnostic(proc.id, 0, 0, "error", "duplicate-version", message))
                continue
            seen.add(key)
            diags = self._problems_of(proc, checker)
            if diags:
                problems.extend(diags)
                continue
            zone = self.calendars[proc.calendar].zone
            self._versions[key] = compile_procedure(proc, zone=zone)
            self._latest[proc.id] = max(self._latest.get(proc.id, 0), proc.version)
        # Linked cases: each link must fit the latest version of the procedure it opens.
        latest = {pid: self._versions[(pid, v)].procedure for pid, v in self._latest.items()}
        for cp in self._versions.values():
            for _, code, message, _ in link_problems(cp.procedure, latest):
                problems.append(Diagnostic(cp.procedure.id, 0, 0, "error", code, message))
        if problems:
            raise DefinitionError(problems)

    def _problems_of(self, proc: Procedure, checker: Checker | None) -> list[Diagnostic]:
        found = [] if checker is None else [d for d in checker(proc) if d.severity == "error"]
        named = dict.fromkeys(name for _, name in calendar_references(proc))
        for name in named:  # each unknown name once, in the order the procedure names them
            message = unknown_calendar_message(name, self.calendars)
            if message is not None:
                found.append(Diagnostic(proc.id, 0, 0, "error", "unknown-calendar", message))
        return found

    # -- introspection --------------------------------------------------------------------

    def procedure(self, procedure_id: str, version: int | None = None) -> Procedure:
        """The validated model of a procedure (its latest version unless one is named)."""
        return self._compiled(procedure_id, version).procedure

    def procedures(self) -> list[Procedure]:
        """Every procedure version held, sorted by id and version."""
        return [self._versions[k].procedure for k in sorted(self._versions)]

    def _compiled(self, procedure_id: str, version: int | None = None) -> CompiledProcedure:
        """The compiled version (the latest unless one is named): the engine's own lookup."""
        if not isinstance(procedure_id, str):
            raise TypeError(f"a procedure id is text, not {type(procedure_id).__name__}")
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
            raise TypeError(f"a procedure version is an int, not {type(version).__name__}")
        if version is None:
            if procedure_id not in self._latest:
                raise KeyError(
                    f"unknown procedure {procedure_id!r}" + did_you_mean(procedure_id, self._latest)
                )
            version = self._latest[procedure_id]
        try:
            return self._versions[(procedure_id, version)]
        except KeyError:
            shown = version if -(10**9) < version < 10**9 else "of that number"
            raise KeyError(f"procedure {procedure_id!r} has no version {shown}") from None

    def _for_case(self, case: Case) -> CompiledProcedure:
        """The compiled version ``case`` is pinned to, once the case is checked against it."""
        if not isinstance(case, Case):
            raise TypeError(f"expected a Case, not {type(case).__name__}")
        cp = self._pinned(case.procedure, case.procedure_version, case.digest, f"case {case.id}")
        check_case(cp, case, self.calendars)
        return cp

    def _pinned(self, procedure: str, version: int, digest: str, what: str) -> CompiledProcedure:
        """The compiled version a case or log is pinned to, with the very same content."""
        cp = self._compiled(procedure, version)
        if cp.digest != digest:
            message = (
                f"{what} was made with {procedure} v{version} of digest {digest}, but this "
                f"engine holds {cp.digest}: a changed procedure needs a new version number"
            )
            if what.startswith("the log"):
                message += " (or the log's first event was altered)"
            raise DefinitionError(
                [Diagnostic(procedure, 0, 0, "error", "digest-mismatch", message)]
            )
        return cp

    # -- the core -------------------------------------------------------------------------

    def start(
        self,
        procedure_id: str,
        *,
        actor: Actor,
        data: Mapping[str, Any] | None = None,
        at: datetime,
        case_id: str | None = None,
        version: int | None = None,
        parent: CaseParent | Mapping[str, Any] | None = None,
    ) -> Outcome:
        """Open a case. ``case_id`` defaults to a digest of the opening event.

        ``parent`` makes it a linked case: the case that opened it (its id, and the
        trigger to fire on it with which fields when this case closes), recorded in the
        opening event and kept in the case. The desk passes it when a step ``opens`` a case.
        """
        check_arguments(at, actor, data, case_id=case_id)
        linked = None if parent is None else parent_of(parent)
        cp = self._compiled(procedure_id, version)
        changes = validate_data(cp, cp.start, dict(data or {}), cp.defaults)
        if case_id is None:
            case_id = _derived_id(cp.procedure.id, actor.id, at, {**cp.defaults, **changes})
        decided = decide(
            cp, None, (cp.start,), changes, at=at, actor=actor, case_id=case_id, parent=linked
        )
        assert decided is not None  # a person's step is taken or rejected
        event, case = stamped(self.calendars, cp, None, decided.event)
        return Outcome(case=case, events=(event,), effects=decided.effects)

    def fire(
        self,
        case: Case,
        trigger: str,
        *,
        actor: Actor,
        data: Mapping[str, Any] | None = None,
        at: datetime,
        expected_version: int | None = None,
    ) -> Outcome:
        """Fire ``trigger`` on ``case`` for ``actor`` at ``at``; raises :class:`Rejected`."""
        check_arguments(at, actor, data, trigger, expected_version=expected_version)
        cp = self._for_case(case)
        if expected_version is not None and expected_version != case.version:
            raise Rejected(
                "stale_version",
                f"case {case.id} is at version {case.version}, not {expected_version}: reload it",
                expected=expected_version,
                actual=case.version,
            )
        if at < case.updated_at:
            raise Rejected(
                "invalid_data",
                f"event time {at.isoformat()} is before the case's last change "
                f"{case.updated_at.isoformat()}",
                field="at",
            )
        if (case.next_due is not None and case.next_due <= at) or needs_replan(
            self.calendars, case
        ):
            # What fell due before this event happened first: a deadline is never lost
            # because the host's wake-up came late (and a provisional one is re-planned).
            due = self.advance(case, at=at)
            case = due.case
        else:
            due = None
        branches = branches_from(cp, case, trigger)
        allowed = [s for s in branches if actor.roles & s.roles]
        if not allowed:
            # Before the data and the guards: an actor with no part in this step learns
            # nothing about the case's data from the answer.
            roles = sorted(
                {r for s in branches for r in s.roles}, key=lambda r: (cp.ranks.get(r, 0), r)
            )
            raise Rejected(
                "forbidden",
                f"{trigger!r} needs one of the roles {', '.join(roles)}",
                trigger=trigger,
                roles=roles,
                actor=actor.id,
            )
        given = dict(data or {})
        # Data is validated against the first branch whose roles the actor holds; the
        # `accepts` lists of the branches of one trigger normally agree.
        changes = validate_data(cp, allowed[0], given, case.data)
        decided = decide(cp, case, branches, changes, at=at, actor=actor, given=given)
        assert decided is not None  # a person's step is taken or rejected
        event, new_case = stamped(self.calendars, cp, case, decided.event)
        effects = (
            *decided.effects,
            *opening_effects(decided.branch, event, new_case),
            *closing_effects(cp, case, new_case),
        )
        if due is not None:
            return Outcome(
                case=new_case, events=(*due.events, event), effects=(*due.effects, *effects)
            )
        return Outcome(case=new_case, events=(event,), effects=effects)

    def available(self, case: Case, actor: Actor, *, at: datetime) -> tuple[Availability, ...]:
        """Each trigger of the procedure: may ``actor`` fire it now, and if not, why."""
        check_arguments(at, actor)
        cp = self._for_case(case)
        if (case.next_due is not None and case.next_due <= at) or needs_replan(
            self.calendars, case
        ):
            case = self.advance(case, at=at).case  # an escalation due by now changes who may act
        result: list[Availability] = []
        step = step_of(cp, at, actor)
        for trigger in cp.procedure.transitions:
            try:
                branches = branches_from(cp, case, trigger)
                branch = choose_branch(
                    cp, branches, case.data, case.state, trigger, case.escalation_level, step
                )
                authorise(
                    cp,
                    branches,
                    branch,
                    actor,
                    case.data,
                    case.state,
                    trigger,
                    case.escalation_level,
                    step,
                )
            except Rejected as exc:
                result.append(
                    Availability(
                        trigger=trigger, allowed=False, reason=exc.reason, message=exc.message
                    )
                )
                continue
            needs = tuple(n for n in branch.requires if case.data.get(n) is None)
            result.append(Availability(trigger=trigger, allowed=True, to=branch.to, needs=needs))
        return tuple(result)

    def advance(self, case: Case, *, at: datetime) -> Outcome:
        """Apply every warning, breach and automatic step due by ``at``, in time order."""
        # The common call finds nothing due: answer it with as little work as possible (a
        # host may sweep many cases), comparing in UTC, which is also exact around DST.
        # The case itself is checked (see integrity.py) only when something is due: the
        # answer "nothing yet" reads nothing but `next_due`.
        if (
            not isinstance(at, datetime)
            or at.utcoffset() is None
            or not FIRST_YEAR <= at.year <= LAST_YEAR
        ):
            _check_time(at)
        if not isinstance(case, Case):
            raise TypeError(f"expected a Case, not {type(case).__name__}")
        due = case.next_due
        if due is None or due > (at if at.tzinfo is UTC else at.astimezone(UTC)):
            for timer in case.timers.values():
                if timer.provisional:  # inline: this path must stay cheap
                    break
            else:
                # The NamedTuple's own constructor costs twice this (defaults, keywords).
                return tuple.__new__(Outcome, (case, (), ()))
            if not needs_replan(self.calendars, case):
                return Outcome(case)
        _check_time(at)
        return _advance(self.calendars, self._for_case(case), case, at)

    def replay(self, events: Sequence[Event] | Iterable[Event | Mapping[str, Any]]) -> Case:
        """Rebuild a case from its audit log; equal to the case live processing built.

        Every event is checked against the procedure the log is pinned to (see
        :mod:`servflow.engine.verify`); the first one the engine could not have written
        raises :class:`~servflow.errors.ReplayError` with its ``seq``. Events may be given as
        :class:`Event` objects or as the JSON dicts a store keeps.
        """
        from servflow.engine.verify import replay_log

        return replay_log(self._pinned, self.calendars, events)

    def replayer(self) -> Replayer:
        """A :class:`~servflow.engine.verify.Replayer`: replay a log as it grows, checking
        only the new events at each ``feed`` (the case it returns equals ``replay`` of the
        whole log)."""
        from servflow.engine.verify import Replayer

        return Replayer(self._pinned, self.calendars)

    def verify(
        self,
        events: Sequence[Event] | Iterable[Event | Mapping[str, Any]],
        *,
        stored: Case | None = None,
    ) -> ReplayReport:
        """Audit a log: a :class:`ReplayReport` of every problem instead of the first.

        With ``stored``, the case a store holds is also compared with the case the log
        rebuilds.
        """
        from servflow.engine.verify import verify_log

        return verify_log(self._pinned, self.calendars, events, stored)

    # -- schedules --------------------------------------------------------------------------

    def openings(
        self, start: datetime, end: datetime, procedure: str | None = None
    ) -> list[Opening]:
        """The cases the procedures' schedules open in ``[start, end)``, in time order.

        The latest version of each procedure (or of ``procedure`` only) is read. Each
        :class:`Opening` has a stable ``case_id``, so opening it twice is refused by a
        store. Sorted by instant, then procedure id, then schedule order; the openings of
        ``[a, b)`` and ``[b, c)`` together are those of ``[a, c)``. Raises
        :class:`~servflow.errors.CalendarError` for a working-day schedule whose window
        reaches past its calendar's published schedule.
        """
        _check_time(start)
        _check_time(end)
        ids = (
            sorted(self._latest) if procedure is None else [self._compiled(procedure).procedure.id]
        )
        found: list[Opening] = []
        if end <= start:
            return found
        for name in ids:
            proc = self._compiled(name).procedure
            if proc.schedule:
                found.extend(openings_of(proc, self.calendars[proc.calendar], start, end))
        found.sort(key=lambda o: (o.at.astimezone(UTC), o.procedure, o.schedule))
        return found

    def open(self, opening: Opening) -> Outcome:
        """Start the case of a scheduled ``opening``: ``start`` as its actor, at its time."""
        if not isinstance(opening, Opening):
            raise TypeError(f"expected an Opening, not {type(opening).__name__}")
        return self.start(
            opening.procedure,
            actor=opening.actor,
            data=opening.data,
            at=opening.at,
            case_id=opening.case_id,
            version=opening.version,
        )


def _derived_id(procedure: str, actor: str, at: datetime, data: Mapping[str, Any]) -> str:
    blob = json.dumps([procedure, actor, at.isoformat(), data], sort_keys=True, default=str)
    return f"{procedure}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"
