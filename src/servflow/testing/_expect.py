"""Reading a step's ``expect:`` mapping into :class:`Expectation` values.

Each expectation is partial: only the keys written are compared. Times are read in the
scenario's zone, percentages (``80%``) become numbers, and every key is checked against
the closed lists below, so a typo is an error with its position, never a silent pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

from servflow.engine.case import EventKind
from servflow.errors import RejectionReason
from servflow.testing._reader import Reader, SourcePath, kind

__all__ = [
    "EFFECT_KEYS",
    "EVENT_KEYS",
    "EVENT_KINDS",
    "EXPECT_KEYS",
    "REASONS",
    "REJECTION_KEYS",
    "TIMER_STATUSES",
    "TIME_LIMIT_KEYS",
    "Expectation",
    "read_expect",
]

EXPECT_KEYS = (
    "state",
    "rejected",
    "fields",
    "events",
    "events_include",
    "effects",
    "effects_include",
    "escalation_level",
    "version",
    "next_due",
    "time_limits",
)
#: ``reason`` and ``message`` (a part of the message), then the keys of ``Rejected.details``.
REJECTION_KEYS = (
    "reason",
    "message",
    "field",
    "missing",
    "trigger",
    "state",
    "allowed_from",
    "roles",
    "actor",
    "expression",
    "could_decide",
    "invariant",
    "escalation_level",
    "expected",
    "actual",
)
REASONS: tuple[str, ...] = get_args(RejectionReason)
EVENT_KINDS: tuple[str, ...] = get_args(EventKind)  # every kind the engine records
EVENT_KEYS = (
    "kind",
    "trigger",
    "time_limit",
    "from",
    "to",
    "by",
    "role",
    "at",
    "changes",
    "percent",
    "escalation_level",
    "cycle",
)
EFFECT_KEYS = ("notify", "record", "template", "trigger", "time_limit", "at", "breach", "warning")
TIME_LIMIT_KEYS = (
    "status",
    "breached",
    "breached_at",
    "due",
    "started_at",
    "cycle",
    "warnings",
    "target",
    "calendar",
)
TIMER_STATUSES = ("running", "paused", "stopped", "not_started")


@dataclass(frozen=True)
class Expectation:
    """One thing expected after a step: ``key`` (an ``expect:`` key) and its parsed value."""

    key: str
    value: Any
    path: SourcePath
    line: int


def read_expect(reader: Reader, value: Any, path: SourcePath) -> tuple[Expectation, ...]:
    if value is None:
        return ()
    body = reader.mapping(value, path, "`expect`", EXPECT_KEYS)
    out: list[Expectation] = []
    for key, raw in (body or {}).items():
        here = (*path, key)
        parsed: Any = None
        if key not in EXPECT_KEYS:
            continue
        if key == "state":
            parsed = reader.text(raw, here, "`state`")
        elif key == "rejected":
            parsed = _rejection(reader, raw, here)
        elif key == "fields":
            parsed = reader.mapping(raw, here, "`fields`")
        elif key in ("events", "events_include"):
            parsed = _patterns(reader, raw, here, key, _event)
        elif key in ("effects", "effects_include"):
            parsed = _patterns(reader, raw, here, key, _effect)
        elif key in ("escalation_level", "version"):
            parsed = reader.integer(raw, here, f"`{key}`", 0 if key == "escalation_level" else 1)
        elif key == "next_due":
            parsed = reader.optional_time(raw, here, "`next_due`")
            if raw is not None and parsed is None:
                continue
            out.append(Expectation(key, parsed, here, reader.line(here)))
            continue
        elif key == "time_limits":
            parsed = _time_limits(reader, raw, here)
        if parsed is not None:
            out.append(Expectation(key, parsed, here, reader.line(here)))
    return tuple(out)


def _rejection(reader: Reader, raw: Any, path: SourcePath) -> dict[str, Any] | None:
    if isinstance(raw, str):
        reason = reader.choice(raw, path, "`rejected` (the reason)", REASONS)
        return None if reason is None else {"reason": reason}
    body = reader.mapping(raw, path, "`rejected`", REJECTION_KEYS, ("reason",))
    if body is None or "reason" not in body:
        return None
    if reader.choice(body["reason"], (*path, "reason"), "`reason`", REASONS) is None:
        return None
    if "message" in body and reader.text(body["message"], (*path, "message"), "`message`") is None:
        return None
    return dict(body)


def _patterns(
    reader: Reader, raw: Any, path: SourcePath, key: str, one: Any
) -> list[dict[str, Any]] | None:
    if not isinstance(raw, list):
        reader.error(
            path, "not-a-list", f"`{key}` must be a list (write [] for none), not {kind(raw)}"
        )
        return None
    items = [one(reader, item, (*path, i), f"{key}[{i + 1}]") for i, item in enumerate(raw)]
    return None if any(item is None for item in items) else items


def _event(reader: Reader, raw: Any, path: SourcePath, what: str) -> dict[str, Any] | None:
    body = reader.mapping(raw, path, f"`{what}`", EVENT_KEYS)
    if body is None:
        return None
    out: dict[str, Any] = {"_path": path}
    ok = True
    for key, value in body.items():
        here = (*path, key)
        if key == "kind":
            value = reader.choice(value, here, "`kind`", EVENT_KINDS)
        elif key == "at":
            value = reader.time(value, here, "`at`")
        elif key == "percent":
            value = reader.percent(value, here, "`percent`")
        elif key in ("escalation_level", "cycle"):
            value = reader.integer(value, here, f"`{key}`", 0)
        elif key == "changes":
            value = reader.mapping(value, here, "`changes`")
        elif key in EVENT_KEYS:
            value = reader.text(value, here, f"`{key}`")
        else:
            continue
        ok = ok and value is not None
        out[key] = value
    return out if ok else None


def _effect(reader: Reader, raw: Any, path: SourcePath, what: str) -> dict[str, Any] | None:
    body = reader.mapping(raw, path, f"`{what}`", EFFECT_KEYS)
    if body is None:
        return None
    if "notify" in body and "record" in body:
        reader.error(
            path, "bad-effect", f"`{what}`: an effect is a `notify` or a `record`, not both"
        )
        return None
    out: dict[str, Any] = {"_path": path}
    ok = True
    for key, value in body.items():
        here = (*path, key)
        if key == "at":
            value = reader.time(value, here, "`at`")
        elif key == "breach":
            value = reader.boolean(value, here, "`breach`")
        elif key == "warning":
            value = reader.percent(value, here, "`warning`")
        elif key in EFFECT_KEYS:
            value = reader.text(value, here, f"`{key}`")
        else:
            continue
        ok = ok and value is not None
        out[key] = value
    return out if ok else None


def _time_limits(reader: Reader, raw: Any, path: SourcePath) -> dict[str, dict[str, Any]] | None:
    table = reader.mapping(raw, path, "`time_limits`")
    if table is None:
        return None
    out: dict[str, dict[str, Any]] = {}
    ok = True
    for name, spec in table.items():
        here: SourcePath = (*path, name)
        if isinstance(spec, str):
            # `completion: not_started` is short for `completion: {status: not_started}`.
            spec = {"status": spec}
            reader.smap.values.setdefault((*here, "status"), reader.smap.position(here))
        body = reader.mapping(spec, here, f"time limit {name!r}", TIME_LIMIT_KEYS)
        if body is None:
            ok = False
            continue
        parsed: dict[str, Any] = {"_path": here}
        for key, value in body.items():
            at = (*here, key)
            if key == "status":
                value = reader.choice(value, at, "`status`", TIMER_STATUSES)
            elif key == "breached":
                value = reader.boolean(value, at, "`breached`")
            elif key in ("due", "breached_at"):
                if value is None:
                    parsed[key] = None
                    continue
                value = reader.time(value, at, f"`{key}`")
            elif key == "started_at":
                value = reader.time(value, at, "`started_at`")
            elif key == "cycle":
                value = reader.integer(value, at, "`cycle`", 1)
            elif key == "warnings":
                if not isinstance(value, list):
                    reader.error(
                        at,
                        "not-a-list",
                        f"`warnings` must be a list like [50%, 80%], not {kind(value)}",
                    )
                    value = None
                else:
                    percents = [
                        reader.percent(v, (*at, i), "a warning") for i, v in enumerate(value)
                    ]
                    value = None if None in percents else percents
            elif key in ("target", "calendar"):
                value = reader.text(value, at, f"`{key}`")
            else:
                continue
            ok = ok and value is not None
            parsed[key] = value
        out[name] = parsed
    return out if ok else None
