"""What the diagram and the SOP renderers share: localized titles and durations.

A title missing in the wanted language falls back to the other Chinese script, then to
English, then to the name itself, so that a half-translated procedure still renders.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from servflow.engine.durations import parse_duration
from servflow.engine.expr import ExpressionSyntaxError
from servflow.model import LANGUAGES, FieldSpec, Language, LocalizedName, Procedure
from servflow.procedures.checks import constants

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "char_columns",
    "choice_label",
    "columns",
    "format_duration",
    "labelled_expression",
    "localized",
    "localized_name",
]

DEFAULT_LANGUAGE: Language = "zh-Hant"


def char_columns(char: str) -> int:
    """How many terminal columns ``char`` takes: a wide (CJK) character takes two."""
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


def columns(text: str) -> int:
    """How many terminal columns ``text`` takes: wide (CJK) characters take two."""
    return sum(map(char_columns, text))


_FALLBACK: dict[str, tuple[str, ...]] = {
    "zh-Hant": ("zh-Hant", "zh-Hans", "en"),
    "zh-Hans": ("zh-Hans", "zh-Hant", "en"),
    "en": ("en", "zh-Hant", "zh-Hans"),
}

_UNITS: dict[str, dict[str, tuple[str, str]]] = {
    # language -> unit -> (singular, plural); the Chinese scripts do not inflect.
    "zh-Hant": {"wd": ("個工作天", "個工作天"), "h": ("小時", "小時"), "m": ("分鐘", "分鐘"),
                "s": ("秒", "秒")},
    "zh-Hans": {"wd": ("个工作日", "个工作日"), "h": ("小时", "小时"), "m": ("分钟", "分钟"),
                "s": ("秒", "秒")},
    "en": {"wd": ("working day", "working days"), "h": ("hour", "hours"),
           "m": ("minute", "minutes"), "s": ("second", "seconds")},
}  # fmt: skip


def localized(texts: Mapping[Any, str], lang: str, default: str = "") -> str:
    """The text in ``lang``, or the nearest language that has one, or ``default``.

    A blank text counts as missing: a diagram cannot draw an empty label, nor an SOP a
    heading without words.
    """
    for candidate in _FALLBACK.get(lang, LANGUAGES):
        text = texts.get(candidate)
        if text and not text.isspace():
            return _printable(text)
    return default


def localized_name(name: LocalizedName | None, lang: str) -> str:
    """A name written as one text (as is) or per language (in ``lang``, or the nearest)."""
    if name is None:
        return ""
    if isinstance(name, str):
        return _printable(name)
    return localized(name, lang)


def choice_label(spec: FieldSpec, value: str, lang: str) -> str:
    """A choice's title in ``lang`` (or the nearest language), or the value itself."""
    return localized(spec.choice_title(value), lang, value)


# A quoted text of the expression language with nothing escaped in it: the only kind a
# choice's value is written as in a guard.
_QUOTED = re.compile(r"'([^'\\]*)'|\"([^\"\\]*)\"")


def labelled_expression(proc: Procedure, source: str, lang: str) -> str:
    """``source`` with each quoted choice value compared to its field shown as its title.

    ``priority == 'emergency'`` reads ``priority == 「緊急」`` in zh-Hant. A text is
    replaced only when every labelled choice field the expression compares it with gives
    it the same title, so the reader never sees a title that belongs to another field.
    """
    try:
        compared = constants(source)
    except ExpressionSyntaxError:
        return source
    titles: dict[str, set[str]] = {}
    for name, values in compared.items():
        spec = proc.fields.get(name)
        if spec is None or not isinstance(spec.choices, dict):
            continue
        for value in values:
            if isinstance(value, str) and value in spec.choices:
                titles.setdefault(value, set()).add(choice_label(spec, value, lang))

    def title(match: re.Match[str]) -> str:
        text = match.group(1) if match.group(1) is not None else match.group(2)
        shown = titles.get(text, set())
        return f"「{next(iter(shown))}」" if len(shown) == 1 else match.group(0)

    return _QUOTED.sub(title, source) if titles else source


def _printable(text: str) -> str:
    # Control characters other than line breaks and tabs have no place in a document:
    # dot refuses a NUL, and writes a BEL unescaped into its JSON. They become U+FFFD,
    # visible, rather than vanishing silently.
    if text.isprintable():
        return text
    return "".join(
        "\ufffd" if unicodedata.category(ch) == "Cc" and not ch.isspace() else ch for ch in text
    )


def format_duration(text: str, lang: str) -> str:
    """``2wd`` -> ``2 個工作天`` / ``2 working days``; unparsable text comes back as is."""
    try:
        duration = parse_duration(text)
    except (TypeError, ValueError):
        return text
    units = _UNITS.get(lang, _UNITS["en"])
    hours, rest = divmod(duration.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts: list[str] = []
    for amount, unit in (
        (duration.working_days, "wd"),
        (hours, "h"),
        (minutes, "m"),
        (seconds, "s"),
    ):
        if amount:
            singular, plural = units[unit]
            parts.append(f"{amount} {singular if amount == 1 else plural}")
    return " ".join(parts) or text
