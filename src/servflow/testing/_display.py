"""Showing a case's life to the analyst: the timeline, values, and no personal data.

:class:`Display` writes times in the scenario's zone (``2026-11-23 09:24``), values the
way they are written in YAML (``null``, ``true``, ``80%``) and one line per audit event.
Values of fields marked ``pii`` are shown as ``***`` everywhere, since failure output
ends up in CI logs that many people read. Given a language, a choice whose field gives
titles is shown with its title in that language: ``'emergency' (緊急)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from servflow.engine import Effect, Event
from servflow.model import FieldSpec
from servflow.render.common import char_columns, choice_label, columns

__all__ = ["MASK", "Display", "equal", "fit_width"]

MASK = "***"


class Display:
    """How one scenario shows times, values and events."""

    def __init__(
        self, zone: tzinfo | None, fields: Mapping[str, FieldSpec], lang: str | None = None
    ) -> None:
        self.zone = zone
        self.fields = fields
        self.lang = lang
        self.pii = frozenset(name for name, spec in fields.items() if spec.pii)

    def time(self, moment: datetime) -> str:
        local = moment.astimezone(self.zone) if self.zone is not None else moment
        text = local.strftime("%Y-%m-%d %H:%M:%S" if local.second else "%Y-%m-%d %H:%M")
        return text if self.zone is not None else f"{text}{local.strftime('%z')}"

    def show(self, value: Any, *, percent: bool = False) -> str:
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "true" if value else "false"
        if percent and isinstance(value, int | float):
            return f"{value:g}%"
        if isinstance(value, datetime):
            return self.time(value)
        if isinstance(value, list | tuple):
            return "[" + ", ".join(self.show(v, percent=percent) for v in value) + "]"
        if isinstance(value, dict):
            parts = []
            for k, v in value.items():
                if k == "_path":
                    continue
                if k == "changes" and isinstance(v, dict):
                    shown = (
                        "{"
                        + ", ".join(f"{n}: {self.field_value(n, x)}" for n, x in v.items())
                        + "}"
                    )
                else:
                    shown = self.show(v, percent=k in ("percent", "warning", "warnings"))
                parts.append(f"{k}: {shown}")
            return "{" + ", ".join(parts) + "}"
        return repr(value)

    def expected_text(self, key: str, value: Any) -> str:
        if key == "fields":
            return "{" + ", ".join(f"{n}: {self.field_value(n, v)}" for n, v in value.items()) + "}"
        return self.show(value)

    def field_value(self, name: str, value: Any) -> str:
        if value is None:
            return "null"
        if name in self.pii:
            return MASK
        spec = self.fields.get(name)
        if spec is not None and spec.columns and isinstance(value, list | tuple):
            # A table: the cells of its pii columns are masked, row by row.
            secret = {n for n, column in spec.columns.items() if column.pii}
            value = [
                {k: MASK if k in secret and v is not None else v for k, v in row.items()}
                if isinstance(row, dict)
                else row
                for row in value
            ]
        if spec is not None and spec.type == "datetime" and isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = datetime.fromisoformat(value)
        text = self.show(value)
        if spec is not None and self.lang is not None and isinstance(value, str):
            label = choice_label(spec, value, self.lang) if value in spec.choice_values else value
            if label != value:
                text = f"{text} ({label})"
        return fit_width(text, 60)

    def event_text(self, event: Event) -> str:
        return self.event_line(event, changes=False)

    def effect_text(self, effect: Effect) -> str:
        what = f"{effect.kind} {effect.recipient}"
        if effect.template:
            what += f" ({effect.template})"
        return what

    def event_line(self, event: Event, *, changes: bool = True) -> str:
        kind = event.kind
        if kind == "started":
            what = f"-> {event.target}"
        elif kind in ("fired", "auto_fired"):
            what = f"{event.trigger}: {event.source} -> {event.target}"
        elif kind == "warned":
            what = f"{event.time_limit} {event.detail.get('percent', 0):g}%"
        else:
            what = f"{event.time_limit}"
        if kind in ("started", "fired"):
            what += f"  by {event.actor} ({event.role})"
        elif event.time_limit is not None and kind == "auto_fired":
            what += f"  (time limit {event.time_limit})"
        level = event.detail.get("escalation_level")
        if level is not None:
            what += f"  escalation level {level}"
        if changes and event.changes:
            what += "  " + ", ".join(
                f"{n}={self.field_value(n, v)}" for n, v in event.changes.items()
            )
        return f"{self.time(event.at)}  {kind:<11} {what}"


def equal(want: Any, got: Any) -> bool:
    if isinstance(want, datetime) and isinstance(got, datetime):
        return want == got
    if isinstance(got, tuple):
        got = list(got)
    if isinstance(want, float | int) and isinstance(got, float | int):
        if isinstance(want, bool) or isinstance(got, bool):
            return want is got
        return float(want) == float(got)
    return bool(want == got)


def fit_width(text: str, width: int) -> str:
    """``text`` in at most ``width`` terminal columns (a CJK character takes two), cut with
    "..." when longer: a timeline line holds the same room in any script."""
    if columns(text) <= width:
        return text
    room, kept = width - 3, []
    for char in text:
        room -= char_columns(char)
        if room < 0:
            break
        kept.append(char)
    return "".join(kept) + "..."
