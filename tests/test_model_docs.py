"""What the model's docstring promises: every field of every model of the language carries a
description (the JSON Schema's hover text comes from it), and the generated schema gives
every key an example."""

from __future__ import annotations

import inspect

from pydantic import BaseModel

import servflow.calendar_spec
import servflow.model
from servflow.procedures.schema import language_schema


def _models() -> list[type[BaseModel]]:
    found = []
    for module in (servflow.model, servflow.calendar_spec):
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseModel) and value.__module__ == module.__name__:
                found.append(value)
    return found


def test_every_field_of_every_model_has_a_description():
    models = _models()
    assert {"Procedure", "TimeLimit", "CalendarSpec", "WeeklyHours"} <= {m.__name__ for m in models}
    missing = [
        f"{model.__name__}.{name}"
        for model in models
        for name, info in model.model_fields.items()
        if not info.description
    ]
    assert missing == []


def test_every_field_of_every_model_has_an_example_in_the_schema():
    defs = language_schema()["$defs"]
    # A private base (`_Step`) is no definition of its own: its fields are looked at in the
    # models built on it (Start and Branch).
    models = [m for m in _models() if not m.__name__.startswith("_")]
    assert [m.__name__ for m in _models() if m.__name__.startswith("_")]  # some were left out
    for base in (m for m in _models() if m.__name__.startswith("_") and m.model_fields):
        assert any(issubclass(m, base) for m in models), f"{base.__name__} is used by no model"
    assert [m.__name__ for m in models if m.__name__ not in defs] == []
    missing = [
        f"{model.__name__}.{info.alias or name}"
        for model in models
        for name, info in model.model_fields.items()
        if not defs[model.__name__]["properties"].get(info.alias or name, {}).get("examples")
    ]
    assert missing == []
