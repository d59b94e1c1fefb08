"""Fields of `type: table` (line items: the fees of 收取、登記、核查、上交).

* a table is rows of typed cells, each checked as a field of its column's type, stored in
  the canonical form (decimals as exact text, never floats) and read by expressions typed;
* a refusal names the field, the row and the column (``items[2].amount``) and never the
  value of a pii column;
* sums over a table are exact Decimal sums, whatever the digits (a property);
* cases with tables survive JSON, replay to the live case, and run in scenarios;
* procedures without tables keep their digests (the saved cases pin them).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal, localcontext
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from servflow import Actor, Case, Engine, Rejected
from servflow.bounds import TABLE_ROWS
from servflow.engine.expr import compile_expression
from servflow.engine.values import CellValueError, normalise, typed_value
from servflow.model import FieldSpec
from servflow.procedures import load_procedure, load_text
from servflow.render import render_sop
from servflow.testing import load_scenario_text, run_scenario

FEES = """
servflow: 1
id: fees
version: 1
title: {zh-Hant: 收費, zh-Hans: 收费, en: Fees}
roles:
  cashier: {title: {zh-Hant: 收費員, zh-Hans: 收费员, en: Cashier}, rank: 1}
  supervisor: {title: {zh-Hant: 主管, zh-Hans: 主管, en: Supervisor}, rank: 2}
fields:
  items:
    type: table
    title: {zh-Hant: 收費項目, zh-Hans: 收费项目, en: Fee items}
    columns:
      name: {type: string, title: {zh-Hant: 項目, zh-Hans: 项目, en: Item}}
      amount: {type: decimal, minimum: 0, title: {zh-Hant: 金額, zh-Hans: 金额, en: Amount}}
      payer: {type: string, pii: true, title: {zh-Hant: 繳款人, zh-Hans: 缴款人, en: Payer}}
    max_rows: 100
states:
  collected: {title: {zh-Hant: 已收取, zh-Hans: 已收取, en: Collected}, waits: {en: the check}}
  checked: {title: {zh-Hant: 已核查, zh-Hans: 已核查, en: Checked}, waits: {en: the hand-over}}
  handed_over: {title: {zh-Hant: 已上交, zh-Hans: 已上交, en: Handed over}, final: true}
start: {to: collected, roles: [cashier], requires: [items]}
transitions:
  check:
    - from: collected
      to: checked
      roles: [supervisor]
      when: "items is not none and items|sum(attribute='amount') > 10000"
    - from: collected
      to: checked
      roles: [cashier, supervisor]
      when: "items is not none and items|sum(attribute='amount') <= 10000 and items|length <= 20"
  hand_over: {from: checked, to: handed_over, roles: [cashier]}
"""
ENGINE = Engine([load_procedure(FEES)])
CASHIER = Actor(id="c1", roles={"cashier"})
BOSS = Actor(id="s1", roles={"supervisor"})
AT = datetime(2026, 11, 2, 9, tzinfo=UTC)
ITEMS = load_procedure(FEES).fields["items"]


def test_a_table_is_stored_exactly_and_read_typed() -> None:
    rows = [
        {"name": "裝修押金", "amount": "6000.10", "payer": "王小明"},
        {"name": "垃圾清運費", "amount": Decimal("4000.00")},
        {"name": "出入證工本費", "amount": 0.1},
    ]
    stored = normalise(ITEMS, rows)
    assert stored == [
        {"name": "裝修押金", "amount": "6000.10", "payer": "王小明"},
        {"name": "垃圾清運費", "amount": "4000.00", "payer": None},
        {"name": "出入證工本費", "amount": "0.1", "payer": None},
    ]
    assert normalise(ITEMS, stored) == stored  # the stored form is canonical
    typed = typed_value(ITEMS, stored)
    assert [row["amount"] for row in typed] == [
        Decimal("6000.10"),
        Decimal("4000.00"),
        Decimal("0.1"),
    ]
    assert all(type(row["amount"]) is Decimal for row in typed)
    total = compile_expression("items|sum(attribute='amount')").evaluate({"items": typed})
    assert total == Decimal("10000.20")
    assert compile_expression("items|length").evaluate({"items": typed}) == 3


@pytest.mark.parametrize(
    ("rows", "cell", "fragment"),
    [
        (
            [{"name": "a", "amount": "1"}, {"name": "b", "amount": "1"}, {"amount": "-5"}],
            "items[2].amount",
            "row 2, column 'amount': Decimal('-5') is below the minimum 0",
        ),
        ([{"name": "a", "amount": "lots"}], "items[0].amount", "expected a number"),
        ([{"name": "a", "amout": "1"}], "items[0]", "unknown column 'amout'"),
        ([{"name": "a"}, "b"], "items[1]", "expected a row"),
        ([{"name": "a\nb"}], "items[0].name", "a `string` is one line"),
    ],
)
def test_a_bad_cell_is_refused_naming_field_row_and_column(
    rows: list[object], cell: str, fragment: str
) -> None:
    with pytest.raises(Rejected) as caught:
        ENGINE.start("fees", actor=CASHIER, data={"items": rows}, at=AT)
    assert caught.value.reason == "invalid_data"
    assert caught.value.details["field"] == "items"
    assert caught.value.details["cell"] == cell
    assert fragment in caught.value.message


def test_a_pii_column_never_shows_its_value() -> None:
    secret = "王小明" * 100  # too long for a string cell
    with pytest.raises(Rejected) as caught:
        ENGINE.start("fees", actor=CASHIER, data={"items": [{"payer": secret}]}, at=AT)
    assert caught.value.details["cell"] == "items[0].payer"
    assert "王小明" not in str(caught.value)
    assert "王小明" not in repr(caught.value.details)
    # A whole table marked pii masks every column.
    whole = ITEMS.model_copy(update={"pii": True})
    with pytest.raises(CellValueError) as cell:
        normalise(whole, [{"name": "x" * 300}])
    assert "x" * 61 not in str(cell.value)
    with pytest.raises(CellValueError) as cell:
        normalise(whole, [{"amount": "-7"}])
    assert "-7" not in str(cell.value)
    assert "the value is below the minimum 0" in str(cell.value)


def test_rows_are_bounded() -> None:
    with pytest.raises(Rejected, match="more than 100 rows"):
        ENGINE.start("fees", actor=CASHIER, data={"items": [{"name": "a"}] * 101}, at=AT)
    unbounded = ITEMS.model_copy(update={"max_rows": None})
    assert len(normalise(unbounded, [{}] * TABLE_ROWS)) == TABLE_ROWS
    with pytest.raises(ValueError, match=f"more than {TABLE_ROWS} rows"):
        normalise(unbounded, [{}] * (TABLE_ROWS + 1))


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"type": "table"}, "a `table` field needs `columns`"),
        ({"type": "table", "columns": {}}, "at least one column"),
        ({"type": "string", "max_rows": 3}, "only for `table` fields"),
        ({"type": "table", "columns": {"a": {"type": "list"}}}, "Input should be"),
        ({"type": "table", "columns": {"a": {"type": "choice"}}}, "needs a non-empty `choices`"),
        ({"type": "table", "columns": {"Amount": {"type": "decimal"}}}, "column name 'Amount'"),
        ({"type": "table", "columns": {"a": {"type": "string"}}, "max_rows": 0}, "greater than"),
        ({"type": "table", "columns": {"a": {"type": "string"}}, "max_rows": 1001}, "less than"),
    ],
)
def test_a_table_written_wrong_is_refused(spec: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        FieldSpec.model_validate(spec)
    assert fragment in str(caught.value)


def test_a_table_written_wrong_is_reported_at_its_place() -> None:
    text = FEES.replace("amount: {type: decimal, minimum: 0,", "amount: {type: money, minimum: 0,")
    (problem,) = [d for d in load_text(text, "fees.yaml").diagnostics if d.severity == "error"]
    assert (problem.code, problem.line) == ("unknown-type", 15)


def test_guards_sum_and_count_the_rows() -> None:
    big = [{"name": "押金", "amount": "6000.10"}, {"name": "清運", "amount": "4000.00"}]
    case = ENGINE.start("fees", actor=CASHIER, data={"items": big}, at=AT).case
    with pytest.raises(Rejected) as caught:  # over 10000: the supervisor checks
        ENGINE.fire(case, "check", actor=CASHIER, at=AT)
    assert caught.value.reason == "forbidden"
    checked = ENGINE.fire(case, "check", actor=BOSS, at=AT)
    small = [{"name": "押金", "amount": "5999.90"}, {"name": "清運", "amount": "4000.10"}]
    other = ENGINE.start("fees", actor=CASHIER, data={"items": small}, at=AT).case
    assert ENGINE.fire(other, "check", actor=CASHIER, at=AT).case.state == "checked"
    log = [*ENGINE.start("fees", actor=CASHIER, data={"items": big}, at=AT).events]
    log += checked.events
    assert ENGINE.replay(log) == checked.case


def test_a_case_with_a_table_survives_json_and_replay() -> None:
    rows = [{"name": "押金", "amount": "123456789012345.000000000001", "payer": "王"}]
    out = ENGINE.start("fees", actor=CASHIER, data={"items": rows}, at=AT)
    text = out.case.model_dump_json()
    assert '"amount":"123456789012345.000000000001"' in text  # exact text, never a float
    assert Case.model_validate(json.loads(text)) == out.case
    assert ENGINE.replay(out.events) == out.case


# Decimals within the bounds of a `decimal` field: 15 digits before the point, 12 after.
_AMOUNTS = st.decimals(
    min_value=Decimal("-999999999999999.999999999999"),
    max_value=Decimal("999999999999999.999999999999"),
    places=12,
    allow_nan=False,
    allow_infinity=False,
) | st.decimals(min_value=0, max_value=10**15 - 1, places=0)


@settings(deadline=None, max_examples=150)
@given(st.lists(_AMOUNTS, max_size=100))
def test_a_sum_over_a_table_is_the_exact_decimal_sum(amounts: list[Decimal]) -> None:
    spec = FieldSpec.model_validate(
        {"type": "table", "columns": {"amount": {"type": "decimal"}}, "max_rows": 100}
    )
    stored = normalise(spec, [{"amount": a} for a in amounts])
    typed = typed_value(spec, stored)
    with localcontext() as exact:
        exact.prec = 200
        expected = sum(amounts, Decimal(0))
    total = compile_expression("items|sum(attribute='amount')").evaluate({"items": typed})
    assert total == expected
    assert type(total) is (Decimal if amounts else int)
    assert compile_expression("items|length").evaluate({"items": typed}) == len(amounts)


def test_the_sop_lists_the_columns_in_three_languages() -> None:
    proc = load_procedure(FEES)
    expected = {
        "en": "| table of line items | Open a case | — | columns: Item (text), Amount (number),"
        " Payer (text) 🔒; at most 100 rows |",
        "zh-Hant": "| 明細表 | 開案 | — | 欄：項目 (文字)、金額 (數值)、繳款人 (文字) 🔒；最多 100 行 |",
        "zh-Hans": "| 明细表 | 开案 | — | 栏：项目 (文字)、金额 (数值)、缴款人 (文字) 🔒；最多 100 行 |",
    }
    for lang, row in expected.items():
        assert row in render_sop(proc, lang), lang


SCENARIO = """
scenario: Fees over 10000 are checked by the supervisor
procedure: fees
timezone: Asia/Shanghai
actors:
  cashier: {roles: [cashier]}
  boss: {roles: [supervisor]}
steps:
  - start:
      as: cashier
      at: "2026-11-23 08:50"
      data:
        items: [{name: 押金, amount: "-1"}]
    expect: {rejected: {reason: invalid_data, field: items, cell: "items[0].amount"}}
  - start:
      as: cashier
      at: "2026-11-23 09:00"
      data:
        items:
          - {name: 裝修押金, amount: "6000.10", payer: 王小明}
          - {name: 垃圾清運費, amount: "4000"}
    expect:
      state: collected
      fields:
        items:
          - {name: 裝修押金, amount: "6000.1", payer: 王小明}
          - {name: 垃圾清運費, amount: "4000.00", payer: null}
  - fire: check
    as: cashier
    at: "2026-11-23 09:10"
    expect: {rejected: forbidden}
  - fire: check
    as: boss
    at: "2026-11-23 09:20"
    expect: {state: checked}
"""


def test_scenarios_take_table_data(tmp_path: Path) -> None:
    result = run_scenario(load_scenario_text(SCENARIO, "fees_scenario.yaml"), ENGINE)
    assert result.passed, result.report()


def test_a_failed_expectation_on_a_table_masks_its_pii_column() -> None:
    wrong = SCENARIO.replace('amount: "4000.00", payer: null}', 'amount: "4000.01", payer: null}')
    result = run_scenario(load_scenario_text(wrong, "fees_scenario.yaml"), ENGINE)
    assert not result.passed
    report = result.report()
    assert "fields.items: expected [" in report
    assert "王小明" not in report
    assert "***" in report


@settings(deadline=None, max_examples=50)
@given(st.data())
def test_the_testing_kit_draws_tables_that_fit(data: st.DataObject) -> None:
    from servflow.testing.strategies import valid_values

    rows = data.draw(valid_values(ITEMS))
    stored = normalise(ITEMS, rows)
    assert len(stored) == len(rows) <= 3
    assert normalise(ITEMS, stored) == stored
