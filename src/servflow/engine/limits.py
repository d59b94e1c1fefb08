"""Time limits ready to run, and the typed values of a clock at work.

:func:`compile_limits` turns each :class:`~servflow.model.TimeLimit` of a procedure into a
:class:`CompiledLimit`: its clauses are the model's own (one ``matches`` rule, shared with
the lint and the SOPs), its targets' expressions and durations compiled, its warnings
:class:`Percent` values, its breach actions :class:`CompiledBreachAction` values.

While an event is applied, :mod:`servflow.engine.timing` works on a :class:`Clock`, a
mutable, slotted copy of a :class:`~servflow.engine.case.TimerState` whose values are
typed: what falls due next is a :data:`Due` (a warning, the breach or a breach action),
the warnings given are :class:`Percent` values. The stored timer keeps the forms that cases
saved by earlier releases hold (``next_action`` text such as ``"warn:5000"``, warnings in
hundredths of a percent); :meth:`Clock.of` and :meth:`Clock.stored` convert at that
boundary and nowhere else, so live processing and replay read and write the same form.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from operator import attrgetter
from typing import Any, Literal

from servflow._strict import percent_form_problem
from servflow.engine.case import CycleRecord, TimerState, _every_field, _trusted
from servflow.engine.durations import Duration, parse_duration
from servflow.engine.expr import Expression, compile_expression
from servflow.model import ClauseRule, TimeLimit, TimeLimitTarget

__all__ = [
    "BREACH",
    "PERCENT_PATTERN",
    "ActionDue",
    "BreachDue",
    "Clock",
    "CompiledBreachAction",
    "CompiledLimit",
    "Due",
    "Percent",
    "Target",
    "Until",
    "WarnDue",
    "compile_limits",
    "parse_due",
    "parse_until",
    "until_field",
]


#: What a ``warn_at`` entry looks like (the schema's pattern; the range is checked apart).
PERCENT_PATTERN = r"^\s*(\d{1,2}(?:\.\d+)?)\s*%\s*$"
_PERCENT = re.compile(PERCENT_PATTERN)


@dataclass(frozen=True, slots=True)
class Percent:
    """A share of a time limit's budget, such as the 80% of ``warn_at: ["80%"]``.

    Two percentages are the same warning when they agree to a hundredth of a percent
    (``basis_points``, the form cases and events store); ``value`` is the percentage as
    written, which the clock uses to place the warning.
    """

    basis_points: int
    value: float = field(compare=False)

    @classmethod
    def parse(cls, text: str) -> Percent:
        """``"80%"`` -> 80%: the one rule for ``warn_at`` (the static checks call it too).

        ValueError for anything but a percentage strictly between 0% and 100%, written
        in digits with at most two decimals and ``%``.
        """
        problem = percent_form_problem(text)
        if problem is not None:
            raise ValueError(problem)
        match = _PERCENT.fullmatch(text)
        value = float(match.group(1)) if match else 0.0
        if not 0 < value < 100:
            raise ValueError(
                f"warning {text!r} must be a percentage strictly between 0% and 100%, e.g. 80%"
            )
        return cls(round(value * 100), value)

    @classmethod
    def stored(cls, basis_points: int) -> Percent:
        """A percentage as a case or an event stores it (hundredths of a percent)."""
        return cls(basis_points, basis_points / 100)


@dataclass(frozen=True, slots=True)
class WarnDue:
    """A warning falls due next."""

    percent: Percent


@dataclass(frozen=True, slots=True)
class BreachDue:
    """The breach falls due next."""


@dataclass(frozen=True, slots=True)
class ActionDue:
    """A delayed breach action (``after``) falls due next: ``on_breach[index]``."""

    index: int


#: What a running clock has due next.
Due = WarnDue | BreachDue | ActionDue
BREACH = BreachDue()

# The stored text of a Due, as cases saved by every release hold it.
_DUE_TEXT = re.compile(r"(warn|step):([0-9]{1,9})", re.ASCII)
DUE_TEXT_PROBLEM = "next_action is none of breach, warn:<percent>, step:<n>"


def parse_due(text: str | None) -> Due | None:
    """The :data:`Due` a stored ``next_action`` names; ValueError if it names none."""
    if text is None:
        return None
    known = _DUES.get(text)
    if known is not None:
        return known
    if text == "breach":
        return BREACH
    match = _DUE_TEXT.fullmatch(text)
    if match is None:
        raise ValueError(DUE_TEXT_PROBLEM)
    number = int(match.group(2))
    due = WarnDue(Percent.stored(number)) if match.group(1) == "warn" else ActionDue(number)
    if len(_DUES) < 4096:  # a procedure has a handful; the bound keeps odd input out
        _DUES[text] = due
    return due


# Parsed dues by their stored text: parsing runs for every timer an event touches.
_DUES: dict[str, Due] = {}


def due_text(due: Due | None) -> str | None:
    """The stored form of ``due`` (``"warn:5000"``, ``"breach"``, ``"step:1"``)."""
    if due is None:
        return None
    if isinstance(due, WarnDue):
        return f"warn:{due.percent.basis_points}"
    if isinstance(due, ActionDue):
        return f"step:{due.index}"
    return "breach"


# `until: field`, `until: field + 2h`, `until: field - 5wd`: a field name, maybe an offset.
_UNTIL = re.compile(r"\s*([a-z][a-z0-9_]{0,62})\s*(?:([+-])\s*(.*?))?\s*", re.ASCII)
_UNTIL_NAME = re.compile(r"\s*([a-z][a-z0-9_]{0,62})\b", re.ASCII)
_UNTIL_EXAMPLES = (
    "write a date field, maybe with an offset: signing_date - 5wd, appointment_at + 2h"
)


@dataclass(frozen=True, slots=True)
class Until:
    """A deadline read from a field: ``field``, moved by ``offset`` (earlier if ``before``).

    The offset is a :class:`Duration` counted in the target's calendar, like every
    duration of the language: ``- 5wd`` is five working days earlier, ``+ 2h`` two hours
    of working time later (round the clock in the calendar ``always``).
    """

    field: str
    offset: Duration | None = None
    before: bool = False


def until_field(text: str) -> str | None:
    """The field an `until` names, even when its offset is written wrong (None: no name)."""
    match = _UNTIL_NAME.match(text)
    return match.group(1) if match else None


def parse_until(text: str) -> Until:
    """``"signing_date - 5wd"`` -> Until("signing_date", 5wd, before=True): the one rule.

    ValueError, with what to write instead, for anything but a field name optionally
    followed by ``+`` or ``-`` and a duration (calendar days are refused as everywhere).
    """
    if not isinstance(text, str):
        raise TypeError(f"`until` is text such as 'reply_due', not {type(text).__name__}")
    shown = text if len(text) <= 80 else text[:77] + "..."
    match = _UNTIL.fullmatch(text)
    if match is None:
        raise ValueError(f"bad `until: {shown}`: {_UNTIL_EXAMPLES}")
    name, sign, offset = match.groups()
    if sign is None:
        return Until(name)
    if not offset:
        raise ValueError(
            f"bad `until: {shown}`: an offset after {sign!r} is missing; {_UNTIL_EXAMPLES}"
        )
    try:
        duration = parse_duration(offset)
    except ValueError as exc:
        raise ValueError(f"bad offset in `until: {shown}`: {exc}") from None
    return Until(name, duration, before=sign == "-")


@dataclass(frozen=True)
class Target:
    """One ``within`` entry, compiled."""

    when: Expression | None
    duration: Duration
    until: str | None
    text: str
    calendar: str | None
    end_of_working_day: bool
    # The offset of an `until` deadline (None: the field's moment itself).
    offset: Duration | None = None
    before: bool = False


@dataclass(frozen=True)
class CompiledBreachAction:
    """One ``on_breach`` action, compiled: ``index`` is its place in the list."""

    index: int
    after: Duration | None
    notify: str | None
    template: str | None
    fire: str | None
    escalate: bool


@dataclass(frozen=True)
class CompiledLimit:
    """A time limit ready to run: its clauses, its targets compiled."""

    name: str
    starts: ClauseRule
    stops: ClauseRule
    pause_in: frozenset[str]
    targets: tuple[Target, ...]
    target_names: frozenset[str]
    warn_at: tuple[Percent, ...]
    warn_notify: tuple[str, ...]
    breach_actions: tuple[CompiledBreachAction, ...]


def compile_limits(limits: Mapping[str, TimeLimit]) -> tuple[CompiledLimit, ...]:
    out: list[CompiledLimit] = []
    for name, limit in limits.items():
        targets = tuple(_target(t) for t in limit.within)
        target_names: set[str] = set()
        for target in targets:
            if target.when is not None:
                target_names |= target.when.names
            if target.until is not None:
                target_names.add(target.until)
        breach_actions = tuple(
            CompiledBreachAction(
                index=i,
                after=parse_duration(a.after) if a.after else None,
                notify=a.notify,
                template=a.template,
                fire=a.fire,
                escalate=a.escalate,
            )
            for i, a in enumerate(limit.on_breach)
        )
        out.append(
            CompiledLimit(
                name=name,
                starts=limit.starts.rule,
                stops=limit.stops.rule,
                pause_in=limit.pauses.states,
                targets=targets,
                target_names=frozenset(target_names),
                warn_at=tuple(
                    sorted((Percent.parse(p) for p in limit.warn_at), key=lambda p: p.value)
                ),
                warn_notify=tuple(limit.warn_notify),
                breach_actions=breach_actions,
            )
        )
    return tuple(out)


def _target(spec: TimeLimitTarget) -> Target:
    until = parse_until(spec.until) if spec.until is not None else None
    return Target(
        when=compile_expression(spec.when) if spec.when else None,
        duration=parse_duration(spec.limit) if spec.limit else Duration(),
        until=until.field if until is not None else None,
        text=spec.limit or f"until {spec.until}",
        calendar=spec.calendar,
        end_of_working_day=spec.end_of_working_day,
        offset=until.offset if until is not None else None,
        before=until.before if until is not None else False,
    )


Status = Literal["running", "paused", "stopped"]


@dataclass(slots=True)
class Clock:
    """A timer while an event is applied: :class:`TimerState`'s fields, typed, mutable.

    The clock's operations change it in place and the timer is rebuilt once at the end of
    an event: copying a frozen model per operation cost more than the arithmetic.
    """

    calendar: str
    within: str
    started_at: datetime
    budget_seconds: int
    cycle: int = 1
    status: Status = "running"
    elapsed_seconds: int = 0
    resumed_at: datetime | None = None
    paused_at: datetime | None = None
    paused_seconds: int = 0
    pauses: tuple[tuple[datetime, datetime], ...] = ()
    stopped_at: datetime | None = None
    due_at: datetime | None = None
    warnings: tuple[Percent, ...] = ()
    breached_at: datetime | None = None
    actions_done: tuple[int, ...] = ()
    fixed: bool = False
    next_at: datetime | None = None
    next_action: Due | None = None
    history: tuple[CycleRecord, ...] = ()
    provisional: bool = False
    published_through: date | None = None

    @classmethod
    def of(cls, timer: TimerState) -> Clock:
        """The working copy of a stored timer (one the engine wrote or checked)."""
        values = list(_read_fields(timer))
        # The two fields stored in another form than the clock holds them, converted
        # before the clock is made: each field holds its declared type from the start.
        if values[_WARNINGS]:
            values[_WARNINGS] = tuple([Percent.stored(k) for k in timer.warnings])
        if values[_NEXT_ACTION] is not None:
            values[_NEXT_ACTION] = parse_due(timer.next_action)
        return cls(*values)

    def stored(self) -> TimerState:
        """The timer as cases store it."""
        # Written out (not a loop over the fields): this runs for every timer an event
        # touches, and a dict display is several times faster. A test holds this list
        # equal to TimerState's fields, so _trusted() has nothing to fill in.
        values: dict[str, Any] = {
            "cycle": self.cycle,
            "status": self.status,
            "calendar": self.calendar,
            "within": self.within,
            "started_at": self.started_at,
            "budget_seconds": self.budget_seconds,
            "elapsed_seconds": self.elapsed_seconds,
            "resumed_at": self.resumed_at,
            "paused_at": self.paused_at,
            "paused_seconds": self.paused_seconds,
            "pauses": self.pauses,
            "stopped_at": self.stopped_at,
            "due_at": self.due_at,
            "warnings": tuple([p.basis_points for p in self.warnings]) if self.warnings else (),
            "breached_at": self.breached_at,
            "actions_done": self.actions_done,
            "fixed": self.fixed,
            "next_at": self.next_at,
            "next_action": due_text(self.next_action),
            "history": self.history,
            "provisional": self.provisional,
            "published_through": self.published_through,
        }
        timer = _new_timer(TimerState)
        object.__setattr__(timer, "__dict__", values)
        object.__setattr__(timer, "__pydantic_fields_set__", _every_field(TimerState))
        object.__setattr__(timer, "__pydantic_extra__", None)
        object.__setattr__(timer, "__pydantic_private__", None)
        return timer

    def record(self, at: datetime) -> CycleRecord:
        """The cycle as its history keeps it once it ends (at ``at`` if still running)."""
        return _trusted(
            CycleRecord,
            {
                "cycle": self.cycle,
                "started_at": self.started_at,
                "ended_at": self.stopped_at or at,
                "due_at": self.due_at,
                "business_seconds": self.elapsed_seconds,
                "breached_at": self.breached_at,
                "met": self.breached_at is None,
            },
        )


# Clock's fields are TimerState's (in Clock's order): one C-level attrgetter reads them
# (a comprehension of getattr cost more than the rest of the conversion).
_FIELDS = tuple(f.name for f in fields(Clock))
assert set(_FIELDS) == set(TimerState.model_fields), "Clock must carry every stored field"
_new_timer = TimerState.__new__
_read_fields = attrgetter(*_FIELDS)
_WARNINGS = _FIELDS.index("warnings")
_NEXT_ACTION = _FIELDS.index("next_action")
