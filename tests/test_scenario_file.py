"""The scenario file's model: every mistake is a positioned diagnostic, and nothing else.

The table pins the message of each class of mistake (shape, type, choice, time, the rules
between keys) with its line and column; the property test feeds the loader any data a
YAML file can hold and accepts only a loaded scenario or a :class:`ScenarioError`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from servflow.errors import Diagnostic
from servflow.testing import ScenarioError, _model, load_scenario_text, run_scenario
from servflow.testing._model import ScenarioFile

HEAD = (
    "scenario: x\nprocedure: repair\ntimezone: Asia/Shanghai\nactors:\n"
    "  clerk: {roles: [repair_reception]}\n  boss: [cs_supervisor]\nsteps:\n"
)
START = '  - start: {as: clerk, at: "2026-11-23 09:00"}\n'
FIRE = "  - fire: x\n    as: clerk\n"
TIME_HELP = "write e.g. 2026-11-23 09:00, or 2026-11-23T09:00+08:00 with an offset"
REPO = Path(__file__).resolve().parent.parent
OUT_OF_RANGE = "outside the years 1 to 9999 (in UTC) that a time can hold"
REASONS = (
    "unknown_trigger, not_in_state, forbidden, beyond_authority, guard_failed, invalid_data, "
    "stale_version, final_state"
)

MISTAKES = [
    ("a list, not a file", "- a\n", ["1:1 not-a-mapping a scenario file must be a mapping of keys to values, not a list"]),
    (
        "nothing required",
        "description: d\n",
        [f"1:1 missing-key a scenario file needs the key {k!r}" for k in ("actors", "procedure", "scenario", "steps")],
    ),
    ("unknown top key", HEAD.replace("steps:\n", "stpes: 1\nsteps:\n") + START, ["7:1 unknown-key unknown key 'stpes' in a scenario file; did you mean 'steps'?"]),
    ("a number as title", HEAD.replace("scenario: x", "scenario: 5") + START, ["1:11 not-text `scenario` must be a non-empty text, not 5"]),
    ("an empty procedure", HEAD.replace("procedure: repair", "procedure: ''") + START, ["2:12 not-text `procedure` must be a non-empty text, not ''"]),
    ("version 0", HEAD.replace("steps:\n", "procedure_version: 0\nsteps:\n") + START, ["7:20 not-a-number `procedure_version` must be a whole number >= 1, not 0"]),
    (
        "unknown zone",
        HEAD.replace("Asia/Shanghai", "Mars/Base") + START,
        ["3:11 unknown-timezone unknown time zone 'Mars/Base': write an IANA name such as Asia/Shanghai or Asia/Hong_Kong",
         "8:28 bad-time `at`: time '2026-11-23 09:00' has no UTC offset and the scenario sets no `timezone`; add `timezone: Asia/Shanghai` (say) or write the offset"],
    ),
    ("roles not a list", HEAD.replace("boss: [cs_supervisor]", "boss: {roles: 5}") + START, ["6:17 bad-roles the roles of actor 'boss' must be a list of role names"]),
    ("unknown actor key", HEAD.replace("boss: [cs_supervisor]", "boss: {roles: [a], rank: 2}") + START, ["6:22 unknown-key unknown key 'rank' in actor 'boss'"]),
    ("actor without roles", HEAD.replace("boss: [cs_supervisor]", "boss: {}") + START, ["6:3 missing-key actor 'boss' needs the key 'roles'"]),
    ("no steps", HEAD + "  []\n", ["8:3 no-steps `steps` must be a list of at least one step"]),
    ("a step that is text", HEAD + "  - hello\n", ["8:5 not-a-mapping step 1 must be a mapping of keys to values, not 'hello'"]),
    (
        "two actions",
        HEAD + START + "  - fire: x\n    advance: '2026-11-23 10:00'\n    as: clerk\n",
        ["9:5 step-action step 2 needs exactly one of `start`, `fire` or `advance`, not fire and advance"],
    ),
    (
        "beside an advance",
        HEAD + START + "  - advance: '2026-11-23 10:00'\n    as: clerk\n    data: {}\n",
        ["10:5 unknown-key `as` has no meaning for an `advance` step", "11:5 unknown-key `data` has no meaning for an `advance` step"],
    ),
    ("advance to nothing", HEAD + START + "  - advance:\n", [f"9:13 bad-time `advance` must be a time ({TIME_HELP}), not nothing (null)"]),
    ("fire a number", HEAD + START + "  - fire: 5\n    as: clerk\n", ["9:11 bad-step `fire` must be a trigger name or a mapping, not 5"]),
    ("fire without trigger", HEAD + START + "  - fire: {as: clerk}\n", ["9:11 missing-key `fire` needs a trigger: `fire: dispatch`"]),
    (
        "as twice",
        HEAD + START + "  - fire: {trigger: x, as: clerk}\n    as: boss\n",
        ["9:24 duplicate-key `as` is given twice: inside `fire` and beside it"],
    ),
    ("start a text", HEAD + "  - start: now\n", ["8:12 bad-step `start` must be a mapping (as, at, data), not 'now'"]),
    (
        "start with a version",
        HEAD + '  - start: {as: clerk, at: "2026-11-23 09:00"}\n    expected_version: 1\n',
        ["9:5 unknown-key `expected_version` has no meaning for `start`"],
    ),
    (
        "start with nothing",
        HEAD + "  - start: {}\n",
        ["8:5 missing-key step 1 needs `as`: the actor who acts (clerk, boss)", "8:5 missing-key step 1 needs `at`: when the case is opened"],
    ),
    ("as nothing", HEAD + START + "  - fire: x\n    as:\n", ["10:8 unknown-actor unknown actor None"]),
    ("data a list", HEAD + START + FIRE + "    data: [1]\n", ["11:11 not-a-mapping `data` must be a mapping of keys to values, not a list"]),
    ("version as text", HEAD + START + FIRE + "    expected_version: '3'\n", ["11:23 not-a-number `expected_version` must be a whole number >= 1, not '3'"]),
    ("note nothing", HEAD + START + FIRE + "    note:\n", ["11:10 not-text `note` must be a non-empty text, not nothing (null)"]),
    ("expect a text", HEAD + START + FIRE + "    expect: recorded\n", ["11:13 not-a-mapping `expect` must be a mapping of keys to values, not 'recorded'"]),
    ("state nothing", HEAD + START + FIRE + "    expect: {state: null}\n", ["11:21 not-text `state` must be a non-empty text, not nothing (null)"]),
    ("unknown reason", HEAD + START + FIRE + "    expect: {rejected: nope}\n", [f"11:24 unknown-value `reason` must be one of {REASONS}, not 'nope'"]),
    ("rejected without reason", HEAD + START + FIRE + "    expect: {rejected: {field: a}}\n", ["11:14 missing-key `rejected` needs the key 'reason'"]),
    ("events a mapping", HEAD + START + FIRE + "    expect: {events: {kind: fired}}\n", ["11:22 not-a-list `events` must be a list (write [] for none), not a mapping"]),
    (
        "event kind typo",
        HEAD + START + FIRE + "    expect: {events: [{kind: fird}]}\n",
        ["11:30 unknown-value `kind` must be one of started, fired, auto_fired, warned, breached, breach_step, not 'fird'; did you mean 'fired'?"],
    ),
    (
        "every event key wrong",
        HEAD + START + FIRE + "    expect: {events: [{at: 5, percent: 120, cycle: -1, changes: 3, trigger: 4}]}\n",
        [
            f"11:28 bad-time `at` must be a time ({TIME_HELP}), not 5",
            "11:40 bad-percent `percent` must be a percentage like 80%, not 120",
            "11:52 not-a-number `cycle` must be a whole number >= 0, not -1",
            "11:65 not-a-mapping `changes` must be a mapping of keys to values, not 3",
            "11:77 not-text `trigger` must be a non-empty text, not 4",
        ],
    ),
    (
        "notify and record",
        HEAD + START + FIRE + "    expect: {effects: [{notify: a, record: b}]}\n",
        ["11:24 bad-effect `effects[1]`: an effect is a `notify` or a `record`, not both"],
    ),
    (
        "bad time-limit shorthand",
        HEAD + START + FIRE + "    expect: {time_limits: {a: runing}}\n",
        ["11:31 unknown-value `status` must be one of running, paused, stopped, not_started, not 'runing'; did you mean 'running'?"],
    ),
    ("time limit a number", HEAD + START + FIRE + "    expect: {time_limits: {a: 5}}\n", ["11:31 not-a-mapping time limit 'a' must be a mapping of keys to values, not 5"]),
    (
        "warnings",
        HEAD + START + FIRE + "    expect: {time_limits: {a: {warnings: [50%, 0, abc]}}}\n",
        ["11:48 bad-percent `warnings[2]` must be a percentage like 80%, not 0", "11:51 bad-percent `warnings[3]` must be a percentage like 80%, not 'abc'"],
    ),
    ("a key twice", HEAD + START + "  - fire: x\n    fire: y\n", ["10:5 duplicate-key duplicate key 'fire' (first at line 9); YAML would silently keep only the last one"]),
    # Times that Python's datetime cannot hold once in UTC (the engine's time) are bad
    # times at their place, never an OverflowError.
    ("before year 1 in UTC", HEAD + '  - start: {as: clerk, at: "0001-01-01 00:00"}\n', [f"8:28 bad-time `at`: bad time '0001-01-01 00:00': {OUT_OF_RANGE}"]),
    ("with its offset", HEAD + '  - start: {as: clerk, at: "0001-01-01T07:59+08:00"}\n', [f"8:28 bad-time `at`: bad time '0001-01-01T07:59+08:00': {OUT_OF_RANGE}"]),
    (
        "after year 9999 in UTC",
        HEAD.replace("Asia/Shanghai", "America/Los_Angeles") + START.replace("2026-11-23 09:00", "2026-11-23 09:00-08:00") + "  - advance: '9999-12-31 23:00'\n",
        [f"9:14 bad-time `advance`: bad time '9999-12-31 23:00': {OUT_OF_RANGE}"],
    ),
    ("an event's time", HEAD + START + FIRE + "    expect: {events: [{at: '9999-12-31T23:59-00:01'}]}\n", [f"11:28 bad-time `at`: bad time '9999-12-31T23:59-00:01': {OUT_OF_RANGE}"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES]
)
def test_each_mistake_is_one_positioned_diagnostic(text: str, expected: list[str]) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, "s.yaml")
    got = [f"{d.line}:{d.column} {d.code} {d.message}" for d in info.value.diagnostics]
    assert got == expected
    assert all(
        str(d).startswith(f"s.yaml:{d.line}:{d.column}: error ") for d in info.value.diagnostics
    )


def test_every_model_of_the_file_is_frozen_and_closed() -> None:
    models = [
        v
        for v in vars(_model).values()
        if isinstance(v, type) and issubclass(v, BaseModel) and v is not BaseModel
    ]
    assert ScenarioFile in models
    assert len(models) >= 10
    for model in models:
        assert model.model_config.get("frozen") is True, model
        assert model.model_config.get("extra") == "forbid", model
    # The keys the docs list are the model's.
    schema = json.dumps(ScenarioFile.model_json_schema())
    for key in ("events_include", "expected_version", "breached_at", "could_decide"):
        assert f'"{key}"' in schema


def test_shorthands_mean_their_long_forms() -> None:
    short = load_scenario_text(
        HEAD
        + START
        + "  - fire: x\n    as: boss\n    expect: {rejected: forbidden, time_limits: {a: not_started}}\n"
    )
    long = load_scenario_text(
        HEAD.replace("boss: [cs_supervisor]", "boss: {roles: [cs_supervisor]}")
        + START.replace("start: {as: clerk, ", "start:\n      as: clerk\n      ")
        .replace(', at: "', '\n      at: "')
        .replace('"}', '"')
        + "  - fire: {trigger: x, as: boss}\n"
        + "    expect: {rejected: {reason: forbidden}, time_limits: {a: {status: not_started}}}\n"
    )
    assert short.actors == long.actors
    for a, b in zip(short.steps, long.steps, strict=True):
        assert (a.action, a.trigger, a.actor, a.at, a.data) == (
            b.action,
            b.trigger,
            b.actor,
            b.at,
            b.data,
        )
        assert [e.value for e in a.expect] == [
            {**e.value, "a": {**e.value["a"], "_path": a.expect[1].value["a"]["_path"]}}
            if e.key == "time_limits"
            else e.value
            for e in b.expect
        ]


# Texts a scalar may be, times at the edges of what datetime holds among them.
_TEXTS = ["", "x", "clerk", "2026-11-23 09:00", "50%", "fired", "0001-01-01 00:00",
          "9999-12-31 23:59", "0001-01-01T00:00+14:00", "9999-12-31T23:59-12:00"]  # fmt: skip
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from(_TEXTS),
)
_keys = st.sampled_from(
    ["scenario", "procedure", "actors", "steps", "timezone", "start", "fire", "advance", "as", "at", "data",
     "expect", "state", "rejected", "events", "effects", "time_limits", "roles", "kind", "reason", "status",
     "warnings", "notify", "record", "trigger", "expected_version", "note", "x"]
)  # fmt: skip
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.fixed_dictionaries(
        {"scenario": _values, "procedure": _values, "actors": _values, "steps": _values},
        optional={"timezone": _values, "description": _values, "x": _values},
    )
)
def test_any_data_loads_or_raises_a_scenario_error(data: dict[str, object]) -> None:
    # JSON is YAML: every structure drawn here is a file an analyst could write.
    problems: tuple[object, ...] = ()
    try:
        scenario = load_scenario_text(json.dumps(data), "s.yaml")
    except ScenarioError as exc:
        problems = exc.diagnostics
    else:
        assert scenario.steps
        return
    assert problems
    for d in problems:
        assert isinstance(d, Diagnostic)
        assert (d.file, d.severity) == ("s.yaml", "error")
        assert d.line >= 1
        assert d.column >= 1


@pytest.mark.parametrize(
    ("zone", "value"),
    [
        ("Asia/Shanghai", "0001-01-01 00:00"),
        ("America/Los_Angeles", "9999-12-31 23:00"),
        ("Asia/Shanghai", "0001-01-01T07:59+08:00"),
        ("Asia/Shanghai", "9999-12-31 23:59"),
    ],
)
def test_a_data_time_at_the_edges_is_refused_by_the_engine(zone: str, value: str) -> None:
    # A time in a step's data is the engine's to judge: passed on as written, refused as
    # invalid_data naming the field, never an OverflowError in the runner.
    text = (
        f"scenario: edge\nprocedure: repair\ntimezone: {zone}\n"
        "actors:\n  clerk: {roles: [repair_reception]}\nsteps:\n"
        '  - start:\n      as: clerk\n      at: "2026-11-23 09:00"\n'
        '      data: {resident_name: a, address: b, phone: "138 0013 8000", fault: c, '
        f'appointment_at: "{value}"}}\n'
        "    expect: {rejected: {reason: invalid_data, field: appointment_at}}\n"
    )
    result = run_scenario(load_scenario_text(text, "edge.yaml"), procedures=REPO / "procedures")
    assert result.failures == ()
    assert result.steps_run == 1
