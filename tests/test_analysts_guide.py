"""docs/analysts.md teaches every key that the shipped procedures and calendars use.

An analyst who copies a shipped procedure should find each of its keys explained in the
guide, with an example, without reading the language reference. The keys are found by
walking each shipped file's loaded YAML beside the JSON Schema of the language: a key the
schema lists as a property is a key of the language (``pauses``, ``until``, ``zh-Hant``);
a key it takes under ``additionalProperties`` is a name the analyst chose (a state, a
field) and is left out, but what lies below it is walked.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from servflow.procedures.source import read_yaml

REPO = Path(__file__).resolve().parent.parent
SCHEMA: dict[str, Any] = json.loads((REPO / "docs" / "servflow.schema.json").read_text("utf-8"))
SHIPPED = sorted((REPO / "procedures").glob("*.yaml"))
GUIDE = REPO / "docs" / "analysts.md"


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMA["$defs"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _fits(schema: dict[str, Any], value: Any) -> bool:
    schema = _resolve(schema)
    kind = schema.get("type")
    if isinstance(value, dict):
        return kind == "object" or "properties" in schema or "additionalProperties" in schema
    if isinstance(value, list):
        return kind == "array" or "items" in schema
    return kind not in ("object", "array")


def _keys(schema: dict[str, Any], value: Any, found: set[str]) -> None:
    schema = _resolve(schema)
    if "if" in schema:  # one branch or a list of branches
        _keys(schema["then"] if _fits(schema["if"], value) else schema["else"], value, found)
        return
    for option in schema.get("anyOf", []) + schema.get("oneOf", []):
        if _fits(option, value):
            _keys(option, value, found)
            return
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        names = schema.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                found.add(key)
                _keys(properties[key], item, found)
            elif isinstance(names, dict):
                _keys(names, item, found)
            else:
                raise AssertionError(f"the schema has no place for key {key!r}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            _keys(schema["items"], item, found)


def keys_of(path: Path) -> set[str]:
    """The keys of the language that the file at ``path`` uses."""
    data = read_yaml(path.read_text(encoding="utf-8"), str(path))[0]
    root = SCHEMA["then"] if "calendars" in data and "id" not in data else SCHEMA["else"]
    found: set[str] = set()
    _keys(root, data, found)
    return found


def taught(key: str, text: str) -> bool:
    """The key shown as code in the guide: `` `key` ``, `` `key: ...` `` or ``key:`` in YAML."""
    return re.search(rf"(?<![\w-]){re.escape(key)}(?=`|:)", text) is not None


def test_the_walk_finds_keys_and_leaves_names_out():
    repair = keys_of(REPO / "procedures" / "repair.yaml")
    assert {"servflow", "roles", "rank", "requires", "on_breach", "after", "zh-Hans"} <= repair
    assert not {"repair_reception", "dispatched", "dispatch_in_time", "priority"} & repair
    calendars = keys_of(REPO / "procedures" / "calendars.yaml")
    assert {"timezone", "hours", "mon", "holidays", "published_through"} <= calendars
    assert "office" not in calendars


def test_taught_needs_the_key_as_code():
    assert taught("until", "a deadline `until` a field")
    assert taught("until", "  - {until: reply_due}")
    assert not taught("until", "wait until the resident calls")
    assert not taught("in", "`in_time`")


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_key_a_shipped_file_uses_is_taught(path: Path):
    guide = GUIDE.read_text(encoding="utf-8")
    assert sorted(k for k in keys_of(path) if not taught(k, guide)) == []


def _yaml_blocks() -> list[str]:
    text = GUIDE.read_text(encoding="utf-8")
    return re.findall(r"^```yaml\n(.*?)^```", text, re.S | re.M)


def _valid(definition: str, data: Any, *, whole: bool) -> bool:
    schema = dict(SCHEMA["$defs"][definition])
    if not whole:  # a fragment of the file: its keys are checked, not its completeness
        schema.pop("required", None)
    validator = jsonschema.Draft202012Validator({**schema, "$defs": SCHEMA["$defs"]})
    return validator.is_valid(data)


def _fits_the_language(data: Any) -> bool:
    if "calendars" in data:
        return _valid("CalendarFile", data, whole=True)
    # A part of a procedure, of a time limit, or named entries of a group (a field, a step)
    return (
        _valid("Procedure", data, whole=False)
        or _valid("TimeLimit", data, whole=False)
        or any(
            _valid("Procedure", {group: data}, whole=False)
            for group in ("fields", "states", "transitions")
        )
    )


def test_the_guide_has_yaml_examples_of_the_language():
    assert len(_yaml_blocks()) >= 12


@pytest.mark.parametrize("block", _yaml_blocks(), ids=lambda b: b.strip().splitlines()[0][:40])
def test_every_yaml_example_of_the_guide_reads_and_fits_the_language(block: str):
    if all(line.startswith("#") for line in block.splitlines()):
        return  # the schema line that starts every file
    data, _, problems = read_yaml(block, "analysts.md")
    assert problems == []
    if "scenario" in data:  # a scenario, not a procedure (the shipped ones: test_scenarios.py)
        return
    assert _fits_the_language(data), block
