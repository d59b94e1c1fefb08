"""Hypothesis strategies drawn from a procedure: field values, actors, opening data, steps.

For adopters' CI suites that property-test their own procedure files. Values are mostly
valid for their field (so that cases get somewhere) with a share of junk (so that the
refusals are exercised too). Requires ``hypothesis`` (the ``test`` extra).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from servflow.engine.case import Actor
from servflow.model import FieldSpec, Procedure

__all__ = ["Step", "actors", "field_values", "opening_data", "steps", "valid_values"]

_TZ = ZoneInfo("Asia/Shanghai")
_GAPS = (0, 1, 7, 20, 120, 540, 1440)  # minutes between steps


@dataclass(frozen=True)
class Step:
    """One thing that happens to a case: a trigger fired, or the clock advanced."""

    kind: str  # "fire" or "advance"
    after: timedelta
    trigger: str = ""
    actor: Actor | None = None
    data: dict[str, Any] = field(default_factory=dict)


def valid_values(spec: FieldSpec) -> st.SearchStrategy[Any]:
    """Values that fit ``spec`` (its type, choices, pattern and bounds)."""
    kind = spec.type
    if kind == "choice":
        return st.sampled_from(spec.choices or [""])
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        low = int(spec.minimum) if spec.minimum is not None else -1000
        high = int(spec.maximum) if spec.maximum is not None else 100_000
        return st.integers(low, high)
    if kind == "decimal":
        least = Decimal(str(spec.minimum if spec.minimum is not None else -1000))
        most = Decimal(str(spec.maximum if spec.maximum is not None else 100_000))
        return st.decimals(least, most, places=2, allow_nan=False, allow_infinity=False)
    if kind == "date":
        return st.dates(date(2026, 1, 1), date(2027, 12, 31))
    if kind == "datetime":
        return st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31), timezones=st.just(_TZ))
    if kind == "list":
        return st.lists(st.text(max_size=10), max_size=3)
    if spec.pattern is not None:
        return st.from_regex(spec.pattern, fullmatch=True).filter(
            lambda s: 0 < len(s) <= (spec.max_length or 200) and "\n" not in s
        )
    limit = spec.max_length or (200 if kind == "string" else 1000)
    letters = st.characters(blacklist_categories=("Cs", "Cc"))
    return st.text(letters, min_size=1, max_size=min(limit, 30))


_JUNK = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=5),
    st.booleans(),
    st.floats(allow_nan=True),
    st.lists(st.integers(), max_size=2),
    st.datetimes(datetime(2026, 1, 1), datetime(2027, 1, 1)),  # naive: always refused
)


def field_values(spec: FieldSpec) -> st.SearchStrategy[Any]:
    """Mostly valid values for ``spec``, sometimes junk of any type."""
    valid = valid_values(spec)
    return st.one_of(valid, valid, valid, _JUNK)


def actors(proc: Procedure, roles: list[str] | None = None) -> st.SearchStrategy[Actor]:
    """Actors holding one or two of ``roles`` (default: any role of the procedure)."""
    pool = sorted(roles if roles else proc.roles)
    return st.builds(
        lambda held, n: Actor(id=f"actor-{n}", roles=frozenset(held)),
        st.lists(st.sampled_from(pool), min_size=1, max_size=2),
        st.integers(0, 99),
    )


@st.composite
def opening_data(draw: st.DrawFn, proc: Procedure) -> dict[str, Any]:
    """Valid data for ``start``: its required fields, and some it accepts."""
    accepted = sorted(proc.start.accepts if proc.start.accepts is not None else proc.fields)
    data = {name: draw(valid_values(proc.fields[name])) for name in proc.start.requires}
    for name in (
        draw(st.lists(st.sampled_from(accepted), max_size=3, unique=True)) if accepted else []
    ):
        data[name] = draw(valid_values(proc.fields[name]))
    return data


@st.composite
def steps(draw: st.DrawFn, proc: Procedure) -> Step:
    """A step: usually a trigger by an actor holding one of its roles, with data for it."""
    after = timedelta(minutes=draw(st.sampled_from(_GAPS)))
    if draw(st.integers(0, 9)) == 0:
        return Step("advance", after)
    trigger = draw(st.sampled_from(sorted(proc.transitions)))
    branches = proc.transitions[trigger]
    allowed = sorted({r for b in branches for r in b.roles})
    # Usually someone the step allows; now and then anyone at all.
    actor = draw(actors(proc, allowed) if draw(st.integers(0, 9)) < 8 else actors(proc))
    accepted: set[str] = set()
    for branch in branches:
        accepted |= set(branch.accepts if branch.accepts is not None else proc.fields)
    data: dict[str, Any] = {}
    if accepted:
        for name in draw(st.lists(st.sampled_from(sorted(accepted)), max_size=3, unique=True)):
            data[name] = draw(field_values(proc.fields[name]))
    for branch in branches:
        for name in branch.requires:
            if name not in data and draw(st.integers(0, 5)) > 0:
                data[name] = draw(valid_values(proc.fields[name]))
    return Step("fire", after, trigger, actor, data)
