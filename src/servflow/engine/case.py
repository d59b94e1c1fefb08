"""The values the engine takes and returns: actors, cases, events, effects, outcomes.

All are frozen. A :class:`Case` is small on purpose: its state, its data, its version and
its running timers, but not its history, so that the cost of firing an event does not
grow with the length of a case's life. The history is the list of :class:`Event` records
the engine returns; the host stores them (the audit log), and
:meth:`Engine.replay <servflow.Engine.replay>` rebuilds the case from them.

Case data is held in a JSON-native form (see :mod:`servflow.engine.values`), so
``Case.model_validate(case.model_dump(mode="json")) == case`` holds for every case.
"""

from __future__ import annotations

import warnings
from datetime import date, datetime
from typing import Any, ClassVar, Literal, NamedTuple, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from servflow.bounds import VERSION_LIMIT, id_problem, text_problem

__all__ = [
    "Actor",
    "Availability",
    "Case",
    "CaseParent",
    "CycleRecord",
    "Effect",
    "Event",
    "EventKind",
    "Outcome",
    "TimerState",
]

_FROZEN = ConfigDict(frozen=True, extra="forbid")
# For models whose Python name of a field says what it holds while the stored key keeps
# the name cases and logs were saved with (the alias): JSON is read and written with the
# stored key, and the Python name is accepted too.
_STORED_KEYS = ConfigDict(
    frozen=True,
    extra="forbid",
    validate_by_name=True,
    validate_by_alias=True,
    serialize_by_alias=True,
)


class _Compact(BaseModel):
    """A model whose instances share one record of the fields they set, when they set all.

    pydantic keeps per instance the set of field names it was given
    (``model_fields_set``): for a timer, a set of 22 names that takes 2.2 KB, more than
    the timer's values. Instances given the same fields (every case and timer the engine
    writes, and every one read back from its JSON, give them all, or all but a case's
    ``parent``) share one equal set; pydantic never changes it in place (a frozen model
    cannot be assigned to, and ``model_copy`` copies the set first).

    Likewise the texts named in ``_texts``, which repeat from case to case (a procedure
    version's digest, 71 characters, longer than pydantic's own cache of short strings
    takes), are kept once. (The ``TzInfo`` pydantic makes for each datetime it parses
    was left alone: ``datetime.replace`` on one costs about 3.7 µs.)
    """

    _texts: ClassVar[tuple[str, ...]] = ()

    def model_post_init(self, context: Any, /) -> None:
        values = self.__dict__
        for name in self._texts:
            text = values[name]
            kept = _TEXTS.get(text)
            if kept is None:
                if len(_TEXTS) >= 1024:  # a bound for hosts fed many odd cases
                    _TEXTS.clear()
                kept = _TEXTS[text] = text
            values[name] = kept
        given = self.__pydantic_fields_set__
        every = _every_field(type(self))
        if len(given) == len(every):
            object.__setattr__(self, "__pydantic_fields_set__", every)
            return
        key = frozenset(given)
        shared = _SHARED.get(key)
        if shared is None:
            if len(_SHARED) >= 64:  # a bound for inputs that leave out odd fields
                _SHARED.clear()
            shared = _SHARED[key] = given
        object.__setattr__(self, "__pydantic_fields_set__", shared)


_EVERY: dict[type[BaseModel], set[str]] = {}
_SHARED: dict[frozenset[str], set[str]] = {}
_TEXTS: dict[str, str] = {}


def _every_field(cls: type[BaseModel]) -> set[str]:
    found = _EVERY.get(cls)
    if found is None:
        found = _EVERY[cls] = set(cls.model_fields)
    return found


def _renamed(old: str, new: str) -> None:
    warnings.warn(f"{old} is deprecated: use {new}", DeprecationWarning, stacklevel=3)


EventKind = Literal[
    "started", "fired", "auto_fired", "warned", "breached", "breach_step", "replanned"
]


class Actor(BaseModel):
    """Who acts: an id for the audit log and the roles the host vouches for."""

    model_config = _FROZEN

    id: str = Field(min_length=1, max_length=200)
    roles: frozenset[str] = frozenset()

    @field_validator("id")
    @classmethod
    def _storable(cls, value: str) -> str:
        # The id is written into every audit event: it must be text any store can keep.
        problem = text_problem(value)
        if problem is not None:
            raise ValueError(f"an actor id {problem}")
        return value


class CycleRecord(_Compact):
    """A finished cycle of a time limit (a reopened case starts a new one)."""

    model_config = _FROZEN

    cycle: int
    started_at: AwareDatetime
    ended_at: AwareDatetime
    due_at: AwareDatetime | None
    business_seconds: int
    breached_at: AwareDatetime | None = None
    met: bool


class TimerState(_Compact):
    """A time limit's clock, as it runs in one case."""

    model_config = _STORED_KEYS

    cycle: int = 1
    status: Literal["running", "paused", "stopped"] = "running"
    calendar: str
    within: str = Field(
        alias="target",
        description="The entry of the time limit's `within` that applied when the cycle "
        "started, as written: a duration (`4h`, `2wd`) or `until <field>`. Stored as `target`.",
    )
    started_at: AwareDatetime
    budget_seconds: int = Field(description="Business seconds from start to due.")
    elapsed_seconds: int = Field(
        default=0, description="Business seconds counted up to `resumed_at` (or the pause)."
    )
    resumed_at: AwareDatetime | None = None
    paused_at: AwareDatetime | None = None
    paused_seconds: int = Field(default=0, description="Real seconds spent paused.")
    pauses: tuple[tuple[AwareDatetime, AwareDatetime], ...] = Field(
        default=(), description="Finished pauses of this cycle (start, end)."
    )
    stopped_at: AwareDatetime | None = None
    due_at: AwareDatetime | None = None
    warnings: tuple[int, ...] = ()
    breached_at: AwareDatetime | None = None
    actions_done: tuple[int, ...] = Field(
        default=(),
        alias="steps_done",
        description="The places in `on_breach` of the breach actions that ran. Stored as "
        "`steps_done`.",
    )
    fixed: bool = Field(
        default=False,
        description="The due time is a date from the case (`until`): pauses do not move it.",
    )
    next_at: AwareDatetime | None = Field(default=None, description="When something falls due.")
    next_action: str | None = Field(default=None, description="What: warn:<pct>, breach, step:<n>.")
    history: tuple[CycleRecord, ...] = ()
    provisional: bool = Field(
        default=False,
        description="What is still to come (the due time, the next moment) was counted past "
        "the calendar's published schedule, with the holidays its source fixes: re-planned "
        "by advance when a calendar published further is given to the engine.",
    )
    published_through: date | None = Field(
        default=None,
        description="For a provisional timer: the calendar's published_through when it was "
        "planned.",
    )

    @property
    def target(self) -> str:
        """Deprecated: ``within`` (the stored key is still ``target``)."""
        _renamed("TimerState.target", "TimerState.within")
        return self.within

    @property
    def steps_done(self) -> tuple[int, ...]:
        """Deprecated: ``actions_done`` (the stored key is still ``steps_done``)."""
        _renamed("TimerState.steps_done", "TimerState.actions_done")
        return self.actions_done


class CaseParent(BaseModel):
    """The case that opened this one (a linked case), and what to tell it on closing."""

    model_config = _FROZEN

    case: str = Field(description="The id of the parent case.")
    trigger: str | None = Field(
        default=None, description="The parent's trigger to fire when this case closes."
    )
    returns: dict[str, str] = Field(
        default_factory=dict,
        description="The trigger's data: each parent field from a field of this case or `state`.",
    )

    @field_validator("case")
    @classmethod
    def _storable_case(cls, value: str) -> str:
        problem = id_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


class Case(_Compact):
    """One case of a procedure, pinned to the version (and digest) it started on."""

    model_config = _FROZEN
    _texts = ("digest",)

    id: str
    procedure: str
    procedure_version: int = Field(ge=1, le=VERSION_LIMIT)
    digest: str
    state: str
    data: dict[str, Any]
    version: int = Field(
        ge=1, le=VERSION_LIMIT, description="Increments on every change; see expected_version."
    )
    opened_at: AwareDatetime
    updated_at: AwareDatetime
    escalation_level: int = Field(default=0, ge=0, le=VERSION_LIMIT)
    timers: dict[str, TimerState] = Field(default_factory=dict)
    next_due: AwareDatetime | None = Field(
        default=None, description="Earliest moment advance() would change this case."
    )
    # Left out of the JSON when None: cases stored before linked cases existed read
    # back, and dump, as they were.
    parent: CaseParent | None = Field(
        default=None,
        description="The case that opened this one, for a linked case; omitted when none.",
        exclude_if=lambda parent: parent is None,
    )

    @field_validator("id")
    @classmethod
    def _storable_id(cls, value: str) -> str:
        problem = id_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


class Event(BaseModel):
    """One audit record: something that happened to a case, in order."""

    model_config = _FROZEN

    case_id: str
    seq: int = Field(ge=1, le=VERSION_LIMIT, description="The case's version after this event.")
    at: AwareDatetime
    kind: EventKind
    trigger: str
    actor: str | None = None
    role: str | None = Field(default=None, description="The role that authorised the event.")
    source: str | None = Field(default=None, description="State before (None on start).")
    target: str = Field(description="State after.")
    changes: dict[str, Any] = Field(default_factory=dict, description="Fields set (None: cleared).")
    time_limit: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
    procedure: str
    procedure_version: int = Field(ge=1, le=VERSION_LIMIT)
    digest: str

    @field_validator("case_id")
    @classmethod
    def _storable_case_id(cls, value: str) -> str:
        problem = id_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


EffectKind = Literal["notify", "record", "open", "resume"]


class Effect(BaseModel):
    """Something the host must do: notify a role, file a record.

    Two kinds the desk carries out itself (linked cases): ``open`` (recipient: the id of
    the case to open; ``detail`` says how) and ``resume`` (recipient: the parent case;
    ``detail["trigger"]`` and ``detail["data"]`` say what to fire on it).
    """

    model_config = _STORED_KEYS

    kind: EffectKind
    case_id: str
    at: datetime
    trigger: str
    recipient: str = Field(
        alias="target",
        description="Whom or where it goes to: the role to notify, or the record form to "
        "file. Serialised as `target`.",
    )
    template: str | None = None
    time_limit: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)

    @property
    def target(self) -> str:
        """Deprecated: ``recipient`` (the serialised key is still ``target``)."""
        _renamed("Effect.target", "Effect.recipient")
        return self.recipient


class Outcome(NamedTuple):
    """What a step returned: the new case, what happened, and what the host must do.

    An immutable named tuple, not a pydantic model: it is built on every call (also by
    ``advance`` when nothing is due, where its cost matters) and its parts are models
    already.
    """

    case: Case
    events: tuple[Event, ...] = ()
    effects: tuple[Effect, ...] = ()


class Availability(BaseModel):
    """Whether an actor may fire a trigger now, and if not, why."""

    model_config = _FROZEN

    trigger: str
    allowed: bool
    to: str | None = None
    reason: str | None = None
    message: str | None = None
    needs: tuple[str, ...] = Field(default=(), description="Required fields still empty.")


def _effect(
    kind: EffectKind,
    case_id: str,
    at: datetime,
    trigger: str,
    recipient: str,
    *,
    template: str | None = None,
    time_limit: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Effect:
    """An :class:`Effect` built by the engine from values it has checked."""
    return _trusted(
        Effect,
        {
            "kind": kind,
            "case_id": case_id,
            "at": at,
            "trigger": trigger,
            "recipient": recipient,
            "template": template,
            "time_limit": time_limit,
            "detail": detail if detail is not None else {},
        },
    )


def _case_event(case: Case, values: dict[str, Any]) -> Event:
    """The next audit event of ``case``: its id, sequence number and pinned procedure
    filled in, the rest from ``values`` (built by the engine from checked input)."""
    values.update(
        case_id=case.id,
        seq=case.version + 1,
        procedure=case.procedure,
        procedure_version=case.procedure_version,
        digest=case.digest,
    )
    return _trusted(Event, values)


M = TypeVar("M", bound=BaseModel)
_DEFAULTS: dict[type[BaseModel], tuple[frozenset[str], dict[str, Any], dict[str, Any]]] = {}


def _trusted(cls: type[M], values: dict[str, Any]) -> M:
    """Build ``cls`` from values the engine computed itself, without validating them again.

    Only for the engine's own output (events, effects, timers), whose every value it has
    just produced from validated input; validation would double the cost of a step.
    Anything a caller passes in is validated as usual. Missing fields take their defaults.
    """
    spec = _DEFAULTS.get(cls)
    if spec is None:
        plain = {
            n: f.default
            for n, f in cls.model_fields.items()
            if f.default_factory is None and not f.is_required()
        }
        factories = {
            n: f.default_factory
            for n, f in cls.model_fields.items()
            if f.default_factory is not None
        }
        spec = _DEFAULTS[cls] = (frozenset(cls.model_fields), plain, factories)
    names, plain, factories = spec
    missing = names.difference(values)
    if missing:
        for name in missing:
            if name in plain:
                values[name] = plain[name]
            elif name in factories:
                values[name] = factories[name]()  # type: ignore[call-arg]
            else:
                raise TypeError(f"{cls.__name__}: no value for required field {name!r}")
    obj = cls.__new__(cls)
    object.__setattr__(obj, "__dict__", values)
    object.__setattr__(obj, "__pydantic_fields_set__", _every_field(cls))
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj
