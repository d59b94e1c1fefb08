"""Rules of the engine shown on small procedures: the order of the checks, guards,
automatic steps, deadlines taken from the case's data."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from servflow import Actor, DefinitionError, Engine, Rejected
from servflow.engine.calendar import ALWAYS
from servflow.engine.expr import compile_expression
from servflow.errors import EvaluationError
from servflow.procedures import load_catalogue, load_procedure, load_text, read_yaml

REPO = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=TZ)  # a Monday
CLERK = Actor(id="c", roles={"clerk"})
BOSS = Actor(id="b", roles={"boss"})

BASE = """\
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
  due: {type: date, title: {en: Due}}
states:
  open: {title: {en: Open}}
  waiting: {title: {en: Waiting}}
  done: {title: {en: Done}, final: true}
"""


def engine(text: str) -> Engine:
    return Engine([load_procedure(BASE + text)])


def test_a_guard_on_start_is_enforced():
    e = engine(
        "start: {to: open, roles: [clerk], when: 'amount is not none and amount > 0'}\n"
        "transitions:\n  finish: {from: [open, waiting], to: done, roles: [clerk]}\n"
        "  park: {from: open, to: waiting, roles: [clerk]}\n"
    )
    with pytest.raises(Rejected) as info:
        e.start("p", actor=CLERK, data={"amount": 0}, at=T0)
    assert info.value.reason == "guard_failed"
    assert e.start("p", actor=CLERK, data={"amount": 5}, at=T0).case.state == "open"


def test_clear_and_escalation_keys_are_refused_on_start():
    result = load_text(BASE + "start: {to: open, roles: [clerk], clear: [note]}\n", "p.yaml")
    assert [(d.code, d.line) for d in result.diagnostics if d.code == "not-for-start"] == [
        ("not-for-start", 16)
    ]


def test_an_actor_without_a_role_is_refused_before_the_data_is_looked_at():
    e = engine(
        "start: {to: open, roles: [clerk]}\n"
        "transitions:\n"
        "  finish: {from: [open, waiting], to: done, roles: [boss], when: 'amount > 10', requires: [note]}\n"
        "  park: {from: open, to: waiting, roles: [clerk]}\n"
    )
    case = e.start("p", actor=CLERK, at=T0).case
    with pytest.raises(Rejected) as info:
        e.fire(case, "finish", actor=CLERK, data={"amount": "not a number"}, at=T0)
    assert info.value.reason == "forbidden"
    assert info.value.details["roles"] == ["boss"]
    assert "amount" not in str(info.value)
    with pytest.raises(Rejected) as info:
        e.fire(case, "finish", actor=BOSS, data={"amount": "not a number"}, at=T0)
    assert info.value.reason == "invalid_data"


def test_a_guard_that_cannot_be_evaluated_does_not_hold_and_the_next_branch_is_tried():
    e = engine(
        "start: {to: open, roles: [clerk]}\n"
        "transitions:\n"
        "  settle:\n"
        "    - {from: open, to: done, roles: [clerk], when: 'amount > 100'}\n"
        "    - {from: open, to: waiting, roles: [clerk]}\n"
        "  finish: {from: waiting, to: done, roles: [clerk]}\n"
    )
    case = e.start("p", actor=CLERK, at=T0).case  # amount is empty: `none > 100` fails
    out = e.fire(case, "settle", actor=CLERK, at=T0)
    assert out.case.state == "waiting"
    assert out.events[0].detail["branch"] == 1


AUTO = """\
start: {to: open, roles: [clerk]}
escalation: [clerk, boss]
transitions:
  bump: {from: open, to: waiting, roles: [clerk], escalates: true, clear: [note]}
  back: {from: waiting, to: open, roles: [clerk, boss]}
  finish: {from: [open, waiting], to: done, roles: [clerk, boss], follows_escalation: true}
time_limits:
  respond:
    starts: {entered: open}
    stops: {entered: done}
    within: [{limit: 1h, calendar: always}]
    on_breach: [{fire: bump}]
"""


def test_an_automatic_step_keeps_the_invariants():
    guarded = engine(
        AUTO
        + "invariants:\n  - {name: notes stay, check: \"state != 'waiting' or note is not none\"}\n"
    )
    case = guarded.start("p", actor=CLERK, data={"note": "n"}, at=T0).case
    out = guarded.advance(case, at=T0 + timedelta(hours=2))
    # `bump` would clear the note and break the rule: the breach is recorded, the step is not taken.
    assert [e.kind for e in out.events] == ["breached"]
    assert out.case.state == "open"
    plain = engine(AUTO)
    case = plain.start("p", actor=CLERK, data={"note": "n"}, at=T0).case
    out = plain.advance(case, at=T0 + timedelta(hours=2))
    assert [e.kind for e in out.events] == ["breached", "auto_fired"]
    assert out.events[1].changes == {"note": None}
    assert out.case.data["note"] is None
    assert out.case.escalation_level == 1


def test_available_applies_what_fell_due_first():
    e = engine(AUTO)
    case = e.start("p", actor=CLERK, at=T0).case
    before = {a.trigger: a for a in e.available(case, CLERK, at=T0 + timedelta(minutes=5))}
    assert before["finish"].allowed
    later = {a.trigger: a for a in e.available(case, CLERK, at=T0 + timedelta(hours=2))}
    # By then the breach has escalated the case: the clerk may no longer finish it.
    assert not later["finish"].allowed
    assert later["finish"].reason == "forbidden"


UNTIL = """\
start: {to: open, roles: [clerk]}
transitions:
  promise: {from: [open, waiting], to: waiting, roles: [clerk], accepts: [due]}
  wait: {from: waiting, to: open, roles: [clerk]}
  finish: {from: [open, waiting], to: done, roles: [clerk]}
time_limits:
  keep_promise:
    starts: {entered: waiting}
    stops: {entered: done}
    pauses: {in: open}
    within: [{until: due}]
"""


def test_a_deadline_from_a_date_field():
    calendars = load_catalogue([REPO / "procedures" / "calendars.yaml"]).calendars
    e = Engine([load_procedure(BASE + "calendar: office\n" + UNTIL)], calendars=calendars)
    case = e.start("p", actor=CLERK, at=T0).case
    with pytest.raises(Rejected) as info:
        e.fire(case, "promise", actor=CLERK, at=T0)
    assert (info.value.reason, info.value.details["field"]) == ("invalid_data", "due")
    case = e.fire(case, "promise", actor=CLERK, data={"due": "2026-11-04"}, at=T0).case
    timer = case.timers["keep_promise"]
    # "By Wednesday": the close of business on Wednesday.
    assert timer.due_at == datetime(2026, 11, 4, 17, 30, tzinfo=TZ)
    assert timer.fixed
    # A pause does not move a promised date.
    case = e.fire(case, "wait", actor=CLERK, at=T0 + timedelta(hours=1)).case
    case = e.fire(case, "promise", actor=CLERK, at=T0 + timedelta(hours=5)).case
    assert case.timers["keep_promise"].due_at == datetime(2026, 11, 4, 17, 30, tzinfo=TZ)
    # A new date moves it; a date the office is closed means the end of that day.
    case = e.fire(
        case, "promise", actor=CLERK, data={"due": "2026-11-07"}, at=T0 + timedelta(hours=6)
    ).case
    assert case.timers["keep_promise"].due_at == datetime(2026, 11, 8, 0, 0, tzinfo=TZ)
    breach = e.advance(case, at=datetime(2026, 11, 9, 9, 0, tzinfo=TZ)).events
    assert [(ev.kind, ev.at) for ev in breach] == [
        ("breached", datetime(2026, 11, 8, 0, 0, tzinfo=TZ))
    ]


def test_the_built_in_always_calendar_cannot_be_replaced():
    spec = ALWAYS.spec
    assert spec is not None
    with pytest.raises(DefinitionError):
        Engine([], calendars={"always": spec})
    assert Engine([], calendars={"always": ALWAYS}).calendars["always"] is ALWAYS


def test_repetition_is_bounded_in_the_sandbox_too():
    compiled = compile_expression("('x' * n).upper()")
    assert compiled.evaluate({"n": 3}) == "XXX"
    with pytest.raises(EvaluationError, match="repetition"):
        compiled.evaluate({"n": 10**9})


def test_yaml_special_floats():
    data = read_yaml("a: .inf\nb: -.Inf\nc: .NaN\n")[0]
    assert data["a"] == float("inf")
    assert data["b"] == float("-inf")
    assert data["c"] != data["c"]


VERSIONED = """\
start: {to: open, roles: [clerk]}
transitions:
  finish: {from: [open, waiting], to: done, roles: [clerk]}
  park: {from: open, to: waiting, roles: [clerk]}
time_limits:
  respond:
    starts: {entered: open}
    stops: {left: open}
    within: [{limit: LIMIT, calendar: always}]
"""


def _version(number: int, limit: str) -> object:
    text = BASE.replace("version: 1", f"version: {number}") + VERSIONED.replace("LIMIT", limit)
    return load_procedure(text)


def test_running_cases_keep_the_version_they_started_on():
    old, new = _version(1, "1h"), _version(2, "4h")
    e = Engine([old, new])
    assert e.procedure("p").version == 2
    opened = e.start("p", actor=CLERK, at=T0, version=1)
    pinned = opened.case
    fresh = e.start("p", actor=CLERK, at=T0).case
    assert (pinned.procedure_version, fresh.procedure_version) == (1, 2)
    # Each keeps its version's time limit, also after a round trip through JSON.
    assert pinned.timers["respond"].due_at == T0 + timedelta(hours=1)
    assert fresh.timers["respond"].due_at == T0 + timedelta(hours=4)
    reloaded = type(pinned).model_validate(pinned.model_dump(mode="json"))
    later = e.fire(reloaded, "park", actor=CLERK, at=T0 + timedelta(minutes=5))
    assert later.case.procedure_version == 1
    assert e.replay([*opened.events, *later.events]) == later.case


def test_a_changed_definition_under_the_same_version_is_refused():
    e1 = Engine([_version(1, "1h")])
    case = e1.start("p", actor=CLERK, at=T0).case
    changed = Engine([_version(1, "2h")])
    with pytest.raises(DefinitionError) as info:
        changed.fire(case, "park", actor=CLERK, at=T0)
    assert [d.code for d in info.value.errors] == ["digest-mismatch"]
    events = e1.start("p", actor=CLERK, at=T0).events
    with pytest.raises(DefinitionError):
        changed.replay(events)
    with pytest.raises(KeyError, match="no version 3"):
        e1.start("p", actor=CLERK, at=T0, version=3)


def test_a_promised_date_past_the_provisional_horizon_is_refused_as_data():
    calendars = load_catalogue([REPO / "procedures" / "calendars.yaml"]).calendars
    e = Engine([load_procedure(BASE + "calendar: office\n" + UNTIL)], calendars=calendars)
    case = e.start("p", actor=CLERK, at=T0).case
    # Past the published schedule: accepted, counted provisionally.
    promised = e.fire(case, "promise", actor=CLERK, data={"due": "2027-01-04"}, at=T0).case
    assert all(t.provisional for t in promised.timers.values() if t.status != "stopped")
    with pytest.raises(Rejected) as info:
        e.fire(case, "promise", actor=CLERK, data={"due": "2031-01-06"}, at=T0)
    assert (info.value.reason, info.value.details["field"]) == ("invalid_data", "due")
    assert "beyond the published schedule" in str(info.value)
