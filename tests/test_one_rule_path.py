"""A step is decided by one set of rules, whoever takes it: a person, the clock, a replay.

The automatic step a breach asks for (``on_breach: fire``) is decided like a person's
step, except that the procedure authorises it and a branch that fails a rule is passed
over for the next. These properties compare, over generated case data, the clock's step
with a reference written from the language's rules and with the step a person takes, and
check that a replay of either log rebuilds the same case.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from servflow import Actor, Engine, Rejected
from servflow.procedures import load_procedure

TZ = ZoneInfo("Europe/Paris")
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=TZ)
LATER = T0 + timedelta(hours=2)
CLERK = Actor(id="c", roles={"clerk"})

PROCEDURE = """\
servflow: 1
id: p
version: 1
title: {en: P}
roles:
  clerk: {title: {en: Clerk}, rank: 1}
  boss: {title: {en: Boss}, rank: 2}
fields:
  amount: {type: integer, title: {en: Amount}}
  note: {type: text, title: {en: Note}}
  ref: {type: text, title: {en: Ref}}
states:
  open: {title: {en: Open}}
  big: {title: {en: Big}}
  waiting: {title: {en: Waiting}}
  small: {title: {en: Small}}
  done: {title: {en: Done}, final: true}
start: {to: open, roles: [clerk]}
escalation: [clerk, boss]
invariants:
  - {name: waiting needs a ref, check: "state != 'waiting' or ref is not none"}
transitions:
  route:
    - {from: open, to: big, roles: [clerk], when: 'amount > 100', requires: [ref], escalates: true}
    - {from: open, to: waiting, roles: [clerk], when: 'amount > 10', clear: [note]}
    - {from: open, to: small, roles: [clerk], requires: [note], clear: [ref]}
  finish: {from: [open, big, waiting, small], to: done, roles: [clerk, boss]}
time_limits:
  respond:
    starts: {entered: open}
    stops: {entered: done}
    within: [{limit: 1h, calendar: always}]
"""
AUTOMATIC = PROCEDURE + "    on_breach: [{fire: route}]\n"

# The clock's engine takes `route` at the breach; the other records the breach only, so
# that a person can take `route` from the very same case at the very same moment.
CLOCK = Engine([load_procedure(AUTOMATIC)])
PERSON = Engine([load_procedure(PROCEDURE)])

data = st.fixed_dictionaries(
    {},
    optional={
        "amount": st.integers(min_value=-5, max_value=500),
        "note": st.sampled_from(["n", "other"]),
        "ref": st.sampled_from(["r1", "r2"]),
    },
)


def reference(values: dict[str, Any]) -> tuple[str, dict[str, Any], int] | None:
    """The clock's step by the language's rules: (target, changes, branch), or None.

    Branches in order; a guard holds, the branch's clears are made, its required fields
    have values and the invariant holds after it; the first branch passing all is taken.
    """
    amount = values.get("amount")
    branches: list[tuple[bool, str, tuple[str, ...], tuple[str, ...]]] = [
        (amount is not None and amount > 100, "big", ("ref",), ()),
        (amount is not None and amount > 10, "waiting", (), ("note",)),
        (True, "small", ("note",), ("ref",)),
    ]
    for index, (holds, target, requires, clear) in enumerate(branches):
        if not holds:
            continue
        changes = {n: None for n in clear if values.get(n) is not None}
        after = {**values, **changes}
        if any(after.get(n) is None for n in requires):
            continue
        if target == "waiting" and after.get("ref") is None:
            continue
        return target, changes, index
    return None


@settings(max_examples=150, deadline=None)
@given(data)
def test_the_clock_takes_the_branch_the_rules_choose(values: dict[str, Any]) -> None:
    case = CLOCK.start("p", actor=CLERK, data=values, at=T0).case
    out = CLOCK.advance(case, at=LATER)
    expected = reference(values)
    kinds = [e.kind for e in out.events]
    if expected is None:
        assert kinds == ["breached"]
        assert out.case.state == "open"
        return
    target, changes, branch = expected
    assert kinds == ["breached", "auto_fired"]
    step = out.events[1]
    assert (step.target, step.changes, step.actor, step.role) == (target, changes, "servflow", None)
    assert step.time_limit == "respond"
    assert step.detail["time_limit"] == "respond"
    assert step.detail["branch"] == branch
    assert ("escalation_level" in step.detail) == (target == "big")
    assert out.case.escalation_level == (1 if target == "big" else 0)
    # Replay decides the clock's step again and rebuilds the same case.
    log = [*CLOCK.start("p", actor=CLERK, data=values, at=T0).events, *out.events]
    assert CLOCK.replay(log) == out.case


@settings(max_examples=150, deadline=None)
@given(data)
def test_a_person_and_the_clock_decide_alike(values: dict[str, Any]) -> None:
    """Where a person's step is accepted, the clock takes the same branch with the same
    changes; where no guard holds for the person, the clock takes nothing."""
    opened = PERSON.start("p", actor=CLERK, data=values, at=T0)
    breached = PERSON.advance(opened.case, at=LATER)
    assert [e.kind for e in breached.events] == ["breached"]
    try:
        fired = PERSON.fire(breached.case, "route", actor=CLERK, at=LATER)
    except Rejected as exc:
        person = None
        reason = exc.reason
    else:
        person = fired.events[-1]
        reason = None
    clock = CLOCK.advance(CLOCK.start("p", actor=CLERK, data=values, at=T0).case, at=LATER)
    auto = clock.events[1] if len(clock.events) > 1 else None
    if person is not None:
        assert auto is not None
        assert (auto.target, auto.changes, auto.source) == (
            person.target,
            person.changes,
            person.source,
        )
        assert {k: v for k, v in auto.detail.items() if k != "time_limit"} == person.detail
        assert (person.actor, person.role) == ("c", "clerk")
        log = [*opened.events, *breached.events, *fired.events]
        assert PERSON.replay(log) == fired.case
    else:
        # The person was refused by a rule of the branch whose guard held (the last
        # branch has no guard); the clock passes over that branch, to a later one or to
        # nothing.
        amount = values.get("amount")
        chosen = (
            0
            if amount is not None and amount > 100
            else 1
            if amount is not None and amount > 10
            else 2
        )
        assert reason in ("invalid_data", "guard_failed")
        assert auto is None or auto.detail["branch"] > chosen
