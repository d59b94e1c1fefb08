"""Building engines: the pure core, the public Engine with the language, and the rules both
apply with the loader (one version per id, `always` built in, calendars that exist)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import servflow
import servflow.engine
from servflow import DefinitionError
from servflow.catalogue import language_checks
from servflow.engine.calendar import ALWAYS
from servflow.engine.registry import BUILT_IN_CALENDAR, unknown_calendar_message
from servflow.model import Procedure
from servflow.procedures import load_catalogue

REPO = Path(__file__).resolve().parent.parent

MINI: dict[str, Any] = {
    "servflow": 1,
    "id": "mini",
    "version": 1,
    "title": {"en": "Mini"},
    "roles": {"clerk": {"title": {"en": "Clerk"}}},
    "states": {"open": {"title": {"en": "Open"}}, "done": {"title": {"en": "Done"}, "final": True}},
    "start": {"to": "open", "roles": ["clerk"]},
    "transitions": {"finish": {"from": "open", "to": "done", "roles": ["clerk"]}},
}

MINI_YAML = """\
servflow: 1
id: mini
version: 1
title: {en: Mini}
calendar: CALENDAR
roles:
  clerk: {title: {en: Clerk}}
states:
  open: {title: {en: Open}}
  done: {title: {en: Done}, final: true}
start: {to: open, roles: [clerk]}
transitions:
  finish: {from: open, to: done, roles: [clerk]}
"""

OFFICE = "{timezone: Asia/Shanghai, hours: {mon: ['09:00-17:00']}}"


def _proc(**changes: Any) -> Procedure:
    return Procedure.model_validate({**MINI, **changes})


def _errors(call: Any, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
    with pytest.raises(DefinitionError) as info:
        call(*args, **kwargs)
    return [(d.code, d.message) for d in info.value.errors]


# -- the public Engine is the core with the language -------------------------------------


def test_the_public_engine_is_an_engine_of_the_core():
    engine = servflow.Engine.standard()
    assert type(engine) is servflow.Engine
    assert isinstance(engine, servflow.engine.Engine)
    assert isinstance(servflow.Engine.from_directory(REPO / "procedures"), servflow.Engine)
    # The core cannot read files: it has no loading constructors to reach up with.
    assert not hasattr(servflow.engine.Engine, "from_directory")
    assert not hasattr(servflow.engine.Engine, "standard")


def test_the_core_runs_the_static_checks_it_is_given():
    wrong = _proc(transitions={"finish": {"from": "open", "to": "done", "roles": ["clark"]}})
    # Without a checker the core compiles what its caller vouches for ...
    assert servflow.engine.Engine([wrong]).procedure("mini") == wrong
    # ... with the language's checks it reports what the public Engine reports.
    by_core = _errors(servflow.engine.Engine, [wrong], checker=language_checks)
    assert by_core == _errors(servflow.Engine, [wrong])
    assert by_core == [("unknown-role", "unknown role 'clark'; did you mean 'clerk'?")]


def test_files_are_checked_once_by_the_loader_not_again_by_the_engine(monkeypatch):
    def refuse(procedure: Procedure) -> list[Any]:
        raise AssertionError(f"{procedure.id} checked again")

    monkeypatch.setattr(servflow.catalogue, "language_checks", refuse)
    # Seventeen procedures and the earlier versions kept for the cases opened on them.
    assert len(servflow.Engine.standard().procedures()) == 26
    with pytest.raises(AssertionError, match="mini checked again"):
        servflow.Engine([_proc()])


# -- the rules every set of procedures and calendars satisfies, written once ---------------


def _catalogue_errors(tmp_path: Path, files: dict[str, str]) -> list[tuple[str, str]]:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return [(d.code, d.message) for d in load_catalogue([tmp_path]).errors]


def test_a_version_is_defined_once(tmp_path):
    text = MINI_YAML.replace("calendar: CALENDAR\n", "")
    assert _catalogue_errors(tmp_path, {"a.yaml": text, "b.yaml": text}) == [
        (
            "duplicate-version",
            f"procedure 'mini' version 1 is also defined in {tmp_path / 'a.yaml'}",
        )
    ]
    assert _errors(servflow.engine.Engine, [_proc(), _proc()]) == [
        ("duplicate-version", "procedure 'mini' version 1 is given twice")
    ]
    assert [p.version for p in servflow.Engine([_proc(), _proc(version=2)]).procedures()] == [1, 2]


def test_the_built_in_calendar_keeps_its_name(tmp_path):
    message = "'always' is built in (24x7, UTC); give the calendar another name"
    calendars = f"servflow: 1\ncalendars:\n  always: {OFFICE}\n"
    assert _catalogue_errors(tmp_path, {"calendars.yaml": calendars}) == [
        ("duplicate-calendar", message)
    ]
    assert ALWAYS.spec is not None
    assert _errors(servflow.Engine, [], calendars={"always": ALWAYS.spec}) == [
        ("duplicate-calendar", message)
    ]
    # Handing the built-in calendar itself back defines nothing.
    assert servflow.Engine([], calendars={"always": ALWAYS}).calendars == {"always": ALWAYS}


def test_two_files_cannot_define_one_calendar(tmp_path):
    calendars = f"servflow: 1\ncalendars:\n  office: {OFFICE}\n"
    found = _catalogue_errors(tmp_path, {"a.yaml": calendars, "b.yaml": calendars})
    assert found == [("duplicate-calendar", "calendar 'office' is defined twice")]


@pytest.mark.parametrize(
    ("named", "message"),
    [
        ("ofice", "unknown calendar 'ofice'; did you mean 'office'?"),
        ("Always", "unknown calendar 'Always'; did you mean 'always'?"),
        ("night", "unknown calendar 'night'"),
    ],
)
def test_a_procedure_counts_in_calendars_that_exist(tmp_path, named, message):
    files = {
        "mini.yaml": MINI_YAML.replace("CALENDAR", named),
        "calendars.yaml": f"servflow: 1\ncalendars:\n  office: {OFFICE}\n",
    }
    assert _catalogue_errors(tmp_path, files) == [("unknown-calendar", message)]
    office = load_catalogue([tmp_path]).calendars
    assert _errors(servflow.Engine, [_proc(calendar=named)], calendars=office) == [
        ("unknown-calendar", message)
    ]


_names = st.text(alphabet="abcdefgiklmnorstwy_", min_size=1, max_size=8)


@given(name=_names, defined=st.sets(_names, max_size=5))
def test_a_calendar_is_known_when_defined_or_built_in(name, defined):
    message = unknown_calendar_message(name, defined)
    assert (message is None) == (name in defined or name == BUILT_IN_CALENDAR)
    if message is not None:
        assert message.startswith(f"unknown calendar {name!r}")


_procedure_keys = st.tuples(
    st.sampled_from(["a", "b"]),
    st.integers(min_value=1, max_value=2),
    st.sampled_from(["always", "office", "night", "ofice"]),
)


@settings(max_examples=40, deadline=None)
@given(
    procs=st.lists(_procedure_keys, max_size=4),
    calendars=st.lists(st.sampled_from(["office", "night", "always"]), unique=True),
)
def test_the_loader_and_the_engine_refuse_the_same_sets(procs, calendars):
    """Whatever set of procedures and calendars: the engine accepts it exactly when a folder
    of the same files loads, and for the same reasons."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for i, (pid, version, calendar) in enumerate(procs):
            text = MINI_YAML.replace("id: mini", f"id: {pid}").replace(
                "version: 1", f"version: {version}"
            )
            (root / f"p{i}.yaml").write_text(text.replace("CALENDAR", calendar), encoding="utf-8")
        if calendars:
            body = "".join(f"  {name}: {OFFICE}\n" for name in calendars)
            (root / "calendars.yaml").write_text(
                f"servflow: 1\ncalendars:\n{body}", encoding="utf-8"
            )
        by_loader = {d.code for d in load_catalogue([root]).errors}
        specs = load_catalogue([root / "calendars.yaml"]).calendars if calendars else {}
    models = [_proc(id=pid, version=version, calendar=calendar) for pid, version, calendar in procs]
    by_engine: set[str] = set()
    try:
        servflow.Engine(
            models,
            calendars={**specs, **({"always": ALWAYS.spec} if "always" in calendars else {})},
        )
    except DefinitionError as exc:
        by_engine = {d.code for d in exc.errors}
    if "always" in calendars:
        # The engine stops at the calendars it cannot take, before any procedure.
        assert by_engine == {"duplicate-calendar"} <= by_loader
    else:
        assert by_engine == by_loader
