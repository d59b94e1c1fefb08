"""What the diagram and the SOP renderers share: localized titles and durations.

A title missing in the wanted language falls back to the other Chinese script, then to
English, then to the name itself, so that a half-translated procedure still renders.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from servflow.engine.durations import parse_duration
from servflow.model import LANGUAGES, Language

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "format_duration", "localized"]

DEFAULT_LANGUAGE: Language = "zh-Hant"

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
