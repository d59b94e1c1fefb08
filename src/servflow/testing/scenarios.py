"""Scenario files: a case's life written down by an analyst, checked step by step.

A scenario names a procedure, the people who act (by role), and the steps of one case:
``start`` it, ``fire`` a trigger, ``advance`` the clock to a moment. Each step carries
what the analyst expects afterwards (the state, a rejection and its reason, the events
and effects the step produced, field values, the escalation level, each time limit's
clock). See ``docs/scenarios.md`` for the format; :mod:`servflow.testing.runner` runs it.

This module is the loading half: YAML text -> a frozen :class:`Scenario`. It reads the
file with the same safe reader as procedure files (:func:`~servflow.procedures.source.read_yaml`:
no YAML 1.1 booleans, duplicate keys refused, every value's line and column kept), and it
refuses unknown keys everywhere, with ``file:line:col`` and the name probably meant. Times
without a UTC offset are read in the scenario's ``timezone``, here, so that the engine,
which refuses naive times, only ever sees aware ones; the wall clock is never read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from servflow._hints import did_you_mean
from servflow.errors import DefinitionError, Diagnostic
from servflow.procedures.source import SourceFileError, SourceMap, read_source, read_yaml
from servflow.testing._expect import (
    EFFECT_KEYS,
    EVENT_KEYS,
    EXPECT_KEYS,
    REJECTION_KEYS,
    TIME_LIMIT_KEYS,
    Expectation,
    read_expect,
)
from servflow.testing._reader import Reader, SourcePath, kind, parse_time

__all__ = [
    "EFFECT_KEYS",
    "EVENT_KEYS",
    "EXPECT_KEYS",
    "REJECTION_KEYS",
    "STEP_KEYS",
    "TIME_LIMIT_KEYS",
    "TOP_KEYS",
    "Expectation",
    "Scenario",
    "ScenarioError",
    "SourcePath",
    "Step",
    "load_scenario",
    "load_scenario_text",
    "parse_time",
]

Action = Literal["start", "fire", "advance"]

TOP_KEYS = (
    "scenario",
    "description",
    "procedure",
    "procedure_version",
    "timezone",
    "actors",
    "steps",
)
ACTOR_KEYS = ("roles",)
STEP_KEYS = ("start", "fire", "advance", "as", "at", "data", "expected_version", "note", "expect")
START_KEYS = ("as", "at", "data")
FIRE_KEYS = ("trigger", "as", "at", "data", "expected_version")


class ScenarioError(DefinitionError):
    """A scenario file is wrong (not the procedure it tests); ``diagnostics`` lists why."""


@dataclass(frozen=True)
class Step:
    """One step of a scenario, with its (1-based) number and line in the file."""

    number: int
    line: int
    action: Action
    path: SourcePath
    trigger: str | None = None
    actor: str | None = None
    at: datetime | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    expected_version: int | None = None
    note: str | None = None
    expect: tuple[Expectation, ...] = ()
    at_text: str | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        if self.action == "fire":
            return f"fire {self.trigger}"
        if self.action == "advance" and self.at is not None:
            return f"advance to {self.at_text or self.at.isoformat(sep=' ')}"
        return self.action


@dataclass(frozen=True)
class Scenario:
    """A loaded scenario file. ``procedure_path`` is set when ``procedure`` names a file."""

    file: str
    title: str
    procedure: str
    procedure_path: Path | None
    procedure_version: int | None
    timezone: tzinfo | None
    actors: Mapping[str, frozenset[str]]
    steps: tuple[Step, ...]
    description: str | None = None
    source_map: SourceMap = field(default_factory=lambda: SourceMap("<string>"), repr=False)

    def diagnostic(
        self, path: SourcePath, code: str, message: str, *, key: bool = False
    ) -> Diagnostic:
        """A problem at ``path`` of this file, positioned with its source map."""
        return self.source_map.diagnostic(path, code, message, key=key)


def load_scenario(path: str | Path) -> Scenario:
    """Load a scenario file; raises :class:`ScenarioError` listing every problem."""
    path = Path(path)
    try:
        raw = read_source(path)
    except SourceFileError as exc:
        raise ScenarioError([exc.diagnostic()]) from None
    return load_scenario_text(raw, str(path), base=path.parent)


def load_scenario_text(
    text: str | bytes, file: str = "<string>", *, base: Path | None = None
) -> Scenario:
    """Load a scenario from text; a ``procedure`` path is read relative to ``base``."""
    data, smap, problems = read_yaml(text, file)
    if problems or data is None:
        raise ScenarioError(problems)
    reader = Reader(smap)
    top = reader.mapping(
        data, (), "a scenario file", TOP_KEYS, ("scenario", "procedure", "actors", "steps")
    )
    if top is None:
        raise ScenarioError(reader.problems)
    title = reader.text(top.get("scenario", "?"), ("scenario",), "`scenario` (its title)") or ""
    description = top.get("description")
    if description is not None:
        description = reader.text(description, ("description",), "`description`")
    procedure = reader.text(top.get("procedure", "?"), ("procedure",), "`procedure`") or ""
    procedure_path = None
    if procedure.endswith((".yaml", ".yml")) or "/" in procedure:
        procedure_path = (base or Path.cwd()) / procedure
    version = top.get("procedure_version")
    if version is not None:
        version = reader.integer(version, ("procedure_version",), "`procedure_version`", 1)
    zone: tzinfo | None = None
    if top.get("timezone") is not None:
        name = top["timezone"]
        try:
            zone = ZoneInfo(name) if isinstance(name, str) and name else None
        except (ZoneInfoNotFoundError, ValueError):
            zone = None
        if zone is None:
            reader.error(
                ("timezone",),
                "unknown-timezone",
                f"unknown time zone {name!r}: write an IANA name such as Asia/Shanghai or Asia/Hong_Kong",
            )
    reader.zone = zone
    actors = _actors(reader, top.get("actors"))
    steps = _steps(reader, top.get("steps"), actors)
    if reader.problems:
        raise ScenarioError(reader.problems)
    return Scenario(
        file=file,
        title=title,
        description=description,
        procedure=procedure,
        procedure_path=procedure_path,
        procedure_version=version,
        timezone=zone,
        actors=actors,
        steps=tuple(steps),
        source_map=smap,
    )


def _actors(reader: Reader, value: Any) -> dict[str, frozenset[str]]:
    actors: dict[str, frozenset[str]] = {}
    table = reader.mapping(value, ("actors",), "`actors`")
    for name, spec in (table or {}).items():
        path: SourcePath = ("actors", name)
        roles: Any = spec
        if isinstance(spec, dict):
            body = reader.mapping(spec, path, f"actor {name!r}", ACTOR_KEYS, ACTOR_KEYS)
            roles = (body or {}).get("roles", [])
            path = (*path, "roles")
        if isinstance(roles, str):
            roles = [roles]
        if not isinstance(roles, list) or not all(isinstance(r, str) and r for r in roles):
            reader.error(
                path, "bad-roles", f"the roles of actor {name!r} must be a list of role names"
            )
            continue
        actors[name] = frozenset(roles)
    return actors


def _steps(reader: Reader, value: Any, actors: Mapping[str, frozenset[str]]) -> list[Step]:
    if not isinstance(value, list) or not value:
        reader.error(("steps",), "no-steps", "`steps` must be a list of at least one step")
        return []
    steps: list[Step] = []
    for i, raw in enumerate(value):
        step = _step(reader, raw, ("steps", i), i + 1, actors)
        if step is not None:
            steps.append(step)
    return steps


def _step(
    reader: Reader, raw: Any, path: SourcePath, number: int, actors: Mapping[str, frozenset[str]]
) -> Step | None:
    what = f"step {number}"
    body = reader.mapping(raw, path, what, STEP_KEYS)
    if body is None:
        return None
    actions = [a for a in ("start", "fire", "advance") if a in body]
    if len(actions) != 1:
        reader.error(
            path,
            "step-action",
            f"{what} needs exactly one of `start`, `fire` or `advance`"
            + (f", not {' and '.join(actions)}" if actions else ""),
        )
        return None
    action: Action = actions[0]
    params: dict[str, tuple[Any, SourcePath]] = {
        k: (body[k], (*path, k)) for k in ("as", "at", "data", "expected_version") if k in body
    }
    trigger: str | None = None
    inner = body[action]
    if action == "advance":
        for key in params:
            reader.error(
                (*path, key),
                "unknown-key",
                f"`{key}` has no meaning for an `advance` step",
                key=True,
            )
        at = reader.time(inner, (*path, "advance"), f"{what}: `advance` (the time to advance to)")
        return Step(
            number,
            reader.line(path),
            "advance",
            path,
            at=at,
            note=_note(reader, body, path),
            expect=read_expect(reader, body.get("expect"), (*path, "expect")),
            at_text=inner.strip() if isinstance(inner, str) else None,
        )
    if action == "fire" and isinstance(inner, str):
        trigger = inner
    elif isinstance(inner, dict) or (action == "start" and inner is None):
        allowed = START_KEYS if action == "start" else FIRE_KEYS
        for key, val in (inner or {}).items():
            here = (*path, action, key)
            if key not in allowed:
                reader.error(
                    here,
                    "unknown-key",
                    f"unknown key {key!r} in `{action}`" + did_you_mean(key, allowed),
                    key=True,
                )
            elif key == "trigger":
                trigger = reader.text(val, here, "`trigger`")
            elif key in params:
                reader.error(
                    here,
                    "duplicate-key",
                    f"`{key}` is given twice: inside `{action}` and beside it",
                    key=True,
                )
            else:
                params[key] = (val, here)
        if action == "fire" and "trigger" not in (inner or {}):
            reader.error((*path, action), "missing-key", "`fire` needs a trigger: `fire: dispatch`")
    else:
        reader.error(
            (*path, action),
            "bad-step",
            f"`{action}` must be "
            + ("a trigger name or a mapping" if action == "fire" else "a mapping (as, at, data)")
            + f", not {kind(inner)}",
        )
        return None
    if action == "start" and "expected_version" in params:
        reader.error(
            params["expected_version"][1],
            "unknown-key",
            "`expected_version` has no meaning for `start`",
            key=True,
        )
    actor = None
    if "as" not in params:
        reader.error(
            path,
            "missing-key",
            f"{what} needs `as`: the actor who acts ({', '.join(actors) or 'define `actors`'})",
        )
    else:
        value, where = params["as"]
        if value in actors:
            actor = value
        else:
            reader.error(
                where, "unknown-actor", f"unknown actor {value!r}" + did_you_mean(value, actors)
            )
    at = None
    if "at" in params:
        at = reader.time(params["at"][0], params["at"][1], "`at`")
    elif action == "start":
        reader.error(path, "missing-key", f"{what} needs `at`: when the case is opened")
    data: dict[str, Any] = {}
    if "data" in params:
        data = reader.mapping(params["data"][0], params["data"][1], "`data`") or {}
    expected_version = None
    if "expected_version" in params:
        expected_version = reader.integer(*params["expected_version"], "`expected_version`", 1)
    return Step(
        number,
        reader.line(path),
        action,
        path,
        trigger=trigger,
        actor=actor,
        at=at,
        data=data,
        expected_version=expected_version,
        note=_note(reader, body, path),
        expect=read_expect(reader, body.get("expect"), (*path, "expect")),
    )


def _note(reader: Reader, body: Mapping[str, Any], path: SourcePath) -> str | None:
    return reader.text(body["note"], (*path, "note"), "`note`") if "note" in body else None
