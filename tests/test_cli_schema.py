"""``servflow schema``: a JSON Schema of the language that editors can use and files pass."""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from servflow.cli import main
from servflow.procedures.schema import SCHEMA_ID, language_schema, schema_text
from servflow.procedures.source import read_yaml

REPO = Path(__file__).resolve().parent.parent
SHIPPED = sorted((REPO / "procedures").glob("*.yaml"))
REGEN = "run `.venv/bin/python scripts/regen_docs.py` and commit the result"
HEADER = "# yaml-language-server: $schema=../docs/servflow.schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = language_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def _data(path: Path) -> Any:
    data, _, problems = read_yaml(path.read_bytes(), str(path))
    assert not problems
    return data


def test_the_command_prints_the_schema(capsys):
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == language_schema()
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert printed["$id"] == SCHEMA_ID


def test_the_command_writes_a_file(capsys, tmp_path):
    target = tmp_path / "schema.json"
    assert main(["schema", "-o", str(target)]) == 0
    assert capsys.readouterr().out == ""
    assert target.read_text(encoding="utf-8") == schema_text()


def test_an_unwritable_output_is_a_usage_error(capsys, tmp_path):
    assert main(["schema", "-o", str(tmp_path / "missing" / "schema.json")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_the_shipped_schemas_are_up_to_date():
    text = schema_text()
    for rel in ("src/servflow/servflow.schema.json", "docs/servflow.schema.json"):
        assert (REPO / rel).read_text(encoding="utf-8") == text, f"{rel} is out of date: {REGEN}"


def test_the_schema_is_package_data():
    shipped = resources.files("servflow").joinpath("servflow.schema.json")
    assert json.loads(shipped.read_text(encoding="utf-8")) == language_schema()


def _properties(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for name, prop in node.get("properties", {}).items():
            found.append((f"{path}.{name}", prop))
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                # A mapping of keys to their schemas (one key is itself named `properties`).
                for name, prop in value.items():
                    found.extend(_properties(prop, f"{path}/properties/{name}"))
                continue
            found.extend(_properties(value, f"{path}/{key}"))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(_properties(value, f"{path}/{i}"))
    return found


def test_every_key_is_explained_with_a_description_and_examples():
    props = _properties(language_schema())
    assert len(props) > 80
    for where, prop in props:
        assert prop.get("description"), where
        assert prop.get("examples"), where


def test_the_main_keys_are_there_for_completion():
    defs = language_schema()["$defs"]
    assert set(defs["Procedure"]["properties"]) >= {
        "servflow", "id", "version", "title", "roles", "fields", "states", "start",
        "transitions", "time_limits", "escalation", "invariants",
    }  # fmt: skip
    assert set(defs["Branch"]["properties"]) >= {"from", "to", "roles", "requires", "when"}
    assert set(defs["LocalizedText"]["properties"]) == {"zh-Hant", "zh-Hans", "en"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_file_validates(validator, path):
    errors = sorted(validator.iter_errors(_data(path)), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_file_names_the_schema(path):
    assert path.read_text(encoding="utf-8").splitlines()[0] == HEADER


def test_the_mistake_corpus_base_validates(validator):
    assert not list(validator.iter_errors(_data(REPO / "tests" / "mistakes" / "base.yaml")))


def test_a_transition_is_one_branch_or_a_list_and_from_one_state_or_many(validator):
    data = _data(REPO / "tests" / "mistakes" / "base.yaml")
    branch = data["transitions"]["close"]
    variants = [
        branch,
        [branch],
        [branch, {**branch, "from": ["recorded", "dispatched"]}],
    ]
    for value in variants:
        doc = copy.deepcopy(data)
        doc["transitions"]["close"] = value
        assert not list(validator.iter_errors(doc)), value


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d["transitions"]["close"].update(role=["x"]), "role"),
        (lambda d: d["transitions"].update(close=[]), "close"),
        (lambda d: d["states"].update(Closed={}), "Closed"),
        (lambda d: d["fields"]["phone"].update(type="str"), "str"),
        (lambda d: d["title"].update({"zh-TW": "報修"}), "zh-TW"),
        (lambda d: d["time_limits"]["repair_in_time"]["stops"].update(leaves="x"), "leaves"),
        (lambda d: d["time_limits"]["repair_in_time"].update(warn_at=["0.8"]), "0.8"),
        (lambda d: d["time_limits"]["repair_in_time"].update(on_breach=[{"after": "1h"}]), "after"),
        (lambda d: d.update(servflow=2), "2"),
        (lambda d: d["start"].update(roles=[]), "roles"),
    ],
)
def test_the_schema_flags_what_an_editor_should_underline(validator, change, where):
    doc = copy.deepcopy(_data(REPO / "tests" / "mistakes" / "base.yaml"))
    change(doc)
    assert list(validator.iter_errors(doc)), where


def test_a_calendar_file_is_not_a_procedure(validator):
    calendars = _data(REPO / "procedures" / "calendars.yaml")
    assert not list(validator.iter_errors(calendars))
    calendars["calendars"]["office"]["hours"]["mon"] = ["8:30-12:00"]
    assert list(validator.iter_errors(calendars))


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (
            lambda d: d["states"]["closed"].update(final="yes"),
            ["states", "closed", "final"],
            "'yes' is not of type 'boolean'",
        ),
        (lambda d: d.update(version="one"), ["version"], "'one' is not of type 'integer'"),
        (
            lambda d: d["fields"]["phone"].update(type="str"),
            ["fields", "phone", "type"],
            "'str' is not one of",
        ),
        # An unknown key is reported on the mapping that holds it, by name.
        (
            lambda d: d["states"]["closed"].update(finall=True),
            ["states", "closed"],
            "Additional properties are not allowed ('finall' was unexpected)",
        ),
        (
            lambda d: d.update(versoin=2),
            [],
            "Additional properties are not allowed ('versoin' was unexpected)",
        ),
        (
            lambda d: d["time_limits"]["repair_in_time"].update(warn_at=["0.8"]),
            ["time_limits", "repair_in_time", "warn_at", 0],
            "'0.8' does not match",
        ),
        # A transition is one branch or a list of branches, told apart by type: a bad key
        # inside either shape is reported inside the branch, not on the whole transition.
        (
            lambda d: d["transitions"]["dispatch"].update(form="recorded"),
            ["transitions", "dispatch"],
            "Additional properties are not allowed ('form' was unexpected)",
        ),
        (
            lambda d: d["transitions"]["dispatch"].update(roles="reception"),
            ["transitions", "dispatch", "roles"],
            "'reception' is not of type 'array'",
        ),
        (
            lambda d: d["transitions"].update(
                close=[d["transitions"]["close"], {**d["transitions"]["close"], "whne": "x"}]
            ),
            ["transitions", "close", 1],
            "Additional properties are not allowed ('whne' was unexpected)",
        ),
        (
            lambda d: d["transitions"].update(close=[{**d["transitions"]["close"], "to": 3}]),
            ["transitions", "close", 0, "to"],
            "3 is not of type 'string'",
        ),
        (
            lambda d: d["transitions"].update(close="closed"),
            ["transitions", "close"],
            "'closed' is not of type 'object'",
        ),
    ],
)
def test_one_bad_key_gives_one_error_at_that_key(validator, change, path, message):
    # The top level tells procedures from calendar files as the loader does, so that a
    # validator checks one model: with an anyOf of both, a single bad key failed the whole
    # document with one error at the root, its message the size of the file.
    doc = copy.deepcopy(_data(REPO / "tests" / "mistakes" / "base.yaml"))
    change(doc)
    errors = list(validator.iter_errors(doc))
    assert len(errors) == 1, [e.message for e in errors]
    best = jsonschema.exceptions.best_match(iter(errors))
    assert best is not None
    assert list(best.absolute_path) == path
    assert best.message.startswith(message)
    assert len(best.message) < 200


def test_a_bad_key_in_a_shipped_transition_is_reported_at_the_branch(validator):
    doc = _data(REPO / "procedures" / "repair.yaml")
    doc["transitions"]["dispatch"]["form"] = "x"
    best = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    assert best is not None
    assert list(best.absolute_path) == ["transitions", "dispatch"]
    assert best.message == "Additional properties are not allowed ('form' was unexpected)"


def test_a_calendar_file_error_points_at_its_key(validator):
    calendars = _data(REPO / "procedures" / "calendars.yaml")
    calendars["calendars"]["office"]["hours"]["mon"] = ["8:30-12:00"]
    errors = list(validator.iter_errors(calendars))
    assert [list(e.absolute_path) for e in errors] == [["calendars", "office", "hours", "mon", 0]]


def test_a_file_with_calendars_and_an_id_is_checked_as_a_procedure(validator):
    # The loader's rule: `calendars` without `id` is a calendar file, anything else a
    # procedure (which has no `calendars` key).
    doc = copy.deepcopy(_data(REPO / "tests" / "mistakes" / "base.yaml"))
    doc["calendars"] = {}
    errors = list(validator.iter_errors(doc))
    assert [e.message for e in errors] == [
        "Additional properties are not allowed ('calendars' was unexpected)"
    ]
