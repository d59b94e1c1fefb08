"""Hypothesis strategies for procedures: actors, field values and whole case lives.

A *life* is a list of steps (fire a trigger as an actor with some data after some time,
or advance the clock) drawn from what a procedure defines, with a share of deliberately
wrong steps (unknown triggers, foreign roles, bad values) so that rejections are
exercised as much as acceptances.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from servflow.model import Procedure
from servflow.testing.strategies import field_values, valid_values

TZ = ZoneInfo("Asia/Shanghai")
#: Lives start here; the seed calendars are published through 2026-12-31.
EPOCH = datetime(2026, 11, 2, 8, 0, tzinfo=TZ)


@dataclass(frozen=True)
class Step:
    kind: str  # "fire" or "advance"
    trigger: str
    roles: frozenset[str]
    data: dict[str, Any]
    after: timedelta


# The field-value strategies are the testing kit's own (servflow.testing.strategies).
valid_value = valid_values
value_for = field_values


@st.composite
def step_for(draw: st.DrawFn, proc: Procedure) -> Step:
    triggers = sorted(proc.transitions)
    roles = sorted(proc.roles)
    after = draw(
        st.sampled_from(
            [
                timedelta(0),
                timedelta(minutes=1),
                timedelta(minutes=7),
                timedelta(minutes=20),
                timedelta(hours=2),
                timedelta(hours=9),
                timedelta(days=1),
            ]
        )
    )
    if draw(st.integers(0, 9)) == 0:
        return Step("advance", "", frozenset(), {}, after)
    trigger = draw(
        st.sampled_from([*triggers, "no_such_trigger"])
        if draw(st.integers(0, 15)) == 0
        else st.sampled_from(triggers)
    )
    branches = proc.transitions.get(trigger, [])
    branch_roles = sorted({r for b in branches for r in b.roles}) or roles
    # Usually a role the step allows, sometimes any role, sometimes none at all.
    pick = draw(st.integers(0, 9))
    if pick < 7:
        held = frozenset(draw(st.lists(st.sampled_from(branch_roles), min_size=1, max_size=2)))
    elif pick < 9:
        held = frozenset(draw(st.lists(st.sampled_from(roles), max_size=2)))
    else:
        held = frozenset()
    accepted: list[str] = []
    for branch in branches:
        accepted.extend(branch.accepts if branch.accepts is not None else proc.fields)
    names = sorted(set(accepted)) or sorted(proc.fields)
    data: dict[str, Any] = {}
    if names:
        for name in draw(st.lists(st.sampled_from(names), max_size=4, unique=True)):
            data[name] = draw(value_for(proc.fields[name]))
        # Fill what the branches require, mostly, so that lives get somewhere.
        for branch in branches:
            for name in branch.requires:
                if name not in data and draw(st.integers(0, 5)) > 0:
                    data[name] = draw(valid_value(proc.fields[name]))
    if draw(st.integers(0, 30)) == 0:
        data["not_a_field"] = 1
    return Step("fire", trigger, held, data, after)


@st.composite
def start_data(draw: st.DrawFn, proc: Procedure) -> dict[str, Any]:
    names = proc.start.accepts if proc.start.accepts is not None else list(proc.fields)
    data = {n: draw(valid_value(proc.fields[n])) for n in proc.start.requires}
    for n in (
        draw(st.lists(st.sampled_from(sorted(names)), max_size=3, unique=True)) if names else []
    ):
        data[n] = draw(valid_value(proc.fields[n]))
    return data


def lives(
    proc: Procedure, max_steps: int = 25
) -> st.SearchStrategy[tuple[dict[str, Any], list[Step]]]:
    return st.tuples(start_data(proc), st.lists(step_for(proc), max_size=max_steps))


utc_offsets = st.sampled_from(
    [UTC, TZ, ZoneInfo("Asia/Hong_Kong"), ZoneInfo("Europe/London"), ZoneInfo("America/New_York")]
)


# -- time-limit clauses and breach actions, as a file writes them -----------------------

#: State and trigger names a clause may mention (`start` opens a case).
clause_names = st.sampled_from(["open", "done", "waiting", "start", "go", "close"])
#: One name or a list of names, the two shapes a clause's value takes.
one_or_many = st.one_of(clause_names, st.lists(clause_names, max_size=3))
#: A `starts`/`stops` mapping: any of entered, left, event.
clauses = st.dictionaries(st.sampled_from(["entered", "left", "event"]), one_or_many)
#: An `on_breach` step with any of its keys (possibly none of the actions).
breach_actions = st.fixed_dictionaries(
    {},
    optional={
        "notify": st.sampled_from(["lead", "head"]),
        "template": st.just("late"),
        "fire": st.just("escalate"),
        "escalate": st.booleans(),
        "after": st.sampled_from(["2h", "1wd"]),
    },
)
#: Mappings of clause and action keys (and strays) to values of every JSON shape.
clause_junk = st.dictionaries(
    st.sampled_from(
        [
            "entered",
            "left",
            "event",
            "in",
            "in_",
            "notify",
            "template",
            "fire",
            "escalate",
            "after",
            "x",
        ]
    ),
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-2, 2),
        clause_names,
        st.lists(st.one_of(clause_names, st.integers(0, 1)), max_size=2),
    ),
    max_size=3,
)
