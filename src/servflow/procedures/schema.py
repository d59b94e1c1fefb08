"""The JSON Schema of the procedure language, generated from the models, for editors.

An editor with the YAML language server reads the schema named in a file's first line::

    # yaml-language-server: $schema=../docs/servflow.schema.json

and then completes keys, explains them on hover and underlines what does not fit. The
schema is generated from the pydantic models of :mod:`servflow.model` and the calendar
file model, so it cannot drift from what the loader accepts; this module only
post-processes it where the models are wider or narrower than the files:

* a transition is one branch (a mapping) *or* a list of branches, told apart by type so
  that errors point at the bad key inside a branch, and a branch's ``from`` one state or a
  list (the models normalise both into lists);
* names of roles, fields, states, triggers and time limits follow the name pattern;
* every property carries a description and, where one helps, examples;
* the top level tells the two kinds of file apart the way the loader does (``calendars``
  and no ``id``: a calendar file), so that errors point at the key that is wrong.

The schema is deliberately no stricter than the loader: cross-references (a state that
does not exist, an unknown field in an expression) are for ``servflow check``.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from servflow.engine.limits import PERCENT_PATTERN
from servflow.model import LANGUAGES, NAME_PATTERN, Procedure
from servflow.procedures.load import CalendarFile

__all__ = ["SCHEMA_ID", "SCHEMA_URI", "language_schema", "schema_text"]

SCHEMA_URI = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:servflow:language:1"

Schema = dict[str, Any]

_LANGUAGE_NAMES = {
    "zh-Hant": "Traditional Chinese (繁體中文)",
    "zh-Hans": "Simplified Chinese (简体中文)",
    "en": "English",
}

# Examples the models do not carry; (definition, property) -> examples.
_EXAMPLES: dict[tuple[str, str], list[Any]] = {
    ("Procedure", "version"): [1, 2],
    ("Procedure", "description"): [
        {"zh-Hant": "報修接待管理員記錄報修…", "en": "Record a repair…"}
    ],
    ("Procedure", "calendar"): ["office", "always"],
    ("Procedure", "roles"): [
        {"repair_reception": {"title": {"zh-Hant": "報修接待管理員"}, "rank": 1}}
    ],
    ("Procedure", "fields"): [{"priority": {"type": "choice", "choices": ["urgent", "normal"]}}],
    ("Procedure", "states"): [{"recorded": {"title": {"zh-Hant": "已登記"}}}],
    ("Procedure", "start"): [{"to": "recorded", "roles": ["repair_reception"]}],
    ("Procedure", "transitions"): [
        {"dispatch": {"from": "recorded", "to": "dispatched", "roles": ["repair_reception"]}}
    ],
    ("Procedure", "time_limits"): [
        {
            "dispatch_in_time": {
                "starts": {"entered": "recorded"},
                "stops": {"left": "recorded"},
                "within": [{"limit": "30m"}],
            }
        }
    ],
    ("Procedure", "invariants"): [
        [{"name": "closed cases were called back", "check": "satisfied"}]
    ],
    ("Role", "description"): [{"en": "Records repair requests and chases maintenance."}],
    ("State", "description"): [{"en": "Waiting for the maintenance department."}],
    ("State", "final"): [True],
    ("FieldSpec", "description"): [{"en": "As the resident said it."}],
    ("Invariant", "name"): ["closed repairs were called back"],
    ("StartOrBranch", "effects"): [[{"notify": "maintenance", "template": "work_order"}]],
    ("StartOrBranch", "escalates"): [True],
    ("StartOrBranch", "follows_escalation"): [True],
    ("TimeLimit", "within"): [
        [{"when": "priority == 'emergency'", "limit": "15m"}, {"limit": "30m"}]
    ],
    ("TimeLimit", "on_breach"): [
        [{"notify": "cs_supervisor"}, {"fire": "escalate", "after": "2h"}]
    ],
    ("TimeLimit", "title"): [{"zh-Hant": "及時派工", "en": "Dispatch in time"}],
    ("TimeLimitTarget", "when"): ["priority == 'emergency'"],
    ("TimeLimitTarget", "calendar"): ["always", "office"],
    ("TimeLimitTarget", "end_of_working_day"): [True],
    ("CalendarFile", "servflow"): [1],
    ("CalendarFile", "calendars"): [
        {"office": {"timezone": "Asia/Shanghai", "hours": {"mon": ["08:30-12:00", "13:30-17:30"]}}}
    ],
    ("CalendarSpec", "title"): [{"zh-Hant": "管理處辦公時間", "en": "Management office hours"}],
    ("CalendarSpec", "hours"): [{"mon": ["08:30-12:00", "13:30-17:30"], "sat": ["09:00-12:00"]}],
    ("CalendarSpec", "holidays"): [{"country": "CN"}, {"country": "HK"}],
    ("CalendarSpec", "overrides"): [{"2026-02-14": "workday", "2026-12-24": ["08:30-12:00"]}],
    ("CalendarSpec", "workday_hours"): [["08:30-12:00", "13:30-17:30"]],
    ("CalendarSpec", "published_through"): ["2026-12-31"],
    ("HolidaySource", "country"): ["CN", "HK", "TW", "MO"],
    ("HolidaySource", "subdivision"): ["ENG"],
    ("HolidaySource", "categories"): [["public", "optional"]],
}
for _day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
    _EXAMPLES[("WeeklyHours", _day)] = [["08:30-12:00", "13:30-17:30"], ["09:00-12:00"]]

_ONE_OR_MANY_NAMES: Schema = {
    "anyOf": [
        {"type": "string"},
        {"type": "array", "items": {"type": "string"}, "minItems": 1},
    ]
}


def _localized_text() -> Schema:
    return {
        "type": "object",
        "description": "Text per language: zh-Hant, zh-Hans, en.",
        "additionalProperties": False,
        "properties": {
            lang: {
                "type": "string",
                "description": f"The text in {_LANGUAGE_NAMES[lang]}.",
                "examples": [example],
            }
            for lang, example in zip(LANGUAGES, ("已派工", "已派工", "Dispatched"), strict=True)
        },
    }


def _is_localized(prop: Schema) -> bool:
    names = prop.get("propertyNames", {})
    return prop.get("type") == "object" and names.get("enum") == list(LANGUAGES)


def _split(model_schema: Schema) -> tuple[Schema, dict[str, Schema]]:
    root = copy.deepcopy(model_schema)
    defs = root.pop("$defs", {})
    return root, defs


def _tidy(name: str, definition: Schema) -> None:
    """Drop pydantic's generated property titles; localized text by reference; examples."""
    for prop_name, prop in definition.get("properties", {}).items():
        auto_title = prop_name.replace("_", " ").title()
        if prop.get("title") == auto_title:
            del prop["title"]
        if _is_localized(prop):
            kept = {k: prop[k] for k in ("description", "examples") if k in prop}
            prop.clear()
            prop.update({"$ref": "#/$defs/LocalizedText", **kept})
        kind = "StartOrBranch" if name in ("Start", "Branch") else name
        extra = _EXAMPLES.get((kind, prop_name)) or _EXAMPLES.get((name, prop_name))
        if extra is not None and "examples" not in prop:
            prop["examples"] = extra


def language_schema() -> Schema:
    """The JSON Schema (draft 2020-12) of procedure and calendar files."""
    procedure, defs = _split(Procedure.model_json_schema(by_alias=True))
    calendar_file, calendar_defs = _split(CalendarFile.model_json_schema(by_alias=True))
    defs.update(calendar_defs)
    defs["Procedure"] = procedure
    defs["CalendarFile"] = calendar_file
    for name, definition in defs.items():
        _tidy(name, definition)

    props = procedure["properties"]
    for group in ("roles", "fields", "states", "transitions", "time_limits"):
        props[group]["propertyNames"] = {"pattern": NAME_PATTERN}
    # One branch or a list of branches, told apart by the value's type (as the loader
    # does) rather than by an anyOf: with an anyOf, a bad key inside a branch fails both
    # alternatives and a validator reports the whole transition; with if/then/else it
    # validates the one shape meant and points at the key that is wrong.
    props["transitions"]["additionalProperties"] = {
        "description": "One branch, or a list of branches tried in order (first match wins).",
        "if": {"type": "array"},
        "then": {"type": "array", "items": {"$ref": "#/$defs/Branch"}, "minItems": 1},
        "else": {"$ref": "#/$defs/Branch"},
    }
    props["roles"]["minProperties"] = 1
    props["states"]["minProperties"] = 1

    branch = defs["Branch"]["properties"]
    branch["from"] = {**_ONE_OR_MANY_NAMES, **_without_type(branch["from"])}
    for step in ("Start", "Branch"):
        defs[step]["properties"]["roles"]["minItems"] = 1

    limit = defs["TimeLimit"]["properties"]
    limit["within"]["minItems"] = 1
    limit["warn_at"]["items"] = {
        "type": "string",
        "pattern": PERCENT_PATTERN,
        "description": "A percentage of the time limit, e.g. 80%.",
    }

    defs["LocalizedText"] = _localized_text()
    return {
        "$schema": SCHEMA_URI,
        "$id": SCHEMA_ID,
        "title": "servflow procedure or calendar file",
        "description": (
            "A service-desk procedure (roles, fields, states, start, transitions, time limits, "
            "invariants) or a file of business calendars. Check a file with `servflow check`."
        ),
        # The loader's own rule (a mapping with `calendars` and no `id` is a calendar file,
        # anything else a procedure) as a discriminator, not an anyOf: a validator then
        # checks one model and reports the key that is wrong, where an anyOf fails as a
        # whole with one error the size of the document.
        "if": {"required": ["calendars"], "not": {"required": ["id"]}},
        "then": {"$ref": "#/$defs/CalendarFile"},
        "else": {"$ref": "#/$defs/Procedure"},
        "$defs": dict(sorted(defs.items())),
    }


def _without_type(prop: Schema) -> Schema:
    """A property's documentation, without its (replaced) shape."""
    return {k: v for k, v in prop.items() if k in ("description", "examples", "title", "default")}


def schema_text() -> str:
    """The schema as the JSON text shipped in the wheel and in ``docs/``."""
    return json.dumps(language_schema(), indent=2, ensure_ascii=False) + "\n"
