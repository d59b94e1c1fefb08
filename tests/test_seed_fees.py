"""The fees procedures (procedures/fees.yaml, fees_daily_close.yaml, fees_monthly_statement.yaml), §4.8.

For any line items: a collection is checked against the published prices, a large sum
(local policy, example: 10,000) is reported before it is handed over (日收日報), and only
the whole amount collected is handed over (4.8.3 不可挪作它用). For any day's receipts: the
close balances only when its total is their sum and all was handed over, a difference
goes to the office manager, and a day with a large sum closes only when it was reported.
For any statement: its totals are the sums of its lines. The calendar opens a daily close
on every working day (holidays and make-up working days of the office calendar count) and
a statement on the last day of every month.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servflow import Actor, Engine, Rejected

REPO = Path(__file__).resolve().parent.parent
ENGINE = Engine.from_directory(REPO / "procedures")
SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 12, 7, 9, 0, tzinfo=SHANGHAI)
LARGE = Decimal("10000")  # fees.yaml: local policy, an example

CASHIER = Actor(id="c1", roles={"cashier"})
SUPERVISOR = Actor(id="s1", roles={"cs_supervisor"})
FINANCE = Actor(id="f1", roles={"finance"})
MANAGER = Actor(id="m1", roles={"office_manager"})

amounts = st.decimals(min_value=0, max_value=20000, places=2, allow_nan=False)
lines = st.lists(
    st.fixed_dictionaries(
        {
            "item": st.sampled_from(["物業服務費", "代收水費", "裝修管理費", "停車費"]),
            "unit_price": amounts,
            "quantity": st.integers(min_value=0, max_value=3).map(Decimal),
        }
    ).map(lambda r: {**r, "amount": r["unit_price"] * r["quantity"]}),
    min_size=1,
    max_size=4,
)


def _collect(items: list[dict[str, object]]) -> tuple[object, list[object]]:
    opened = ENGINE.start(
        "fees",
        actor=CASHIER,
        at=MONDAY,
        data={
            "unit": "A-1203",
            "category": "property_service",
            "receipt_no": "SF-1",
            "items": items,
        },
    )
    return opened.case, list(opened.events)


@settings(max_examples=60, deadline=None)
@given(items=lines, short=st.decimals(min_value="0.01", max_value=100, places=2))
def test_a_large_sum_is_reported_before_the_whole_amount_is_handed_over(items, short):
    case, log = _collect(items)
    total = sum((Decimal(str(r["amount"])) for r in items), Decimal(0))
    checked = ENGINE.fire(
        case,
        "check",
        actor=CASHIER,
        data={"prices_checked": True},
        at=MONDAY + timedelta(minutes=5),
    )
    log += checked.events
    case = checked.case
    at = MONDAY + timedelta(minutes=10)
    if total >= LARGE:
        assert case.state == "to_report"
        with pytest.raises(Rejected) as early:
            ENGINE.fire(
                case,
                "hand_over",
                actor=CASHIER,
                data={"handed_over_amount": total, "handover_ref": "JK-1"},
                at=at,
            )
        assert early.value.reason == "not_in_state"
        reported = ENGINE.fire(
            case, "report_large_sum", actor=CASHIER, data={"report_notes": "已報"}, at=at
        )
        assert ("notify", "office_manager", "fees_large_sum") in [
            (e.kind, e.recipient, e.template) for e in reported.effects
        ]
        case, log = reported.case, [*log, *reported.events]
    assert case.state == "checked"
    if total >= short:  # anything less than the whole amount is refused (不可挪作它用)
        with pytest.raises(Rejected) as diverted:
            ENGINE.fire(
                case,
                "hand_over",
                actor=CASHIER,
                data={"handed_over_amount": total - short, "handover_ref": "JK-1"},
                at=at,
            )
        assert diverted.value.reason == "guard_failed"
        assert "不可挪作它用" in diverted.value.message_in("zh-Hant")
        assert "不可挪作它用" in diverted.value.message_in("zh-Hans")
        assert "never diverted" in diverted.value.message_in("en")
    handed = ENGINE.fire(
        case,
        "hand_over",
        actor=CASHIER,
        data={"handed_over_amount": total, "handover_ref": "JK-1"},
        at=at,
    )
    assert handed.case.state == "handed_over"
    assert handed.case.timers["cleared_same_day"].breached_at is None  # 日收日清
    confirmed = ENGINE.fire(
        handed.case, "confirm_receipt", actor=FINANCE, data={"finance_notes": "已入賬"}, at=at
    )
    assert confirmed.case.state == "closed"
    log += [*handed.events, *confirmed.events]
    assert ENGINE.verify(log, stored=confirmed.case).ok  # the audit log rebuilds the live case


def test_money_collected_after_hours_is_due_at_the_next_close_of_business():
    case, _ = _collect([{"item": "停車費", "unit_price": "300", "quantity": "1", "amount": "300"}])
    assert case.timers["cleared_same_day"].due_at == datetime(2026, 12, 7, 17, 30, tzinfo=SHANGHAI)
    late = ENGINE.start(
        "fees",
        actor=CASHIER,
        at=datetime(2026, 12, 11, 18, 0, tzinfo=SHANGHAI),  # a Friday evening
        data={
            "unit": "A-1203",
            "category": "other",
            "receipt_no": "QT-1",
            "items": [{"item": "停車費", "unit_price": "300", "quantity": "1", "amount": "300"}],
        },
    ).case
    assert late.timers["cleared_same_day"].due_at == datetime(2026, 12, 14, 17, 30, tzinfo=SHANGHAI)


receipts = st.lists(
    st.fixed_dictionaries(
        {
            "receipt_no": st.sampled_from(["SF-1", "SF-2", "ZX-3"]),
            "unit": st.just("A-1"),
            "amount": amounts,
        }
    ),
    max_size=5,
)


@settings(max_examples=60, deadline=None)
@given(
    day=receipts, off=st.decimals(min_value="-50", max_value=50, places=2), reported=st.booleans()
)
def test_a_day_closes_only_balanced_with_its_large_sums_reported(day, off, reported):
    opened = ENGINE.start(
        "fees_daily_close", actor=CASHIER, data={"business_date": "2026-12-07"}, at=MONDAY
    ).case
    total = sum((Decimal(str(r["amount"])) for r in day), Decimal(0))
    data = {
        "receipts": day,
        "collected_total": total,
        "handed_over_total": max(total + off, Decimal(0)),
        "large_sums_reported": reported,
    }
    at = MONDAY + timedelta(hours=1)
    with pytest.raises(Rejected) as wrong_total:
        ENGINE.fire(
            opened, "reconcile", actor=CASHIER, data={**data, "collected_total": total + 1}, at=at
        )
    assert wrong_total.value.reason == "guard_failed"
    large = any(Decimal(str(r["amount"])) >= LARGE for r in day)
    if large and not reported:
        with pytest.raises(Rejected) as unreported:
            ENGINE.fire(opened, "reconcile", actor=CASHIER, data=data, at=at)
        assert "日收日報" in unreported.value.message_in("zh-Hant")
        return
    closed = ENGINE.fire(opened, "reconcile", actor=CASHIER, data=data, at=at).case
    if data["handed_over_total"] == total:
        assert closed.state == "for_review"
    else:
        assert closed.state == "difference"
        with pytest.raises(Rejected):
            ENGINE.fire(closed, "review", actor=SUPERVISOR, data={"review_notes": "同意"}, at=at)
        reported = ENGINE.fire(
            closed,
            "report_breach",
            actor=MANAGER,
            data={"difference_explanation": "短款", "manager_report": "已上報"},
            at=at,
        )
        assert reported.case.state == "reported"


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {"item": st.just("物業服務費"), "income": amounts, "expenditure": amounts}
        ),
        min_size=1,
        max_size=4,
    ),
    slip=st.sampled_from([Decimal(0), Decimal("0.01"), Decimal(-1)]),
)
def test_a_statements_totals_are_the_sums_of_its_lines(rows, slip):
    case = ENGINE.start(
        "fees_monthly_statement",
        actor=CASHIER,
        data={"statement_date": "2026-11-30"},
        at=datetime(2026, 11, 30, 9, tzinfo=SHANGHAI),
    ).case
    income = sum((r["income"] for r in rows), Decimal(0))
    spent = sum((r["expenditure"] for r in rows), Decimal(0))
    data = {"lines": rows, "income_total": income + slip, "expenditure_total": spent}
    at = datetime(2026, 11, 30, 15, tzinfo=SHANGHAI)
    if slip == 0:
        assert (
            ENGINE.fire(case, "submit", actor=CASHIER, data=data, at=at).case.state == "for_check"
        )
    elif income + slip >= 0:
        with pytest.raises(Rejected) as refused:
            ENGINE.fire(case, "submit", actor=CASHIER, data=data, at=at)
        assert refused.value.reason == "guard_failed"
        assert "收入合計、支出合計須等於各項收入、支出之和" in refused.value.message_in("zh-Hant")


def _openings(procedure: str, start: date, end: date) -> list[str]:
    window = (
        datetime(start.year, start.month, start.day, tzinfo=SHANGHAI),
        datetime(end.year, end.month, end.day, tzinfo=SHANGHAI),
    )
    return [o.case_id for o in ENGINE.openings(*window) if o.procedure == procedure]


def test_the_calendar_opens_a_daily_close_on_every_working_day():
    # National Day 2026: 1-7 October off, Saturday 10 October a make-up working day.
    assert _openings("fees_daily_close", date(2026, 9, 28), date(2026, 10, 12)) == [
        f"fees_daily_close@2026-{day}T17:00+08:00"
        for day in ("09-28", "09-29", "09-30", "10-08", "10-09", "10-10")
    ]
    december = _openings("fees_daily_close", date(2026, 12, 1), date(2027, 1, 1))
    assert len(december) == 23  # every weekday of December 2026, no weekend
    opening = next(
        o
        for o in ENGINE.openings(MONDAY, MONDAY + timedelta(days=1))
        if o.procedure == "fees_daily_close"
    )
    case = ENGINE.open(opening).case
    assert (case.state, case.data["business_date"]) == ("open", "2026-12-07")
    assert case.timers["closed_same_day"].due_at == datetime(2026, 12, 7, 17, 30, tzinfo=SHANGHAI)


def test_the_calendar_opens_a_statement_on_the_last_day_of_every_month():
    assert _openings("fees_monthly_statement", date(2026, 1, 1), date(2027, 1, 1)) == [
        f"fees_monthly_statement@{day}T09:00+08:00"
        for day in (
            "2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31", "2026-06-30",
            "2026-07-31", "2026-08-31", "2026-09-30", "2026-10-31", "2026-11-30", "2026-12-31",
        )
    ]  # fmt: skip


def test_only_the_supervisor_voids_and_the_refusal_names_no_payer():
    opened = ENGINE.start(
        "fees",
        actor=Actor(id="st1", roles={"cs_staff"}),
        at=MONDAY,
        data={
            "payer_name": "王小明",
            "unit": "A-1203",
            "category": "property_service",
            "receipt_no": "SF-9",
            "items": [
                {"item": "物業服務費", "unit_price": "3.5", "quantity": "100", "amount": "350"}
            ],
        },
    ).case
    with pytest.raises(Rejected) as refused:
        ENGINE.fire(opened, "void", actor=CASHIER, data={"void_reason": "錯收"}, at=MONDAY)
    assert refused.value.reason == "forbidden"
    assert "王小明" not in str(refused.value)
    voided = ENGINE.fire(opened, "void", actor=SUPERVISOR, data={"void_reason": "錯收"}, at=MONDAY)
    assert voided.case.state == "voided"
    assert voided.case.next_due is None  # a voided collection stops its clocks
