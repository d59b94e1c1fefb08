"""Scenario files: a case's life written down by an analyst, checked step by step.

A scenario names a procedure, the people who act (by role), and the steps of one case:
``start`` it, ``fire`` a trigger, ``advance`` the clock to a moment. Each step carries
what the analyst expects afterwards (the state, a rejection and its reason, the events
and effects the step produced, field values, the escalation level, each time limit's
clock). See ``docs/scenarios.md`` for the format; :mod:`servflow.testing.runner` runs it.

This module is the loading half, in the layers procedure files are loaded in: the text is
read by the same safe reader (:func:`~servflow.procedures.source.read_yaml`: no YAML 1.1
booleans, duplicate keys refused, every value's line and column kept), validated by the
file's model (:class:`~servflow.testing._model.ScenarioFile`, frozen, unknown keys
refused), its errors turned into ``file:line:col`` diagnostics by the loader's own
converter, and the result built into a frozen :class:`Scenario`. Times without a UTC offset
are read in the scenario's ``timezone``, so that the engine, which refuses naive times,
only ever sees aware ones; the wall clock is never read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from servflow.errors import DefinitionError, Diagnostic
from servflow.procedures.load import pydantic_diagnostics
from servflow.procedures.source import SourceFileError, SourceMap, read_source, read_yaml
from servflow.testing._expect import (
    EFFECT_KEYS,
    EVENT_KEYS,
    EXPECT_KEYS,
    REJECTION_KEYS,
    TIME_LIMIT_KEYS,
    Expectation,
)
from servflow.testing._model import (
    FireSpec,
    ScenarioFile,
    StartSpec,
    StepSpec,
    keys_of,
    parse_time,
    zone_of,
)

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

SourcePath = tuple[str | int, ...]
Action = Literal["start", "fire", "advance"]

TOP_KEYS = keys_of(ScenarioFile)
STEP_KEYS = keys_of(StepSpec)
START_KEYS = keys_of(StartSpec)
FIRE_KEYS = keys_of(FireSpec)


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
    # What the rules of the file need before it is validated: the zone its times are read
    # in, and the actors a step may name (a wrong zone or actor table is reported anyway).
    top = data if isinstance(data, dict) else {}
    zone = zone_of(top.get("timezone"))
    actors = list(top["actors"]) if isinstance(top.get("actors"), dict) else []
    try:
        model = ScenarioFile.model_validate(data, context={"zone": zone, "actors": actors})
    except ValidationError as exc:
        raise ScenarioError(pydantic_diagnostics(exc, smap, ScenarioFile, place=_place)) from None
    procedure_path = None
    if model.procedure.endswith((".yaml", ".yml")) or "/" in model.procedure:
        procedure_path = (base or Path.cwd()) / model.procedure
    steps = tuple(
        _step(spec, raw, ("steps", i), i + 1, smap)
        for i, (spec, raw) in enumerate(zip(model.steps, data["steps"], strict=True))
    )
    return Scenario(
        file=file,
        title=model.scenario,
        description=model.description,
        procedure=model.procedure,
        procedure_path=procedure_path,
        procedure_version=model.procedure_version,
        timezone=zone,
        actors={name: frozenset(actor.roles) for name, actor in model.actors.items()},
        steps=steps,
        source_map=smap,
    )


def _place(loc: SourcePath) -> str:
    """A place in the file as messages name it: ``step 2``, `` `expect` ``, `` `events[1]` ``."""
    if not loc:
        return "a scenario file"
    if len(loc) == 2 and loc[0] == "steps" and isinstance(loc[1], int):
        return f"step {loc[1] + 1}"
    if len(loc) == 2 and loc[0] == "actors":
        return f"actor {loc[1]!r}"
    if len(loc) >= 2 and loc[-2] == "time_limits":
        return f"time limit {loc[-1]!r}"
    if isinstance(loc[-1], int) and len(loc) >= 2:
        return f"`{loc[-2]}[{loc[-1] + 1}]`"
    return f"`{loc[-1]}`"


def _written(model: BaseModel, raw: Any) -> dict[str, Any]:
    """The keys the analyst wrote (in the file's order) with their validated values."""
    by_key = {f.alias or name: name for name, f in type(model).model_fields.items()}
    keys = list(raw) if isinstance(raw, dict) else []
    keys += [k for k in by_key if by_key[k] in model.model_fields_set and k not in keys]
    return {k: getattr(model, by_key[k]) for k in keys if by_key[k] in model.model_fields_set}


def _step(spec: StepSpec, raw: Any, path: SourcePath, number: int, smap: SourceMap) -> Step:
    line = smap.position(path)[0]
    note = spec.note
    expect = _expectations(spec, raw.get("expect"), (*path, "expect"), smap)
    action = spec.action
    if action == "advance":
        advance = raw["advance"]
        return Step(
            number,
            line,
            "advance",
            path,
            at=spec.advance,
            note=note,
            expect=expect,
            at_text=advance.strip() if isinstance(advance, str) else None,
        )
    actor, at, data, version = (spec.given(k) for k in ("as", "at", "data", "expected_version"))
    return Step(
        number,
        line,
        action,
        path,
        trigger=spec.fire.trigger if action == "fire" and spec.fire is not None else None,
        actor=actor[0] if actor else None,
        at=at[0] if at else None,
        data=dict(data[0] or {}) if data else {},
        expected_version=version[0] if version else None,
        note=note,
        expect=expect,
    )


def _expectations(
    spec: StepSpec, raw: Any, path: SourcePath, smap: SourceMap
) -> tuple[Expectation, ...]:
    if spec.expect is None:
        return ()
    out: list[Expectation] = []
    for key, value in _written(spec.expect, raw).items():
        here = (*path, key)
        raw_value = raw[key]
        parsed: Any = value
        if key == "rejected":
            parsed = _written(value, raw_value if isinstance(raw_value, dict) else {})
        elif key in ("events", "events_include", "effects", "effects_include"):
            parsed = [
                {"_path": (*here, i), **_written(item, raw_item)}
                for i, (item, raw_item) in enumerate(zip(value, raw_value, strict=True))
            ]
        elif key == "time_limits":
            parsed = {
                name: {"_path": (*here, name), **_written(limit, raw_value[name])}
                for name, limit in value.items()
            }
        out.append(Expectation(key, parsed, here, smap.position(here)[0]))
    return tuple(out)
