"""Hints for error messages: the valid name that was probably meant."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["did_you_mean"]


def did_you_mean(name: object, valid: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest valid name, or ``""`` when none is close."""
    if not isinstance(name, str):
        return ""
    matches = difflib.get_close_matches(name, sorted(valid), n=1, cutoff=0.6)
    if not matches:
        lowered = {v.lower(): v for v in valid}
        if name.lower() in lowered:
            matches = [lowered[name.lower()]]
    return f"; did you mean {matches[0]!r}?" if matches else ""
