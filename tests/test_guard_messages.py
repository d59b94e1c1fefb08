"""Conditions in the analyst's words: `message` on branches and invariants.

A refused person reads the message (in the language the host picks) instead of the
expression, which stays in ``Rejected.details``; the SOP and the diagram show it too; a
procedure that does not use the key keeps its digest; ``servflow check --strict`` asks a
procedure that gives messages to give one for every condition.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from servflow import Actor, Engine, Rejected
from servflow.cli import main
from servflow.procedures import digest_of, load_procedure, load_text
from servflow.render.diagram import render_mermaid
from servflow.render.sop import render_sop

REPO = Path(__file__).resolve().parent.parent

REFUND = """
servflow: 1
id: refund
version: 1
title: {zh-Hant: 退款, zh-Hans: 退款, en: Refund}
roles:
  clerk: {title: {zh-Hant: 職員, zh-Hans: 职员, en: Clerk}, rank: 1}
fields:
  amount: {type: decimal, title: {zh-Hant: 金額, zh-Hans: 金额, en: Amount}}
  decision: {type: choice, choices: [paid, refused], title: {en: Decision}}
  receipt: {type: string, title: {en: Receipt}}
states:
  requested: {title: {en: Requested}}
  done: {title: {en: Done}, final: true}
start:
  to: requested
  roles: [clerk]
  when: "amount is not none and amount > 0"
  message:
    zh-Hant: 退款金額須大於零
    zh-Hans: 退款金额须大于零
    en: A refund is for more than nothing
transitions:
  decide:
    - from: requested
      to: done
      roles: [clerk]
      when: "decision == 'paid' and amount <= 500"
      message: {zh-Hant: 五百元以內方可直接支付, zh-Hans: 五百元以内方可直接支付, en: Only up to 500 is paid at once}
    - from: requested
      to: done
      roles: [clerk]
      when: "decision == 'refused'"
      message: {en: Or the refund is refused}
invariants:
  - name: paid refunds have a receipt
    check: "decision != 'paid' or receipt is not none"
    message:
      zh-Hant: 已支付的退款須有收據
      zh-Hans: 已支付的退款须有收据
      en: A paid refund needs its receipt
"""

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CLERK = Actor(id="c1", roles={"clerk"})


def _engine(text: str = REFUND) -> Engine:
    result = load_text(text, file="refund.yaml")
    assert result.ok, result.diagnostics
    assert result.procedure is not None
    return Engine([result.procedure])


ENGINE = _engine()


def _rejected(call: object, *args: object, **kwargs: object) -> Rejected:
    assert callable(call)
    with pytest.raises(Rejected) as info:
        call(*args, **kwargs)
    return info.value


def test_a_refused_start_reads_the_message_and_keeps_the_expression_in_details() -> None:
    exc = _rejected(ENGINE.start, "refund", actor=CLERK, data={"amount": "0"}, at=AT)
    assert exc.reason == "guard_failed"
    assert exc.message == "'start': A refund is for more than nothing"
    assert exc.details["expression"] == "amount is not none and amount > 0"
    assert "amount >" not in exc.message
    assert exc.message_in("zh-Hant") == "退款金額須大於零"
    assert exc.message_in("zh-Hans") == "退款金额须大于零"
    assert str(exc) == "guard_failed: 'start': A refund is for more than nothing"


def test_the_messages_of_every_branch_tried_are_joined_in_each_language() -> None:
    case = ENGINE.start("refund", actor=CLERK, data={"amount": "900"}, at=AT).case
    exc = _rejected(ENGINE.fire, case, "decide", actor=CLERK, data={"decision": "paid"}, at=AT)
    assert exc.details["expression"] == [
        "decision == 'paid' and amount <= 500",
        "decision == 'refused'",
    ]
    assert exc.messages == {
        "zh-Hant": "五百元以內方可直接支付 / Or the refund is refused",
        "zh-Hans": "五百元以内方可直接支付 / Or the refund is refused",
        "en": "Only up to 500 is paid at once / Or the refund is refused",
    }
    assert exc.message == "'decide': Only up to 500 is paid at once / Or the refund is refused"


def test_a_broken_invariant_reads_its_message() -> None:
    case = ENGINE.start("refund", actor=CLERK, data={"amount": "90"}, at=AT).case
    exc = _rejected(ENGINE.fire, case, "decide", actor=CLERK, data={"decision": "paid"}, at=AT)
    assert exc.details["invariant"] == "paid refunds have a receipt"
    assert exc.message == (
        "'decide' would break the rule 'paid refunds have a receipt': A paid refund needs its receipt"
    )
    assert exc.message_in("zh-Hans") == "已支付的退款须有收据"


def test_without_a_message_the_rejection_is_as_it_was() -> None:
    engine = _engine(REFUND.replace("      message: {en: Or the refund is refused}\n", ""))
    case = engine.start("refund", actor=CLERK, data={"amount": "900"}, at=AT).case
    exc = _rejected(engine.fire, case, "decide", actor=CLERK, data={"decision": "paid"}, at=AT)
    # Only the branch that has one speaks; a procedure with none is unchanged.
    assert exc.messages["en"] == "Only up to 500 is paid at once"
    plain = Engine.standard()
    nine = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    reception = Actor(id="u7", roles={"repair_reception"})
    exc = _rejected(plain.start, "repair", actor=reception, data={}, at=nine)
    assert exc.messages == {}
    assert exc.message_in("en") == exc.message


def test_the_message_language_falls_back_to_the_other_chinese_then_english() -> None:
    exc = Rejected("guard_failed", "technical")
    assert exc.message_in("en") == "technical"
    exc.worded({"zh-Hans": "简体"}, "x: 简体")
    assert (exc.message_in("zh-Hant"), exc.message_in("en")) == ("简体", "简体")
    exc.worded({"en": "English", "zh-Hant": "繁體"}, "x: English")
    assert (exc.message_in("zh-Hans"), exc.message_in("fr")) == ("繁體", "English")


def test_procedures_without_the_new_keys_keep_their_digest() -> None:
    repair = load_procedure(REPO / "procedures" / "repair.v1.yaml")
    dumped = repair.model_dump(mode="json", by_alias=True)
    assert "message" not in dumped["start"]
    assert "assignee" not in dumped["start"]
    assert all("message" not in i for i in dumped["invariants"])
    text = (REPO / "procedures" / "repair.v1.yaml").read_text(encoding="utf-8")
    worded = text.replace(
        "check: \"state != 'closed' or satisfied\"}",
        "check: \"state != 'closed' or satisfied\", message: {en: Called back first}}",
    )
    assert worded != text
    assert digest_of(load_procedure(worded)) != digest_of(repair)


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("zh-Hant", "五百元以內方可直接支付"),
        ("zh-Hans", "五百元以内方可直接支付"),
        ("en", "Only up to 500 is paid at once"),
    ],
)
def test_the_sop_and_the_diagram_show_the_words(lang: str, words: str) -> None:
    proc = ENGINE.procedure("refund")
    sop = render_sop(proc, lang)
    steps = sop.split("\n## ")[4]  # the steps, before the time limits and the rules
    assert steps.count("\n- **") > 5
    assert words in steps
    assert "decision ==" not in steps
    # The rules appendix keeps the expression beside the words, for checking.
    assert f"{words} (`decision == 'paid' and amount <= 500`)" in sop
    assert f"[{words[:10]}" in render_mermaid(proc, lang)


def test_strict_check_asks_for_a_message_on_every_condition(tmp_path, capsys) -> None:
    path = tmp_path / "refund.yaml"
    path.write_text(REFUND.replace("      message: {en: Or the refund is refused}\n", ""), "utf-8")
    assert main(["check", str(path)]) == 0
    assert "guard-without-message" not in capsys.readouterr().out
    assert main(["check", "--strict", str(path)]) == 1
    lines = [line for line in capsys.readouterr().out.splitlines() if "without-message" in line]
    assert len(lines) == 1
    assert ":33:13: warning guard-without-message the condition of branch 2 of 'decide'" in lines[0]
    # A procedure that gives no message at all is left alone.
    assert main(["check", "--strict", str(REPO / "tests" / "mistakes" / "base.yaml")]) == 0
    assert "without-message" not in capsys.readouterr().out


def test_a_key_set_to_nothing_is_as_if_absent() -> None:
    text = (REPO / "procedures" / "repair.v1.yaml").read_text(encoding="utf-8")
    nulled = text.replace(
        "  cancel:\n    from: [recorded, dispatched]\n",
        "  cancel:\n    message: ~\n    assignee: ~\n    from: [recorded, dispatched]\n",
    )
    assert nulled != text
    assert digest_of(load_procedure(nulled)) == digest_of(load_procedure(text))
