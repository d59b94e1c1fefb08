"""One rule for a guard that cannot be evaluated, and the warning that shows its effect.

The engine's rule since 0.1: a guard that cannot be evaluated does not hold, so the next
branch is tried. With ``amount > 1000`` before a branch without ``when``, an empty
``amount`` silently takes the later branch; ``servflow check`` warns
(``guard-fails-when-empty``) wherever a guard can fail on an empty field and a later
branch from the same state follows it, and stays quiet when the guard says what an
empty field means.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from servflow import Actor, Engine, Rejected
from servflow.procedures import load_text

CLERK = Actor(id="c", roles={"clerk"})
AT = datetime(2026, 11, 23, 9, tzinfo=UTC)


def refund(first: str, second: str | None = "", *, amount: str = "") -> str:
    # Without a second branch, `paid` is reached by a trigger of its own.
    second_branch = (
        "  pay:\n    - {from: open, to: paid, roles: [clerk]}\n"
        if second is None
        else "    - {from: open, to: paid, roles: [clerk]"
        + (f', when: "{second}"' if second else "")
        + "}\n"
    )
    return f"""\
servflow: 1
id: refund
version: 1
title: {{en: Refund}}
calendar: always
roles:
  clerk: {{title: {{en: Clerk}}}}
fields:
  amount: {{type: decimal, title: {{en: Amount}}{amount}}}
  kind: {{type: choice, choices: [cash, card], title: {{en: Kind}}}}
  due: {{type: date, title: {{en: Due}}}}
states:
  open: {{title: {{en: Open}}}}
  needs_approval: {{title: {{en: Needs approval}}, final: true}}
  paid: {{title: {{en: Paid}}, final: true}}
start: {{to: open, roles: [clerk]}}
transitions:
  decide:
    - {{from: open, to: needs_approval, roles: [clerk], when: "{first}"}}
{second_branch}"""


def warnings(text: str) -> list[tuple[int, int, str]]:
    result = load_text(text, "refund.yaml")
    assert result.ok, [str(d) for d in result.diagnostics]
    return [
        (d.line, d.column, d.message)
        for d in result.diagnostics
        if d.code == "guard-fails-when-empty"
    ]


@pytest.mark.parametrize(
    ("guard", "field"),
    [
        ("amount > 1000", "amount"),
        ("amount * 2 > 1000 and kind == 'cash'", "amount"),
        ("not (amount >= 10)", "amount"),
        ("due > due", "due"),
        ("kind == 'cash' and amount > 1000", "amount"),
    ],
)
def test_a_guard_that_fails_on_an_empty_field_before_a_fallback_is_flagged(guard, field):
    text = refund(guard)
    found = warnings(text)
    assert len(found) == 1, found
    line, column, message = found[0]
    # At the guard itself: the opening quote of the first branch's `when`.
    lines = text.splitlines()
    at = next(i for i, row in enumerate(lines) if "needs_approval, roles" in row)
    assert (line, column) == (at + 1, lines[at].index('"') + 1)
    assert message.startswith(
        f"the guard of branch 1 of 'decide' cannot be evaluated when {field!r} is empty, "
        "and then branch 2 from 'open' is taken instead"
    )


@pytest.mark.parametrize(
    "guard",
    [
        "amount is not none and amount > 1000",
        "amount is none or amount > 1000",
        "kind == 'cash'",
        "(amount if amount is not none else 0) > 1000",
    ],
)
def test_a_guard_that_says_what_empty_means_is_not_flagged(guard):
    assert warnings(refund(guard)) == []


def test_without_a_later_branch_there_is_nothing_to_fall_through_to():
    assert warnings(refund("amount > 1000", None)) == []


def test_a_field_that_can_never_be_empty_is_not_flagged():
    text = refund("amount > 1000", amount=", default: 0").replace(
        "start: {to: open, roles: [clerk]}", "start: {to: open, roles: [clerk], accepts: [kind]}"
    )
    text = text.replace("roles: [clerk], when:", "roles: [clerk], accepts: [kind], when:")
    text = text.replace("to: paid, roles: [clerk]}", "to: paid, roles: [clerk], accepts: [kind]}")
    assert warnings(text) == []


def test_the_engine_takes_the_later_branch_as_the_docs_say():
    engine = Engine([load_text(refund("amount > 1000"), "refund.yaml").procedure])
    case = engine.start("refund", actor=CLERK, at=AT).case
    assert engine.fire(case, "decide", actor=CLERK, at=AT).case.state == "paid"


def test_with_one_branch_the_refusal_says_why_it_cannot_be_evaluated():
    engine = Engine([load_text(refund("amount > 1000", None), "refund.yaml").procedure])
    case = engine.start("refund", actor=CLERK, at=AT).case
    with pytest.raises(Rejected) as info:
        engine.fire(case, "decide", actor=CLERK, at=AT)
    assert info.value.reason == "guard_failed"
    assert "cannot be evaluated" in info.value.message
