"""The procedure model: what a procedure file means, as frozen, validated objects.

These pydantic models are the middle layer of loading (text -> plain data -> *model* ->
compiled engine). They know nothing of YAML, files or line numbers: the loader in
:mod:`servflow.procedures` maps their validation errors back to positions, and nothing of
the engine, which imports them (the calendar file's models, in :mod:`servflow.calendar_spec`,
sit beside these). Every model is frozen and forbids unknown keys, and every field carries
a description, because the JSON Schema that editors use is generated from them. Examples
are given here where a field has a telling one; :mod:`servflow.procedures.schema` adds one
to every key that has none, so that every key of the schema shows one on hover (both are
tested: ``tests/test_model_docs.py``, ``tests/test_cli_schema.py``).

Cross-references (a transition's target state, a role named in ``roles``) are checked by
:mod:`servflow.procedures.checks`, which sees the whole procedure and reports every
problem at once.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from servflow._strict import TrueOrFalse, WarnAt, WholeNumber, number, whole_number
from servflow.bounds import (
    DECIMAL_INTEGER_DIGITS,
    TEXT_LENGTH,
    VERSION_LIMIT,
    PatternError,
    compile_pattern,
)
from servflow.calendar_spec import CalendarSpec

__all__ = [
    "BREACH_ACTIONS",
    "LANGUAGES",
    "NAME_PATTERN",
    "RESERVED_NAMES",
    "Branch",
    "BreachAction",
    "CalendarSpec",
    "Clause",
    "ClauseRule",
    "EffectSpec",
    "FieldSpec",
    "FieldType",
    "Invariant",
    "Language",
    "LocalizedText",
    "Names",
    "Pause",
    "Procedure",
    "Role",
    "Start",
    "State",
    "TimeLimit",
    "TimeLimitTarget",
    "name_list",
]

Language = Literal["zh-Hant", "zh-Hans", "en"]
LANGUAGES: tuple[Language, ...] = ("zh-Hant", "zh-Hans", "en")
LocalizedText = dict[Language, str]

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
_NAME_RE = re.compile(NAME_PATTERN)

#: Names the expression language gives a meaning of its own; no field may take them.
RESERVED_NAMES = frozenset(
    {
        "state",
        "trigger",
        "escalation_level",
        "none",
        "true",
        "false",
        "and",
        "or",
        "not",
        "in",
        "is",
        "if",
        "else",
        "loop",
        "self",
        "namespace",
        "range",
        "dict",
        "lipsum",
        "cycler",
        "joiner",
    }
)

FieldType = Literal[
    "string", "text", "integer", "decimal", "boolean", "date", "datetime", "choice", "list"
]

# `minimum` and `maximum` are plain floats: bounded so that they compare with any decimal
# a field can hold and print in a message.
_NUMBER_LIMIT = float(10**DECIMAL_INTEGER_DIGITS)

_STRICT = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


Title = Annotated[
    LocalizedText,
    Field(
        description="Localized title: keys zh-Hant, zh-Hans, en.",
        examples=[{"zh-Hant": "已派工", "en": "Dispatched"}],
    ),
]


class Role(BaseModel):
    """A post at the desk that may act on cases."""

    model_config = _STRICT

    title: Title = Field(default_factory=dict)
    rank: WholeNumber = Field(
        default=1,
        ge=0,
        le=100,
        description="Authority rank: higher ranks decide what lower ranks must escalate.",
        examples=[1, 2, 3],
    )
    description: LocalizedText = Field(
        default_factory=dict, description="What the role does, per language."
    )


class _LaterKeys(BaseModel):
    """A mapping with keys added after 0.1, dumped only when the file writes them.

    The content digest is computed from the dump (``servflow.procedures.digest_of``), and
    stored cases name it: a procedure that does not use a newer key keeps its digest.
    """

    #: The keys added after 0.1 that this mapping omits from its dump when unset.
    later_keys: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _omit_unset_later(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for key in self.later_keys:
            # Unset, or set to nothing (`message: ~`, or None in Python): as if absent.
            if key not in self.model_fields_set or data.get(key) is None:
                data.pop(key, None)
        return data


class FieldSpec(_LaterKeys):
    """One item of the case's data, typed and validated on every event."""

    model_config = _STRICT
    later_keys: ClassVar[frozenset[str]] = frozenset({"round"})

    type: FieldType = Field(description="The value's type.", examples=["string", "choice"])
    title: Title = Field(default_factory=dict)
    description: LocalizedText = Field(default_factory=dict, description="Help text per language.")
    pii: TrueOrFalse = Field(
        default=False,
        description="Personal data: never shown in logs, diagrams or error messages.",
        examples=[True],
    )
    default: Any = Field(
        default=None, description="Value a new case starts with.", examples=["normal"]
    )
    choices: list[str] | None = Field(
        default=None,
        description="Allowed values of a `choice` field.",
        examples=[["emergency", "urgent", "normal"]],
    )
    round: str | None = Field(
        default=None,
        pattern=NAME_PATTERN,
        description=(
            "The round of a repeated step this field belongs to: a branch with the same "
            "`round` starts a new one and empties the field before its rules read the data."
        ),
        examples=["loan"],
    )
    pattern: str | None = Field(
        default=None,
        description=(
            "Regular expression (RE2 syntax, at most 1000 characters) a `string` or `text` value must match in full."
        ),
        examples=["^[0-9+ -]{6,20}$"],
    )
    minimum: float | None = Field(
        default=None,
        ge=-_NUMBER_LIMIT,
        le=_NUMBER_LIMIT,
        description="Smallest allowed `integer` or `decimal`.",
        examples=[0],
    )
    maximum: float | None = Field(
        default=None,
        ge=-_NUMBER_LIMIT,
        le=_NUMBER_LIMIT,
        description="Largest allowed `integer` or `decimal`.",
        examples=[100000],
    )
    max_length: int | None = Field(
        default=None,
        ge=1,
        le=TEXT_LENGTH,
        description="Longest allowed `string`/`text` (characters) or `list` (items).",
        examples=[200],
    )
    form: str | None = Field(
        default=None,
        description="The paper record form this field belongs to.",
        examples=["住戶報修記錄表"],
    )

    # Checked before pydantic's lax float and int (see WholeNumber); as validators rather
    # than annotated types so that the JSON Schema keeps its minimum and maximum.
    @field_validator("minimum", "maximum", mode="before")
    @classmethod
    def _bound_is_a_number(cls, value: Any) -> Any:
        return None if value is None else number(value)

    @field_validator("max_length", mode="before")
    @classmethod
    def _max_length_is_whole(cls, value: Any) -> Any:
        return None if value is None else whole_number(value)

    @field_validator("maximum")
    @classmethod
    def _maximum_not_below_minimum(cls, value: float | None, info: ValidationInfo) -> float | None:
        low = info.data.get("minimum")
        if value is not None and low is not None and value < low:
            raise PydanticCustomError(
                "invalid_value",
                "{message}",
                {"message": f"maximum {value:g} is below the minimum {low:g}", "key": True},
            )
        return value

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compile_pattern(value)
            except PatternError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _choices_match_type(self) -> FieldSpec:
        if self.type == "choice" and not self.choices:
            raise ValueError("a `choice` field needs a non-empty `choices` list")
        if self.type != "choice" and self.choices is not None:
            raise ValueError(f"`choices` is only for `choice` fields, not {self.type!r}")
        if self.pattern is not None and self.type not in ("string", "text"):
            raise ValueError(f"`pattern` is only for string fields, not {self.type!r}")
        if (self.minimum is not None or self.maximum is not None) and self.type not in (
            "integer",
            "decimal",
        ):
            raise ValueError(f"`minimum`/`maximum` are only for numbers, not {self.type!r}")
        return self


class State(BaseModel):
    """A state a case can be in."""

    model_config = _STRICT

    title: Title = Field(default_factory=dict)
    description: LocalizedText = Field(default_factory=dict, description="Help text per language.")
    final: TrueOrFalse = Field(
        default=False, description="A final state closes the case; nothing leaves it."
    )


# The specification as the file writes it; the engine turns each into a servflow.Effect,
# the instruction the host is handed, when the step is taken.
class EffectSpec(BaseModel):
    """What a step asks the host to do: notify a role, file a record."""

    model_config = _STRICT

    notify: _Given = Field(
        default=None,
        description="Role to notify (a role id of this procedure).",
        examples=["maintenance"],
    )
    template: _Given = Field(
        default=None,
        description="Name of the message or document template the host renders.",
        examples=["work_order"],
    )
    record: str | None = Field(
        default=None,
        description="A record form to file for this step.",
        examples=["住戶報修記錄表"],
    )

    @model_validator(mode="after")
    def _has_action(self) -> EffectSpec:
        if self.notify is None and self.record is None:
            raise ValueError("an effect needs `notify` or `record`")
        return self


_Names = Annotated[list[str], Field(description="Names defined elsewhere in the procedure.")]


def _message_field() -> Any:
    return Field(
        default=None,
        description=(
            "What a person is told, in each language, when this condition does not hold: "
            "shown in place of the expression by Rejected.message and the SOP."
        ),
        examples=[
            {
                "zh-Hant": "只有指定的回訪人員可以回訪",
                "zh-Hans": "只有指定的回访人员可以回访",
                "en": "Only the designated callback officer may call back",
            }
        ],
    )


class _BranchSpec(_LaterKeys):
    """What a transition's branch and `start` (the branch that opens a case) share."""

    model_config = _STRICT
    later_keys: ClassVar[frozenset[str]] = frozenset(
        {"assignee", "message", "deescalates", "round"}
    )

    to: str = Field(description="The state the case enters.", examples=["dispatched"])
    roles: _Names = Field(
        description="Roles allowed to take this step (deny by default).",
        examples=[["repair_reception"]],
    )
    requires: list[str] = Field(
        default_factory=list,
        description="Fields that must have a value after the event's data is merged.",
        examples=[["technician"]],
    )
    accepts: list[str] | None = Field(
        default=None,
        description="Fields the event may set; omitted means every field of the procedure.",
        examples=[["technician", "priority"]],
    )
    clear: list[str] = Field(
        default_factory=list,
        description="Fields reset to empty when the step is taken.",
        examples=[["completed_at"]],
    )
    when: str | None = Field(
        default=None,
        description="Guard: an expression of the closed expression language (docs/language.md) over the case's fields that must be true.",
        examples=["priority != 'emergency' or technician_on_call"],
    )
    authority: dict[str, str] = Field(
        default_factory=dict,
        description="Per-role limits: the expression must hold for that role to decide.",
        examples=[{"cs_staff": "compensation <= 500"}],
    )
    effects: list[EffectSpec] = Field(default_factory=list, description="What the host must do.")
    title: Title = Field(default_factory=dict)
    escalates: TrueOrFalse = Field(
        default=False,
        description="Taking this step raises the case's escalation level by one.",
    )
    follows_escalation: TrueOrFalse = Field(
        default=False,
        description=(
            "Only roles at or above the rank of the case's current escalation level may take it."
        ),
    )
    assignee: str | None = Field(
        default=None,
        description=(
            "A text field naming the one person who may take this step: the actor's id must "
            "equal the field's value (besides holding one of `roles`)."
        ),
        examples=["callback_officer"],
    )
    message: LocalizedText | None = _message_field()
    deescalates: TrueOrFalse | str | None = Field(
        default=None,
        description=(
            "Taking this step brings the case's escalation level down once the matter is "
            "handled: `true` back to the first rung of `escalation`, or a role of "
            "`escalation` to go back to that rung (never up)."
        ),
        examples=[True, "cs_supervisor"],
    )
    round: str | None = Field(
        default=None,
        description=(
            "Taking this step starts a new round: the fields of that `round` are emptied "
            "(unless the event gives them) before its condition, roles and `requires` read "
            "the data, so an older round's values never count."
        ),
        examples=["loan"],
    )

    @field_validator("roles")
    @classmethod
    def _roles_not_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("list at least one role: steps are denied by default")
        return value


class Start(_BranchSpec):
    """How a case is opened: the first state, who may open it, what it needs."""


class Branch(_BranchSpec):
    """One way a trigger moves a case. A trigger may have several, tried in order."""

    source: list[str] = Field(
        alias="from",
        description="The state (or list of states) the step leaves.",
        examples=[["recorded"]],
    )

    @field_validator("source", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Invariant(_LaterKeys):
    """A rule that must hold after every event."""

    model_config = _STRICT
    later_keys: ClassVar[frozenset[str]] = frozenset({"message"})

    name: str = Field(description="Short name shown when the rule is broken.")
    check: str = Field(
        description="An expression of the closed expression language (docs/language.md) that must be true.",
        examples=["state != 'closed' or satisfied is not none"],
    )
    message: LocalizedText | None = _message_field()


class TimeLimitTarget(BaseModel):
    """One candidate target of a time limit; the first whose `when` holds applies."""

    model_config = _STRICT

    when: str | None = Field(default=None, description="Condition on the case's fields.")
    limit: str | None = Field(
        default=None, description="Duration: 30m, 4h, 2wd, PT30M.", examples=["15m", "2wd"]
    )
    until: str | None = Field(
        default=None,
        description=(
            "A date or datetime field holding the deadline itself (a promised reply date);"
            " a date means the close of business that day. Skipped while the field is empty."
        ),
        examples=["reply_due"],
    )
    calendar: str | None = Field(
        default=None, description="Calendar to count in; default: the procedure's."
    )
    end_of_working_day: TrueOrFalse = Field(
        default=False, description="For working-day limits: due at the end of the last day."
    )

    @model_validator(mode="after")
    def _limit_or_until(self) -> TimeLimitTarget:
        if (self.limit is None) == (self.until is None):
            raise ValueError("a target needs either `limit` (a duration) or `until` (a field)")
        return self


# -- time limits: the clauses that start, stop and pause a clock, and breach actions ----

# The clauses are closed mappings: an unknown key is reported with the keys that exist.
_CLAUSE = ConfigDict(frozen=True, extra="forbid")


def _one_or_many(value: Any) -> str | list[str]:
    """A clause's value as written: one name, or a list of names."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    shown = f" (got {value!r})" if isinstance(value, int | float | bool) else ""
    raise PydanticCustomError(
        "wrong_type", "{message}", {"message": f"write a name or a list of names{shown}"}
    )


#: One name or a list of names, kept as written (so a procedure's digest is the same
#: whichever way the model reads it).
Names = Annotated[
    str | list[str], PlainValidator(_one_or_many, json_schema_input_type=str | list[str])
]


def name_list(value: str | list[str]) -> list[str]:
    """The names of a :data:`Names` value, one or many, as a list."""
    return [value] if isinstance(value, str) else list(value)


def _as_set(value: str | list[str]) -> frozenset[str]:
    return frozenset((value,) if isinstance(value, str) else value)


class _AsWritten(BaseModel):
    """A closed mapping that dumps only the keys the file wrote (the digest's input)."""

    model_config = _CLAUSE

    #: Unknown keys are reported with the list of the keys that exist here.
    list_keys_in_errors: ClassVar[bool] = True

    @model_serializer(mode="wrap")
    def _as_written(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        written = set()
        for name in self.model_fields_set:
            written.add(name)
            alias = type(self).model_fields[name].alias
            if alias is not None:
                written.add(alias)
        return {k: v for k, v in data.items() if k in written}


@dataclass(frozen=True, slots=True)
class ClauseRule:
    """A clause's names as sets, and the one rule by which a step matches it.

    The engine's clocks, and the coverage that the lint, the diagrams and the SOPs show,
    all match through :meth:`matches`.
    """

    entered: frozenset[str]
    left: frozenset[str]
    events: frozenset[str]

    def matches(self, trigger: str, source: str | None, target: str) -> bool:
        """Entering or leaving counts only on a move; a trigger, moving or not."""
        moved = source != target
        return (
            moved and (target in self.entered or (source is not None and source in self.left))
        ) or trigger in self.events


class Clause(_AsWritten):
    """What starts (or stops) a clock: entering or leaving states, or triggers.

    Entering or leaving counts only when a step moves the case (a self-loop enters and
    leaves nothing); a trigger counts whether the case moves or not.
    """

    entered: Names = Field(
        default_factory=list,
        description="Matches when the case enters this state (or one of these).",
        examples=["recorded", ["dispatched", "cancelled"]],
    )
    left: Names = Field(
        default_factory=list,
        description="Matches when the case leaves this state (or one of these).",
        examples=["recorded", ["waiting", "on_hold"]],
    )
    event: Names = Field(
        default_factory=list,
        description="Matches when this trigger (or one of these; `start` opens a case) happens.",
        examples=["callback", ["reply", "promise_reply"]],
    )

    _rule: ClauseRule = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        self._rule = ClauseRule(_as_set(self.entered), _as_set(self.left), _as_set(self.event))

    @property
    def rule(self) -> ClauseRule:
        """The clause as sets of names, for callers that match many steps (the engine)."""
        return self._rule

    def matches(self, trigger: str, source: str | None, target: str) -> bool:
        """Whether a step (``source`` None for the start of a case) matches the clause."""
        return self._rule.matches(trigger, source, target)

    def written(self) -> list[tuple[Literal["entered", "left", "event"], str | list[str]]]:
        """The kinds the file wrote, each with its value as written, in the language's order."""
        return [
            (kind, getattr(self, kind))
            for kind in ("entered", "left", "event")
            if kind in self.model_fields_set
        ]


class Pause(_AsWritten):
    """Where a clock does not run: while the case is in these states."""

    in_: Names = Field(
        default_factory=list,
        alias="in",
        description="The clock does not run while the case is in this state (or one of these).",
        examples=["waiting_for_resident", ["waiting", "on_hold"]],
    )

    _states: frozenset[str] = PrivateAttr(default=frozenset())

    def model_post_init(self, context: Any, /) -> None:
        self._states = _as_set(self.in_)

    @property
    def states(self) -> frozenset[str]:
        """The states in which the clock is paused."""
        return self._states

    def written(self) -> list[tuple[Literal["in"], str | list[str]]]:
        """``[("in", value)]`` when the file wrote the key, else ``[]``."""
        return [("in", self.in_)] if "in_" in self.model_fields_set else []


def _not_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError("wrong_type", "{message}", {"message": "write a value, not null"})
    return value


# Text that may be left out but not written as null: the schema and the loader agree that
# a key that is there has a value.
_Given = Annotated[str | None, BeforeValidator(_not_null), WithJsonSchema({"type": "string"})]

#: The keys of a breach step that make it do something; at least one is needed.
BREACH_ACTIONS = ("notify", "fire", "escalate")


class BreachAction(_AsWritten):
    """One step on breach: notify a role, fire a trigger, escalate; at once or `after`."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        # The schema says what the validator below says: at least one action.
        json_schema_extra={"anyOf": [{"required": [key]} for key in BREACH_ACTIONS]},
    )

    list_keys_in_errors: ClassVar[bool] = False

    notify: _Given = Field(
        default=None,
        description="Role to notify (a role id of this procedure).",
        examples=["cs_supervisor"],
    )
    template: _Given = Field(
        default=None,
        description="Message template of the notification.",
        examples=["repair_overdue"],
    )
    fire: _Given = Field(
        default=None,
        description="Trigger the system fires automatically (a transition of this procedure).",
        examples=["escalate"],
    )
    escalate: TrueOrFalse = Field(
        default=False,
        description="Raise the case's escalation level by one.",
        examples=[True],
    )
    after: _Given = Field(
        default=None,
        description="Run this step that long after the breach: 30m, 4h, 2wd.",
        examples=["4h", "1wd"],
    )

    @model_validator(mode="after")
    def _does_something(self) -> BreachAction:
        # `escalate: false` counts as written, as it always has (and as the schema says).
        if not self.model_fields_set.intersection(BREACH_ACTIONS):
            raise PydanticCustomError(
                "empty_action",
                "{message}",
                {"message": "an on_breach step needs notify, fire or escalate", "whole": True},
            )
        return self


class TimeLimit(BaseModel):
    """A deadline: what starts, pauses and stops its clock, its target and its breach."""

    model_config = _STRICT

    title: Title = Field(default_factory=dict)
    starts: Clause = Field(
        description="What starts the clock: {entered: state(s)}, {left: ...} or {event: trigger(s)}.",
        examples=[{"entered": "recorded"}],
    )
    stops: Clause = Field(
        description="What stops the clock: {left: state(s)}, {entered: ...} or {event: ...}.",
        examples=[{"left": "recorded"}],
    )
    pauses: Pause = Field(
        default_factory=Pause,
        description="While the case is {in: state(s)} the clock does not run.",
        examples=[{"in": ["waiting_for_resident"]}],
    )
    within: list[TimeLimitTarget] = Field(description="Targets, first matching `when` wins.")
    warn_at: list[WarnAt] = Field(
        default_factory=list, description="Warnings at these percentages.", examples=[["50%"]]
    )
    warn_notify: list[str] = Field(
        default_factory=list,
        description="Roles told when a warning falls due.",
        examples=[["cs_supervisor"]],
    )
    on_breach: list[BreachAction] = Field(
        default_factory=list,
        description=(
            "Steps on breach, in order: {notify: role}, {fire: trigger}, {escalate: true};"
            " a step with `after: 2h` runs that long after the breach."
        ),
    )


class Procedure(BaseModel):
    """A whole procedure file."""

    model_config = _STRICT

    servflow: Annotated[Literal[1], BeforeValidator(whole_number)] = Field(
        description="Language version; always 1.", examples=[1]
    )
    id: str = Field(pattern=NAME_PATTERN, description="Procedure id.", examples=["repair"])
    version: WholeNumber = Field(
        ge=1,
        le=VERSION_LIMIT,
        description="Procedure version; running cases keep theirs.",
    )
    title: Title
    description: LocalizedText = Field(default_factory=dict, description="Purpose per language.")
    source: str | None = Field(
        default=None,
        description="The regulation this procedure encodes.",
        examples=["客服部管理制度 §4.2"],
    )
    calendar: str = Field(default="always", description="Default calendar for time limits.")
    roles: dict[str, Role] = Field(description="Who may act.")
    fields: dict[str, FieldSpec] = Field(default_factory=dict, description="The case's data.")
    states: dict[str, State] = Field(description="The states a case can be in.")
    start: Start = Field(description="How a case is opened.")
    transitions: dict[str, list[Branch]] = Field(
        default_factory=dict,
        description="Triggers; each one branch (a mapping) or a list of branches tried in order.",
    )
    time_limits: dict[str, TimeLimit] = Field(default_factory=dict, description="Deadlines.")
    escalation: list[str] = Field(
        default_factory=list,
        description="Roles in escalation order, lowest first (level 0 is the first).",
        examples=[["cs_staff", "cs_supervisor", "cs_manager"]],
    )
    invariants: list[Invariant] = Field(default_factory=list, description="Rules always true.")

    @field_validator("transitions", mode="before")
    @classmethod
    def _branches(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, dict) else v for k, v in value.items()}
        return value

    @field_validator("roles", "fields", "states", "transitions", "time_limits")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not _NAME_RE.match(name):
                raise ValueError(
                    f"name {name!r} must start with a lower-case letter and hold only "
                    "a-z, 0-9 and _"
                )
        return value


def __getattr__(name: str) -> Any:
    # Deprecated names only (PEP 562): `Effect` read as the engine's servflow.Effect.
    if name == "Effect":
        message = "servflow.model.Effect is deprecated: the YAML spec is EffectSpec"
        warnings.warn(message, DeprecationWarning, stacklevel=2)
        return EffectSpec
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
