"""The scenario file's model: every key, what it holds, and the rules between keys.

Frozen pydantic models with ``extra="forbid"``, like the procedure language's
(:mod:`servflow.model`): a scenario file is YAML -> plain data (the loader's safe reader)
-> :class:`ScenarioFile` here -> the runnable :class:`~servflow.testing.scenarios.Scenario`.
Each check raises a pydantic error whose type is the diagnostic's code (``bad_time`` ->
``bad-time``) and whose context holds the analyst's message, so that the loader's
converter (:func:`servflow.procedures.load.pydantic_diagnostics`) positions every problem at
``file:line:col``, unknown keys with the name probably meant, all of them at once.

Two things come from the validation context: ``zone``, the scenario's time zone (a time
without a UTC offset is read in it; a local time that a clock change skips or repeats is
refused rather than guessed), and ``actors``, the names a step's ``as`` may take.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from servflow._hints import did_you_mean
from servflow.errors import RejectionReason

__all__ = [
    "EVENT_KINDS",
    "REASONS",
    "TIMER_STATUSES",
    "ActorSpec",
    "EffectPattern",
    "EventPattern",
    "ExpectSpec",
    "FireSpec",
    "RejectionSpec",
    "ScenarioFile",
    "StartSpec",
    "StepSpec",
    "TimeLimitPattern",
    "keys_of",
    "kind",
    "parse_time",
    "zone_of",
]

REASONS: tuple[str, ...] = get_args(RejectionReason)
EventKind = Literal["started", "fired", "auto_fired", "warned", "breached", "breach_step"]
EVENT_KINDS: tuple[str, ...] = get_args(EventKind)
TimerStatus = Literal["running", "paused", "stopped", "not_started"]
TIMER_STATUSES: tuple[str, ...] = get_args(TimerStatus)

_TIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?$"
)
_TIME_HELP = "write e.g. 2026-11-23 09:00, or 2026-11-23T09:00+08:00 with an offset"


def kind(value: Any) -> str:
    """A value as the analyst would name it in a message."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def parse_time(text: str, zone: tzinfo | None) -> datetime:
    """A scenario time: ``2026-11-23 09:00`` read in ``zone``, or a time with its offset.

    Raises ``ValueError`` with a message fit for the analyst: a malformed time, a time
    without offset and no zone, a local time that a clock change skips or repeats, or a
    time that Python's datetime cannot hold once converted to UTC (the engine works in
    UTC, so ``0001-01-01 00:00`` in Shanghai, which is year 0 in UTC, cannot be a time).
    """
    moment = _parse_time(text, zone)
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"bad time {text!r}: outside the years 1 to 9999 (in UTC) that a time can hold"
        ) from None
    return moment


def _parse_time(text: str, zone: tzinfo | None) -> datetime:
    if not _TIME_RE.match(text.strip()):
        raise ValueError(f"bad time {text!r}: {_TIME_HELP}")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"bad time {text!r}: no such date or time of day") from None
    if moment.tzinfo is not None:
        return moment
    if zone is None:
        raise ValueError(
            f"time {text!r} has no UTC offset and the scenario sets no `timezone`; "
            "add `timezone: Asia/Shanghai` (say) or write the offset"
        )
    first, second = moment.replace(tzinfo=zone, fold=0), moment.replace(tzinfo=zone, fold=1)
    try:
        back = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    except OverflowError:
        return first  # out of range in UTC: parse_time says so
    if back != moment:
        raise ValueError(f"local time {text!r} does not exist in {zone} (clock change)")
    if first.utcoffset() != second.utcoffset():
        raise ValueError(
            f"local time {text!r} happens twice in {zone} (clock change): write the offset"
        )
    return first


def zone_of(name: object) -> tzinfo | None:
    """The IANA zone ``name`` names, or None."""
    if not isinstance(name, str) or not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


# -- errors ---------------------------------------------------------------------------------


def problem(
    code: str, message: str, *, whole: bool = False, key: bool = False, sep: str = " "
) -> PydanticCustomError:
    """A pydantic error carrying a diagnostic: ``code`` (with dashes) and the message.

    The message follows the name of its place (`` `at` must be a time``, joined by ``sep``)
    unless it is ``whole`` (it names its subject); ``key``: it is about a key, not its value
    (positioned at the key).
    """
    return PydanticCustomError(
        code.replace("-", "_"),
        "{message}",
        {"message": message, "whole": whole, "key": key, "sep": sep},
    )


def _raise_all(
    title: str, found: Sequence[tuple[tuple[str | int, ...], PydanticCustomError]]
) -> None:
    """Raise every problem found by one rule at once, each at its place under the model."""
    if found:
        raise ValidationError.from_exception_data(
            title, [InitErrorDetails(type=err, loc=loc, input=None) for loc, err in found]
        )


def _context(info: ValidationInfo, name: str) -> Any:
    return (info.context or {}).get(name)


# -- value types ----------------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, str) and value.strip():
        return value
    raise problem("not-text", f"must be a non-empty text, not {kind(value)}")


def _whole(minimum: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and value >= minimum:
            return value
        raise problem("not-a-number", f"must be a whole number >= {minimum}, not {kind(value)}")

    return check


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise problem("not-a-boolean", f"must be true or false, not {kind(value)}")


def _one_of(choices: Sequence[str]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if isinstance(value, str) and value in choices:
            return value
        raise problem(
            "unknown-value",
            f"must be one of {', '.join(choices)}, not {kind(value)}"
            + did_you_mean(value, choices),
        )

    return check


def _time(value: Any, info: ValidationInfo) -> datetime:
    if not isinstance(value, str):
        raise problem("bad-time", f"must be a time ({_TIME_HELP}), not {kind(value)}")
    try:
        return parse_time(value, _context(info, "zone"))
    except ValueError as exc:
        raise problem("bad-time", str(exc), sep=": ") from None


def _nullable_time(value: Any, info: ValidationInfo) -> datetime | None:
    return None if value is None else _time(value, info)


def _percent(value: Any) -> float:
    text = str(value).strip().removesuffix("%") if isinstance(value, str | int | float) else ""
    try:
        number = float(text)
    except ValueError:
        number = -1.0
    if isinstance(value, bool) or not 0 < number <= 100:
        raise problem("bad-percent", f"must be a percentage like 80%, not {kind(value)}")
    return number


def _mapping(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise problem("not-a-mapping", f"must be a mapping of keys to values, not {kind(value)}")


def _list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    raise problem("not-a-list", f"must be a list (write [] for none), not {kind(value)}")


# Absent keys default to None; a key written with null (or a wrong value) is refused, except
# where null means something (`next_due: null`, `due: null`, `start:` left empty).
Text = Annotated[str | None, BeforeValidator(_text)]
WholeFrom0 = Annotated[int | None, BeforeValidator(_whole(0))]
WholeFrom1 = Annotated[int | None, BeforeValidator(_whole(1))]
Flag = Annotated[bool | None, BeforeValidator(_flag)]
Time = Annotated[datetime | None, BeforeValidator(_time)]
NullableTime = Annotated[datetime | None, BeforeValidator(_nullable_time)]
Percent = Annotated[float | None, BeforeValidator(_percent)]
Data = Annotated[dict[str, Any] | None, BeforeValidator(_mapping)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _a_mapping(cls, value: Any) -> Any:
        return _mapping(value)


def keys_of(model: type[BaseModel]) -> tuple[str, ...]:
    """The keys a model takes, as written in the file, in the model's order."""
    return tuple(f.alias or name for name, f in model.model_fields.items())


# -- expectations ---------------------------------------------------------------------------


class EventPattern(_Model):
    """An audit event expected after a step; only the keys written are compared."""

    kind: Annotated[EventKind | None, BeforeValidator(_one_of(EVENT_KINDS))] = None
    trigger: Text = None
    time_limit: Text = None
    from_: Text = Field(None, alias="from")
    to: Text = None
    by: Text = Field(None, description="the actor; `servflow` for what time did")
    role: Text = None
    at: Time = None
    changes: Data = Field(None, description="field -> value, partial")
    percent: Percent = Field(None, description="of a warning: 80%")
    escalation_level: WholeFrom0 = None
    cycle: WholeFrom0 = None


class EffectPattern(_Model):
    """An effect expected after a step: a notice (``notify``) or a form (``record``)."""

    notify: Text = None
    record: Text = None
    template: Text = None
    trigger: Text = None
    time_limit: Text = None
    at: Time = None
    breach: Flag = None
    warning: Percent = None

    @model_validator(mode="after")
    def _notify_or_record(self) -> EffectPattern:
        if self.notify is not None and self.record is not None:
            raise problem("bad-effect", "an effect is a `notify` or a `record`, not both", sep=": ")
        return self


def _warnings(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    raise problem("not-a-list", f"must be a list like [50%, 80%], not {kind(value)}")


class TimeLimitPattern(_Model):
    """A time limit's clock expected after a step."""

    status: Annotated[TimerStatus | None, BeforeValidator(_one_of(TIMER_STATUSES))] = None
    breached: Flag = None
    breached_at: NullableTime = None
    due: NullableTime = Field(None, description="null while paused")
    started_at: Time = None
    cycle: WholeFrom1 = None
    warnings: Annotated[list[Percent] | None, BeforeValidator(_warnings)] = None
    target: Text = None
    calendar: Text = None


class RejectionSpec(_Model):
    """A refusal expected: its reason, a part of its message, and any of its details."""

    reason: Annotated[RejectionReason, BeforeValidator(_one_of(REASONS))]
    message: Text = Field(None, description="a part of the message")
    field: Any = None
    missing: Any = None
    trigger: Any = None
    state: Any = None
    allowed_from: Any = None
    roles: Any = None
    actor: Any = None
    expression: Any = None
    could_decide: Any = None
    invariant: Any = None
    escalation_level: Any = None
    expected: Any = None
    actual: Any = None
    cell: Any = Field(None, description="the row or cell of a table: items[2].amount")


def _rejection(value: Any) -> Any:
    # `rejected: forbidden` is short for `rejected: {reason: forbidden}`.
    return {"reason": value} if isinstance(value, str) else value


def _time_limit_table(value: Any) -> Any:
    # `completion: not_started` is short for `completion: {status: not_started}`.
    table = _mapping(value)
    return {name: {"status": s} if isinstance(s, str) else s for name, s in table.items()}


class ExpectSpec(_Model):
    """What the analyst expects after a step; only the keys written are compared."""

    state: Text = None
    rejected: Annotated[RejectionSpec | None, BeforeValidator(_rejection)] = None
    fields: Data = None
    events: Annotated[list[EventPattern] | None, BeforeValidator(_list)] = None
    events_include: Annotated[list[EventPattern] | None, BeforeValidator(_list)] = None
    effects: Annotated[list[EffectPattern] | None, BeforeValidator(_list)] = None
    effects_include: Annotated[list[EffectPattern] | None, BeforeValidator(_list)] = None
    escalation_level: WholeFrom0 = None
    version: WholeFrom1 = None
    next_due: NullableTime = None
    time_limits: Annotated[
        dict[str, TimeLimitPattern] | None, BeforeValidator(_time_limit_table)
    ] = None


# -- steps ----------------------------------------------------------------------------------

_PARAMS = ("as", "at", "data", "expected_version")


class StartSpec(_Model):
    """``start: {as, at, data}``: who opens the case, when, with what."""

    as_: Any = Field(None, alias="as")
    at: Time = None
    data: Data = None


class FireSpec(_Model):
    """``fire: {trigger, as, at, data, expected_version}``, or ``fire: dispatch``."""

    trigger: Text = None
    as_: Any = Field(None, alias="as")
    at: Time = None
    data: Data = None
    expected_version: WholeFrom1 = None


def _start_body(value: Any) -> Any:
    if value is None or isinstance(value, dict):
        return value
    raise problem(
        "bad-step", f"`start` must be a mapping (as, at, data), not {kind(value)}", whole=True
    )


def _fire_body(value: Any) -> Any:
    if isinstance(value, str):
        return {"trigger": value}
    if isinstance(value, dict):
        return value
    raise problem(
        "bad-step", f"`fire` must be a trigger name or a mapping, not {kind(value)}", whole=True
    )


class StepSpec(_Model):
    """One step: exactly one of ``start``, ``fire``, ``advance``, and what is expected."""

    start: Annotated[StartSpec | None, BeforeValidator(_start_body)] = None
    fire: Annotated[FireSpec | None, BeforeValidator(_fire_body)] = None
    advance: Time = Field(None, description="the time to advance to")
    as_: Any = Field(None, alias="as", description="the actor who acts, one of `actors`")
    at: Time = None
    data: Data = None
    expected_version: WholeFrom1 = None
    note: Text = None
    expect: ExpectSpec | None = None

    @property
    def action(self) -> Literal["start", "fire", "advance"]:
        for name in ("start", "fire", "advance"):
            if name in self.model_fields_set:
                return name
        raise AssertionError("a validated step has an action")

    def given(self, key: str) -> tuple[Any, tuple[str, ...]] | None:
        """``(value, path under the step)`` of ``as``/``at``/``data``/``expected_version``,
        written inside the action's mapping or beside it, or None."""
        attr = "as_" if key == "as" else key
        inner = self.start if self.action == "start" else self.fire
        if inner is not None and attr in inner.model_fields_set:
            return getattr(inner, attr), (self.action, key)
        if attr in self.model_fields_set:
            return getattr(self, attr), (key,)
        return None

    @model_validator(mode="after")
    def _one_action(self, info: ValidationInfo) -> StepSpec:
        actions = [a for a in ("start", "fire", "advance") if a in self.model_fields_set]
        if len(actions) != 1:
            raise problem(
                "step-action",
                "needs exactly one of `start`, `fire` or `advance`"
                + (f", not {' and '.join(actions)}" if actions else ""),
            )
        found: list[tuple[tuple[str | int, ...], PydanticCustomError]] = []
        action = actions[0]
        beside = [k for k in _PARAMS if ("as_" if k == "as" else k) in self.model_fields_set]
        if action == "advance":
            if self.advance is None:
                raise problem("bad-time", f"must be a time ({_TIME_HELP}), not {kind(None)}")
            for key in beside:
                found.append(
                    (
                        (key,),
                        problem(
                            "unknown-key",
                            f"`{key}` has no meaning for an `advance` step",
                            whole=True,
                            key=True,
                        ),
                    )
                )
            _raise_all("StepSpec", found)
            return self
        inner = self.start if action == "start" else self.fire
        inside = inner.model_fields_set if inner is not None else set()
        for key in beside:
            if ("as_" if key == "as" else key) in inside:
                found.append(
                    (
                        (action, key),
                        problem(
                            "duplicate-key",
                            f"`{key}` is given twice: inside `{action}` and beside it",
                            whole=True,
                            key=True,
                        ),
                    )
                )
        if action == "fire" and (self.fire is None or self.fire.trigger is None):
            found.append(
                (
                    (action,),
                    problem("missing-key", "`fire` needs a trigger: `fire: dispatch`", whole=True),
                )
            )
        if action == "start" and "expected_version" in beside:
            found.append(
                (
                    ("expected_version",),
                    problem(
                        "unknown-key",
                        "`expected_version` has no meaning for `start`",
                        whole=True,
                        key=True,
                    ),
                )
            )
        actors: Sequence[str] = _context(info, "actors") or ()
        who = self.given("as")
        if who is None:
            found.append(
                (
                    (),
                    problem(
                        "missing-key",
                        f"needs `as`: the actor who acts ({', '.join(actors) or 'define `actors`'})",
                    ),
                )
            )
        elif who[0] not in actors:
            found.append(
                (
                    who[1],
                    problem(
                        "unknown-actor",
                        f"unknown actor {who[0]!r}" + did_you_mean(who[0], actors),
                        whole=True,
                    ),
                )
            )
        if action == "start" and self.given("at") is None:
            found.append(((), problem("missing-key", "needs `at`: when the case is opened")))
        _raise_all("StepSpec", found)
        return self


# -- the file -------------------------------------------------------------------------------


class ActorSpec(_Model):
    """An actor of the scenario: the roles it holds (not checked against the procedure)."""

    roles: tuple[str, ...]


def _actor_table(value: Any) -> Any:
    table = _mapping(value)
    out: dict[str, Any] = {}
    found: list[tuple[tuple[str | int, ...], PydanticCustomError]] = []
    for name, spec in table.items():
        # `clerk: [repair_reception]` (or one role as text) is short for `{roles: [...]}`.
        body = spec if isinstance(spec, dict) else {"roles": spec}
        roles = body.get("roles", [])
        if isinstance(roles, str):
            roles = [roles]
        if "roles" in body and (
            not isinstance(roles, list) or not all(isinstance(r, str) and r for r in roles)
        ):
            found.append(
                (
                    (name, "roles") if isinstance(spec, dict) else (name,),
                    problem(
                        "bad-roles",
                        f"the roles of actor {name!r} must be a list of role names",
                        whole=True,
                    ),
                )
            )
            continue
        out[name] = {**body, "roles": roles} if "roles" in body else body
    _raise_all("actors", found)
    return out


def _zone_name(value: Any) -> str | None:
    if value is None or zone_of(value) is not None:
        return value  # type: ignore[no-any-return]
    raise problem(
        "unknown-timezone",
        f"unknown time zone {value!r}: write an IANA name such as Asia/Shanghai or Asia/Hong_Kong",
        whole=True,
    )


def _steps(value: Any) -> Any:
    if isinstance(value, list) and value:
        return value
    raise problem("no-steps", "`steps` must be a list of at least one step", whole=True)


class ScenarioFile(_Model):
    """A scenario file: a case's life, written down by an analyst (docs/scenarios.md)."""

    scenario: Annotated[str, BeforeValidator(_text)] = Field(description="the title, one line")
    description: Annotated[str | None, BeforeValidator(lambda v: v if v is None else _text(v))] = (
        None
    )
    procedure: Annotated[str, BeforeValidator(_text)] = Field(
        description="a procedure id, or a path to a procedure file relative to the scenario"
    )
    procedure_version: Annotated[
        int | None, BeforeValidator(lambda v: v if v is None else _whole(1)(v))
    ] = None
    timezone: Annotated[str | None, BeforeValidator(_zone_name)] = Field(
        None, description="an IANA zone; times without an offset are read in it"
    )
    actors: Annotated[dict[str, ActorSpec], BeforeValidator(_actor_table)]
    steps: Annotated[list[StepSpec], BeforeValidator(_steps)]
