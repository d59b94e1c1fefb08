"""What a step expects, as the runner compares it: :class:`Expectation` values.

Each expectation is partial: only the keys written are compared. The keys each part may
hold are those of the file's model (:mod:`servflow.testing._model`), so a typo is an error
with its position, never a silent pass; they are listed here for the runner and the
procedure checks of :mod:`servflow.testing._prepare`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from servflow.testing._model import (
    EVENT_KINDS,
    REASONS,
    TIMER_STATUSES,
    EffectPattern,
    EventPattern,
    ExpectSpec,
    RejectionSpec,
    TimeLimitPattern,
    keys_of,
)

__all__ = [
    "EFFECT_KEYS",
    "EVENT_KEYS",
    "EVENT_KINDS",
    "EXPECT_KEYS",
    "REASONS",
    "REJECTION_KEYS",
    "TIMER_STATUSES",
    "TIME_LIMIT_KEYS",
    "Expectation",
]

EXPECT_KEYS = keys_of(ExpectSpec)
#: ``reason`` and ``message`` (a part of the message), then the keys of ``Rejected.details``.
REJECTION_KEYS = keys_of(RejectionSpec)
EVENT_KEYS = keys_of(EventPattern)
EFFECT_KEYS = keys_of(EffectPattern)
TIME_LIMIT_KEYS = keys_of(TimeLimitPattern)


@dataclass(frozen=True)
class Expectation:
    """One thing expected after a step: ``key`` (an ``expect:`` key) and its parsed value.

    Events, effects and time limits are dicts of the keys written, in the file's order,
    with ``_path`` (where the item stands) for the runner's messages.
    """

    key: str
    value: Any
    path: tuple[str | int, ...]
    line: int
