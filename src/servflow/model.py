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
from datetime import date
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
    TABLE_COLUMNS,
    TABLE_ROWS,
    TEXT_LENGTH,
    VERSION_LIMIT,
    PatternError,
    compile_pattern,
)
from servflow.calendar_spec import CalendarSpec

__all__ = [
    "BREACH_ACTIONS",
    "HAPPENING_PREFIXES",
    "LANGUAGES",
    "NAME_PATTERN",
    "PROPERTY_PATTERNS",
    "RESERVED_NAMES",
    "SCHEDULE_EVERY",
    "Branch",
    "BreachAction",
    "CalendarSpec",
    "CallbackMeasure",
    "ChoiceLabels",
    "Clause",
    "ClauseRule",
    "ColumnSpec",
    "EffectSpec",
    "FieldSpec",
    "FieldType",
    "Invariant",
    "Language",
    "Link",
    "LocalizedName",
    "LocalizedText",
    "Measures",
    "Names",
    "Pause",
    "Precedence",
    "Procedure",
    "Property",
    "Response",
    "Role",
    "Schedule",
    "Start",
    "State",
    "TimeLimit",
    "TimeLimitTarget",
    "happening_parts",
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
    "string", "text", "integer", "decimal", "boolean", "date", "datetime", "choice", "list", "table"
]
#: The types a column of a `table` may have: one value per cell.
ColumnType = Literal[
    "string", "text", "integer", "decimal", "boolean", "date", "datetime", "choice"
]

# `minimum` and `maximum` are plain floats: bounded so that they compare with any decimal
# a field can hold and print in a message.
_NUMBER_LIMIT = float(10**DECIMAL_INTEGER_DIGITS)

_STRICT = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


#: A choice field's values, each with its title per language (the value is what is stored).
ChoiceLabels = dict[str, LocalizedText]

#: A name shown to readers (a record form, a regulation): one text, or one per language.
LocalizedName = str | LocalizedText


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


class ColumnSpec(BaseModel):
    """One column of a `table` field: every cell is checked as a field of its type is."""

    model_config = _STRICT

    type: ColumnType = Field(description="The type of every cell.", examples=["decimal"])
    title: Title = Field(default_factory=dict)
    pii: TrueOrFalse = Field(
        default=False,
        description="Personal data: the column's cells are never shown, like a pii field.",
        examples=[True],
    )
    choices: list[str] | None = Field(
        default=None,
        description="Allowed values of a `choice` column.",
        examples=[["cash", "card"]],
    )
    pattern: str | None = Field(
        default=None,
        description="Regular expression (RE2) a `string` or `text` cell must match in full.",
        examples=["^[A-Z]{2}[0-9]{4}$"],
    )
    minimum: float | None = Field(
        default=None,
        ge=-_NUMBER_LIMIT,
        le=_NUMBER_LIMIT,
        description="Smallest allowed `integer` or `decimal` cell.",
        examples=[0],
    )
    maximum: float | None = Field(
        default=None,
        ge=-_NUMBER_LIMIT,
        le=_NUMBER_LIMIT,
        description="Largest allowed `integer` or `decimal` cell.",
        examples=[100000],
    )
    max_length: int | None = Field(
        default=None,
        ge=1,
        le=TEXT_LENGTH,
        description="Longest allowed `string` or `text` cell (characters).",
        examples=[100],
    )

    _field: FieldSpec = PrivateAttr()

    @field_validator("minimum", "maximum", mode="before")
    @classmethod
    def _bound_is_a_number(cls, value: Any) -> Any:
        return None if value is None else number(value)

    @field_validator("max_length", mode="before")
    @classmethod
    def _max_length_is_whole(cls, value: Any) -> Any:
        return None if value is None else whole_number(value)

    @model_validator(mode="after")
    def _checked_as_a_field(self) -> ColumnSpec:
        # A cell is checked by the rules of a field of its type: the column is one.
        try:
            self._field = FieldSpec.model_validate(self.model_dump(exclude_defaults=True))
        except ValueError as exc:
            errors = getattr(exc, "errors", None)
            found = errors() if callable(errors) else []
            message = found[0]["msg"] if found else str(exc)
            raise ValueError(message.removeprefix("Value error, ")) from None
        return self

    # The keys the file wrote, and only those: a key added to columns later leaves the
    # digest of every procedure with tables (which pins its stored cases) as it was.
    @model_serializer(mode="wrap")
    def _as_written(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if k in self.model_fields_set}

    @property
    def as_field(self) -> FieldSpec:
        """The column as a field spec: what a cell is normalised and typed by."""
        return self._field


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
    later_keys: ClassVar[frozenset[str]] = frozenset({"round", "visible_to", "columns", "max_rows"})

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
    choices: list[str] | ChoiceLabels | None = Field(
        default=None,
        description=(
            "Allowed values of a `choice` field: a list of values, or a mapping of each value"
            " to its title per language (zh-Hant, zh-Hans, en); the case stores the value."
        ),
        examples=[
            ["emergency", "urgent", "normal"],
            {
                "emergency": {"zh-Hant": "緊急", "zh-Hans": "紧急", "en": "Emergency"},
                "normal": {"zh-Hant": "一般", "zh-Hans": "一般", "en": "Normal"},
            },
        ],
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
    form: LocalizedName | None = Field(
        default=None,
        description=(
            "The paper record form this field belongs to: its name, or its name per language."
        ),
        examples=["住戶報修記錄表", {"zh-Hant": "住戶報修記錄表", "zh-Hans": "住户报修记录表"}],
    )
    visible_to: list[str] | None = Field(
        default=None,
        description=(
            "Roles that see this `pii` field's value on rendered notifications and record "
            "forms; every other reader sees it masked. Omitted: no role does (deny by default)."
        ),
        examples=[["repair_reception", "maintenance"]],
    )
    columns: dict[str, ColumnSpec] | None = Field(
        default=None,
        description=(
            "The columns of a `table` field (line items), each typed and checked in every"
            " row like a field: name -> {type, title, pii, choices, pattern, minimum, maximum}."
        ),
        examples=[{"name": {"type": "string"}, "amount": {"type": "decimal", "minimum": 0}}],
    )
    max_rows: int | None = Field(
        default=None,
        ge=1,
        le=TABLE_ROWS,
        description=f"Most rows a `table` holds (default and at most {TABLE_ROWS}).",
        examples=[100],
    )

    @property
    def choice_values(self) -> tuple[str, ...]:
        """The values a `choice` field may hold, in the file's order (either form)."""
        return tuple(self.choices or ())

    def choice_title(self, value: str) -> LocalizedText:
        """The title of one choice per language; empty when the choices are a plain list."""
        if isinstance(self.choices, dict):
            return self.choices.get(value, {})
        return {}

    # Checked before pydantic's lax float and int (see WholeNumber); as validators rather
    # than annotated types so that the JSON Schema keeps its minimum and maximum.
    @field_validator("minimum", "maximum", mode="before")
    @classmethod
    def _bound_is_a_number(cls, value: Any) -> Any:
        return None if value is None else number(value)

    @field_validator("max_length", "max_rows", mode="before")
    @classmethod
    def _max_length_is_whole(cls, value: Any) -> Any:
        return None if value is None else whole_number(value)

    @field_validator("columns")
    @classmethod
    def _columns_named(cls, value: dict[str, ColumnSpec] | None) -> dict[str, ColumnSpec] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("a `table` needs at least one column")
        if len(value) > TABLE_COLUMNS:
            raise ValueError(f"a `table` has at most {TABLE_COLUMNS} columns")
        for name in value:
            if not _NAME_RE.match(name):
                raise ValueError(
                    f"column name {name!r} must start with a lower-case letter and hold only "
                    "a-z, 0-9 and _"
                )
        return value

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
        if self.type == "table" and self.columns is None:
            raise ValueError("a `table` field needs `columns`, e.g. {amount: {type: decimal}}")
        if self.type != "table" and (self.columns is not None or self.max_rows is not None):
            raise ValueError(
                f"`columns` and `max_rows` are only for `table` fields, not {self.type!r}"
            )
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
        if self.visible_to is not None and not self.pii:
            raise ValueError("`visible_to` is only for `pii` fields: every role sees the others")
        return self


class State(BaseModel):
    """A state a case can be in."""

    model_config = _STRICT

    title: Title = Field(default_factory=dict)
    description: LocalizedText = Field(default_factory=dict, description="Help text per language.")
    final: TrueOrFalse = Field(
        default=False, description="A final state closes the case; nothing leaves it."
    )
    waits: LocalizedText | None = Field(
        default=None,
        description=(
            "Why a case may wait in this state without a time limit, per language (shown in"
            " the SOP as 'waits for ...'); it silences the `no-time-limit` warning."
        ),
        examples=[{"zh-Hant": "住戶約定的簽約日", "en": "the signing day the client chose"}],
    )

    @field_validator("waits")
    @classmethod
    def _waits_gives_a_reason(cls, value: LocalizedText | None) -> LocalizedText | None:
        if value is not None and not any(text.strip() for text in value.values()):
            raise ValueError("`waits` needs the reason in at least one language")
        return value

    @model_validator(mode="after")
    def _final_waits_for_nothing(self) -> State:
        if self.final and self.waits is not None:
            raise ValueError("a final state waits for nothing: `waits` is for open states")
        return self

    # Written only when given, so that the digest of every procedure without it (which
    # pins its stored cases) stays what it was.
    @model_serializer(mode="wrap")
    def _waits_only_when_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if self.waits is None:
            data.pop("waits", None)
        return data


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


class Link(BaseModel):
    """A linked case: taking the step opens a case of another procedure (language 1.1).

    The desk opens the child case in the same transaction as the step. With `resume`,
    the child's closing (reaching a final state) fires that trigger on this case, with
    the child's outcome as its data.
    """

    model_config = _STRICT

    procedure: str = Field(
        pattern=NAME_PATTERN,
        description="The id of the procedure whose case is opened (in the same catalogue).",
        examples=["callback"],
    )
    role: str = Field(
        description="The role of the child procedure's `start` the child case is opened as.",
        examples=["callback_desk"],
    )
    data: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "The child's start data: each child field, from a field of this case (its value"
            " after the step)."
        ),
        examples=[{"subject": "fault", "contact_phone": "phone"}],
    )
    resume: str | None = Field(
        default=None,
        description=(
            "A trigger of this procedure, leaving the state this step enters, fired when the"
            " child case closes."
        ),
        examples=["callback_done"],
    )
    returns: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "The data of the `resume` trigger: each field of this case, from a child field or"
            " `state` (the child's final state)."
        ),
        examples=[{"callback_result": "state", "satisfied": "satisfied"}],
    )

    @model_validator(mode="after")
    def _returns_need_resume(self) -> Link:
        if self.returns and self.resume is None:
            raise ValueError("`returns` is the data of the `resume` trigger: name `resume` too")
        return self


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

    # `counts` came after the first release: a branch without it dumps (and so digests)
    # as it always has.
    later_keys: ClassVar[frozenset[str]] = _BranchSpec.later_keys | {"counts"}

    source: list[str] = Field(
        alias="from",
        description="The state (or list of states) the step leaves.",
        examples=[["recorded"]],
    )
    # A branch that opens nothing dumps as it did before `opens` existed, so the digest
    # of every procedure written before it is unchanged.
    opens: list[Link] = Field(
        default_factory=list,
        description=(
            "Cases of other procedures this step opens, linked to this case (language 1.1)."
        ),
        examples=[[{"procedure": "callback", "role": "callback_desk", "resume": "callback_done"}]],
        exclude_if=lambda opens: not opens,
    )

    counts: list[str] = Field(
        default_factory=list,
        description=(
            "Integer fields the step adds one to (empty counts as 0): the engine keeps the"
            " count, no one gives it. The guard sees the count before the step; `requires`"
            " and the invariants see it after."
        ),
        examples=[["callback_attempts"]],
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


#: The patterns a property may take, one per property (docs/language.md, "Properties").
PROPERTY_PATTERNS = ("never", "always", "eventually", "precedes", "responds")

_Happening = Annotated[
    str,
    Field(
        description="Something that happens to a case: a trigger fired (`callback`), a state "
        "entered (`closed`), a notice sent (`notify:resident`), a form filed "
        "(`record:回訪記錄表`) or a time limit breached (`breached:completion`).",
        examples=["callback", "notify:resident"],
    ),
]


#: The prefixes of a happening that is not a trigger or a state, and what each names.
HAPPENING_PREFIXES = {"notify": "role", "record": "form", "breached": "time limit"}


def happening_parts(text: str) -> tuple[str, str]:
    """``("notify", "resident")`` for ``notify:resident``; ``("", name)`` for a bare name."""
    prefix, sep, rest = text.partition(":")
    if sep and prefix.strip() in HAPPENING_PREFIXES:
        return prefix.strip(), rest.strip()
    return "", text.strip()


class Precedence(BaseModel):
    """`first` happens before `then`, every time `then` happens."""

    model_config = _STRICT

    first: _Happening
    then: _Happening


class Response(BaseModel):
    """Every `to` is answered by a `with`, within so many steps if `within` is given."""

    model_config = _STRICT

    to: _Happening
    with_: _Happening = Field(alias="with")
    within: WholeNumber | None = Field(
        default=None,
        ge=0,
        le=1000,
        description="At most this many steps after `to` (0: in the same step). Without it, "
        "before the case is closed.",
        examples=[0, 2],
    )


class Property(BaseModel):
    """What always holds over a case's life: checked by `servflow explore` and the testing
    kit, never enforced while cases run. Exactly one pattern per property."""

    model_config = _STRICT

    name: str = Field(
        description="Short name shown when a life breaks the property.",
        examples=["a repair is never closed without a callback"],
    )
    title: LocalizedText = Field(
        default_factory=dict,
        description="The property in each language, for the SOP.",
        examples=[{"en": "A repair is never closed without a callback"}],
    )
    never: str | None = Field(
        default=None,
        description="Absence: an expression that is false after every step of every life.",
        examples=["state == 'closed' and not satisfied"],
    )
    always: str | None = Field(
        default=None,
        description="Universality: an expression that is true after every step of every life.",
        examples=["state != 'closed' or callback_notes is not none"],
    )
    eventually: str | None = Field(
        default=None,
        description="Existence: an expression that is true at some point of every life "
        "that reaches a final state.",
        examples=["technician is not none or state == 'cancelled'"],
    )
    precedes: Precedence | None = Field(
        default=None,
        description="Precedence: `then` never happens before `first` has happened.",
        examples=[{"first": "callback", "then": "closed"}],
    )
    responds: Response | None = Field(
        default=None,
        description="Response (bounded with `within`): every `to` is followed by a `with`.",
        examples=[{"to": "escalate", "with": "notify:resident", "within": 0}],
    )

    @model_validator(mode="after")
    def _one_pattern(self) -> Property:
        given = [k for k in PROPERTY_PATTERNS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "a property takes exactly one of never, always, eventually, precedes, "
                f"responds (here: {', '.join(given) or 'none'})"
            )
        return self

    @property
    def pattern(self) -> str:
        """The pattern this property uses: one of :data:`PROPERTY_PATTERNS`."""
        return next(k for k in PROPERTY_PATTERNS if getattr(self, k) is not None)


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
            " An offset moves it, counted in the target's calendar like any duration:"
            " `signing_date - 5wd`, `appointment_at + 2h`."
        ),
        examples=["reply_due", "signing_date - 5wd", "appointment_at + 2h"],
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


#: What ``every`` may say: the frequencies an analyst writes without RFC 5545.
SCHEDULE_EVERY = ("day", "working day", "week", "month", "year")

_CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class Schedule(BaseModel):
    """When the calendar, not a person, opens a case: every working day, week, year, ...

    Occurrences are wall-clock times in the zone of the procedure's calendar; the engine
    lists them (``Engine.openings``) and a desk opens each one once (``Desk.run_due``).
    """

    model_config = _STRICT

    every: Literal["day", "working day", "week", "month", "year"] | None = Field(
        default=None,
        description=(
            "How often: `day`, `working day` (a day with working hours in the procedure's"
            " calendar), `week`, `month` or `year`. Give `every` or `rrule`, not both."
        ),
        examples=["working day", "year"],
    )
    days: list[str | int] | None = Field(
        default=None,
        description=(
            "Which days: weekdays for `every: week` (monday ... sunday), days of the month"
            " for `every: month` (1 to 31, -1 the last), MM-DD dates for `every: year`."
        ),
        examples=[["monday"], [1, 15], ["03-01", "09-01"]],
    )
    rrule: _Given = Field(
        default=None,
        description=(
            "An RFC 5545 recurrence rule for what `every` cannot say (FREQ=WEEKLY, MONTHLY"
            " or YEARLY; no DTSTART, no time-of-day parts: the time is `at`)."
        ),
        examples=["FREQ=MONTHLY;BYDAY=1MO", "FREQ=WEEKLY;INTERVAL=2;BYDAY=FR"],
    )
    at: str = Field(
        description="Time of day, HH:MM on a 24-hour clock, in the calendar's zone.",
        examples=["09:00", "17:30"],
        json_schema_extra={"pattern": _CLOCK_PATTERN},
    )
    role: str = Field(
        description="The role the case is opened as (one of the roles of `start`).",
        examples=["cashier"],
    )
    data: dict[str, Any] = Field(
        default_factory=dict,
        description="Constant field values every case of this schedule opens with.",
        examples=[{"kind": "routine"}],
    )
    date_field: _Given = Field(
        default=None,
        description="A `date` field that receives the occurrence's date (in the calendar's zone).",
        examples=["business_date"],
    )
    from_: date | None = Field(
        default=None,
        alias="from",
        description=(
            "The first date the schedule counts from (and the anchor of an `rrule`'s"
            " INTERVAL and COUNT); a desk opens nothing before it."
        ),
        examples=["2026-01-01"],
    )
    title: Title = Field(default_factory=dict)

    @field_validator("at")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not re.fullmatch(_CLOCK_PATTERN, value):
            raise ValueError("write the time as HH:MM from 00:00 to 23:59, e.g. 09:00")
        return value

    @field_validator("from_", mode="before")
    @classmethod
    def _iso_date(cls, value: Any) -> Any:
        if isinstance(value, str) and not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            raise ValueError("write the date as YYYY-MM-DD, e.g. 2026-01-01")
        return value

    @model_validator(mode="after")
    def _every_or_rrule(self) -> Schedule:
        if (self.every is None) == (self.rrule is None):
            raise ValueError("a schedule needs either `every` or `rrule`, not both")
        if self.rrule is not None and self.days is not None:
            raise ValueError("`days` is for `every`; an `rrule` says its days itself (BYDAY, ...)")
        return self


class CallbackMeasure(BaseModel):
    """Which steps of a case make up its callback (回訪), for the callback rate of ``servflow.kpi``."""

    model_config = _STRICT

    due: Clause = Field(
        description="The step that makes a case due for a callback: {entered: ...}, "
        "{left: ...} or {event: ...}.",
        examples=[{"entered": "completed"}],
    )
    reached: Clause = Field(
        description="The step that records a callback that reached the resident.",
        examples=[{"event": "callback"}],
    )
    unreachable: Clause | None = Field(
        default=None,
        description="The step that records that the resident could not be reached after "
        "the attempts the procedure asks for; it counts as a callback made (see docs/kpi.md).",
        examples=[{"entered": "unreachable"}],
    )


class Measures(BaseModel):
    """How the KPI report (``servflow report``, ``servflow.kpi``) reads this procedure's cases.

    Reporting only: the engine never reads it, and it is left out of the procedure's
    digest, so that naming a measure does not strand the cases already running.
    """

    model_config = _STRICT

    cancelled: Names = Field(
        default_factory=list,
        description="Final states that mean the case was cancelled or withdrawn; every other "
        "final state counts as closed (completed).",
        examples=["cancelled", ["cancelled", "rejected"]],
    )
    callback: CallbackMeasure | None = Field(
        default=None,
        description="The callback (回訪) of a case: when it is due, when it reached the "
        "resident, when the resident could not be reached.",
        examples=[{"due": {"entered": "completed"}, "reached": {"event": "callback"}}],
    )
    satisfied: str | None = Field(
        default=None,
        description="The boolean field that records whether the resident was satisfied "
        "(客戶滿意度): every event that sets it is one answer.",
        examples=["satisfied"],
    )
    breakdown: list[str] = Field(
        default_factory=list,
        description="Choice (or boolean) fields by whose value the report counts cases, "
        "e.g. a complaint's type and channel.",
        examples=[["category", "channel"]],
    )

    @property
    def cancelled_states(self) -> frozenset[str]:
        """The states of ``cancelled``, as a set."""
        return _as_set(self.cancelled)


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
    source: LocalizedName | None = Field(
        default=None,
        description="The regulation this procedure encodes: its name, or its name per language.",
        examples=[
            "客服部管理制度 §4.2",
            {"zh-Hant": "客服部管理制度 §4.2", "en": "Customer service rules §4.2"},
        ],
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
    measures: Measures | None = Field(
        default=None,
        description="How the KPI report reads this procedure's cases (reporting only; not "
        "part of the digest).",
        examples=[{"cancelled": "cancelled", "satisfied": "satisfied", "breakdown": ["channel"]}],
    )
    schedule: list[Schedule] = Field(
        default_factory=list,
        description=(
            "When the calendar opens cases of this procedure by itself: each entry an"
            " occurrence rule (`every` or `rrule`), a time `at`, the `role` it opens as."
        ),
        examples=[[{"every": "working day", "at": "17:30", "role": "cashier"}]],
    )

    properties: list[Property] = Field(
        default_factory=list,
        description="What always holds over a case's life; checked by `servflow explore` and "
        "the testing kit, not enforced at run time.",
        examples=[
            [
                {
                    "name": "callback before closing",
                    "precedes": {"first": "callback", "then": "closed"},
                }
            ]
        ],
    )

    # New keys of the language stay out of the digest while unset, so that every
    # procedure written before them keeps its digest (and its stored cases load).
    @model_serializer(mode="wrap")
    def _omit_unset_new_keys(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if not self.schedule:
            data.pop("schedule", None)
        if not self.properties:
            data.pop("properties", None)
        return data

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
