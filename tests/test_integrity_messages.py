"""What the check of an incoming case says: only what the procedure names, never the case's.

A tampered case is input like any other: its state, its data keys, its values and its
timers' names may carry personal data or anything else an attacker put there. The
property below plants a distinctive marker in random places of a valid case and asserts
that no :class:`~servflow.IntegrityError` repeats it; the tests after it pin the rules
that are not in the tampered corpus (tests/hostile/tampered/cases.json).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from servflow import Actor, Case, Engine, IntegrityError

REPO = Path(__file__).resolve().parent.parent
ENGINE = Engine.from_directory(
    REPO / "procedures", REPO / "tests" / "hostile" / "values" / "every_type.yaml"
)
PROC = ENGINE.procedure("every_type")
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
CLERK = Actor(id="u1", roles={"clerk"})
BASE = ENGINE.start(
    "every_type",
    actor=CLERK,
    at=T0,
    case_id="c-1",
    data={"name": "王小明", "count": 3, "amount": "12.50", "tags": ["x"]},
).case.model_dump(mode="json")

# Markers no message of servflow could hold by chance (a procedure names none of them).
MARKER = st.sampled_from(["ZQXSECRET", "QQ-marker-7731", "秘密標記", "mk_zz9"])


@st.composite
def planted(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A case's JSON form with a marker planted in one to three places."""
    marker = draw(MARKER)
    text = st.builds(lambda a, b: a + marker + b, st.text(max_size=5), st.text(max_size=5))
    value = st.one_of(
        text,
        st.lists(text, min_size=1, max_size=7),
        text.map(lambda t: t * 40),
        st.just(marker),
    )
    doc: dict[str, Any] = {
        **BASE,
        "data": dict(BASE["data"]),
        "timers": {k: dict(v) for k, v in BASE["timers"].items()},
    }
    fields = sorted(PROC.fields)
    timer = sorted(doc["timers"])[0]
    for _ in range(draw(st.integers(1, 3))):
        place = draw(
            st.sampled_from(
                ["state", "value", "key", "timer-name", "calendar", "target", "next_action"]
            )
        )
        if place == "state":
            doc["state"] = draw(text)
        elif place == "value":
            doc["data"][draw(st.sampled_from(fields))] = draw(value)
        elif place == "key":
            doc["data"][draw(text)] = draw(st.one_of(st.none(), value, st.integers()))
        elif place == "timer-name" and timer in doc["timers"]:
            doc["timers"][draw(text)] = doc["timers"].pop(timer)
        elif timer in doc["timers"]:
            doc["timers"][timer][place] = draw(text)
    return marker, doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(planted())
def test_no_integrity_error_repeats_what_the_case_holds(planted_case):
    marker, doc = planted_case
    try:
        case = Case.model_validate(doc)
    except ValidationError:
        return  # refused for its shape, before the engine sees it
    at = T0 + timedelta(days=2)
    for call in (
        lambda: ENGINE.fire(case, "edit", actor=CLERK, at=at),
        lambda: ENGINE.available(case, CLERK, at=at),
        lambda: ENGINE.advance(case, at=at),
    ):
        try:
            call()
        except IntegrityError as exc:
            said = f"{exc} {exc.problem}"
        else:
            said = ""  # a marker in a text field is a valid value
        event("refused" if said else "accepted")
        assert marker not in said


NO_LADDER = """\
servflow: 1
id: flat
version: 1
title: {en: Flat}
calendar: always
roles:
  clerk: {title: {en: Clerk}}
fields:
  note: {type: text, title: {en: Note}}
states:
  open: {title: {en: Open}}
  closed: {title: {en: Closed}, final: true}
start: {to: open, roles: [clerk]}
transitions:
  close: {from: open, to: closed, roles: [clerk]%s}
"""


def _flat(escalates: bool) -> tuple[Engine, dict[str, Any]]:
    text = NO_LADDER % (", escalates: true" if escalates else "")
    engine = Engine.from_directory(REPO / "procedures", _write(text))
    case = engine.start("flat", actor=CLERK, at=T0, case_id="c-2").case
    return engine, case.model_dump(mode="json")


def _write(text: str) -> Path:
    import tempfile

    folder = Path(tempfile.mkdtemp())
    path = folder / "flat.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_without_a_ladder_and_nothing_escalating_the_level_stays_zero():
    engine, doc = _flat(escalates=False)
    case = Case.model_validate({**doc, "escalation_level": 1})
    with pytest.raises(IntegrityError, match="escalation_level must be a whole number from 0 to 0"):
        engine.available(case, CLERK, at=T0)
    engine.available(Case.model_validate(doc), CLERK, at=T0)


def test_without_a_ladder_a_step_that_escalates_counts_escalations():
    engine, doc = _flat(escalates=True)
    case = engine.fire(
        Case.model_validate(doc), "close", actor=CLERK, at=T0 + timedelta(minutes=1)
    ).case
    assert case.escalation_level == 1
    engine.available(case, CLERK, at=T0 + timedelta(minutes=2))  # the engine's own case passes
