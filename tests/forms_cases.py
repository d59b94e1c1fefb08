"""Cases of the standard catalogue with every record form's fields filled in.

The form tests and ``scripts/render_forms.py`` (the pictures in ``docs/forms/``) render
the record forms of these cases: a repair taken to its callback, the callback itself, a complaint replied to
and called back, a renovation inspected, a lent key reported lost, an archive borrowed
and returned, an archive inspection put in order and reviewed, a suggestion given a
deadline, escalated and answered, a large fee corrected, reported and handed over, a daily
close with a difference explained, a monthly statement sent back and checked, and each case
of the sales chain (section H) taken to its end. Personal data is made up.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from servflow import Actor, Case, Engine

__all__ = ["NINE", "SECRETS", "filled_cases"]

NINE = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
SECRETS = (
    "王小明",
    "海景花園 A座 1203室",
    "138 0000 0000",
    "陳大文",
    "B座 0807室",
    "139 1111 2222",
)


def _run(engine: Engine, procedure: str, start: dict[str, Any], steps: list[Any]) -> Case:
    proc = engine.procedure(procedure)
    first = Actor(id="u1", roles={proc.start.roles[0]})
    case = engine.start(
        procedure, actor=first, data=start, at=NINE, case_id=f"{procedure[:3].upper()}-2026-0001"
    ).case
    for minutes, (trigger, role, data) in enumerate(steps, start=1):
        actor = Actor(id="u2", roles={role})
        case = engine.fire(
            case, trigger, actor=actor, data=data, at=NINE + timedelta(minutes=10 * minutes)
        ).case
    return case


def filled_cases(engine: Engine) -> dict[str, Case]:
    """One case of each standard procedure, far enough on to fill each of its forms."""
    repair = _run(
        engine,
        "repair",
        {
            "resident_name": "王小明",
            "address": "海景花園 A座 1203室",
            "phone": "138 0000 0000",
            "fault": "廚房水管漏水，需更換閥門 <急>",
            "appointment_at": NINE + timedelta(hours=3),
        },
        [
            ("dispatch", "repair_reception", {"technician": "李師傅"}),
            (
                "complete",
                "repair_reception",
                {"work_order_no": "WO-2026-117", "completed_at": NINE + timedelta(hours=5)},
            ),
            (
                "callback_done",
                "cs_supervisor",
                {
                    "callback_result": "reached",
                    "satisfied": True,
                    "callback_notes": "住戶表示滿意，漏水已止。",
                },
            ),
        ],
    )
    callback = _run(
        engine,
        "callback",
        {
            "subject": "廚房水管漏水，需更換閥門 <急>",
            "resident_name": "王小明",
            "address": "海景花園 A座 1203室",
            "phone": "138 0000 0000",
        },
        [
            ("designate", "cs_supervisor", {"callback_officer": "u2"}),
            ("unanswered", "callback_officer", {"callback_notes": "無人接聽。"}),
            (
                "record_result",
                "callback_officer",
                {"satisfied": True, "callback_notes": "住戶表示滿意，漏水已止。"},
            ),
        ],
    )
    complaint = _run(
        engine,
        "complaint",
        {
            "kind": "complaint",
            "complainant_name": "陳大文",
            "phone": "139 1111 2222",
            "unit": "B座 0807室",
            "channel": "hotline",
            "content": "樓上裝修噪音持續至晚上十時。",
            "received_at": NINE,
        },
        [
            ("accept", "cs_staff", {"handler": "黃主任"}),
            ("classify", "cs_staff", {"category": "problem_solving"}),
            ("refer", "cs_staff", {"department": "security"}),
            ("reply", "cs_staff", {"reply": "已通知裝修單位只可於 9:00–18:00 施工。"}),
            (
                "callback_done",
                "cs_supervisor",
                {"callback_result": "reached", "satisfied": True, "callback_notes": "業主滿意。"},
            ),
        ],
    )
    renovation = _run(
        engine,
        "renovation",
        {
            "applicant_name": "陳大文",
            "phone": "139 1111 2222",
            "unit": "B座 0807室",
            "works_description": "更換廚房櫥櫃及浴室瓷磚。",
            "changes_structure": False,
            "contractor": "安居裝飾工程有限公司",
            "planned_start": "2026-12-01",
            "planned_end": "2026-12-20",
        },
        [
            ("explain_rules", "cs_staff", {"rules_acknowledged": True}),
            ("submit", "cs_staff", {"fee_due": "800.00"}),
            ("collect_fees", "cashier", {"fee_amount": "800.00", "receipt_no": "RC-0093"}),
            ("approve", "cs_supervisor", {"permit_no": "ZX-2026-041"}),
            ("patrol", "cs_staff", {"patrol_notes": "施工正常，垃圾已清理。"}),
            ("report_completion", "cs_staff", {"completed_on": "2026-12-18"}),
            (
                "inspect",
                "maintenance",
                {"inspection_passed": True, "inspection_notes": "驗收合格。"},
            ),
        ],
    )
    keys = _run(
        engine,
        "keys",
        {
            "category": "resident",
            "key_label": "A座 1203室 防盜門",
            "owner_name": "王小明",
            "unit": "海景花園 A座 1203室",
            "custodian": "u2",
            "deposited_at": NINE,
        },
        [
            (
                "lend",
                "key_custodian",
                {
                    "borrower": "李師傅",
                    "purpose": "入戶維修水管（業主已授權）",
                    "for_work": True,
                    "lent_at": NINE + timedelta(minutes=10),
                },
            ),
            ("report_lost", "key_custodian", {"lost_report": "維修途中遺失。"}),
        ],
    )
    archives = _run(
        engine,
        "archives",
        {
            "requester_name": "王小明",
            "archive_ref": "A座 業主檔案 A-1203",
            "access_kind": "borrow",
            "purpose": "核對裝修圖紙。",
        },
        [
            (
                "permit",
                "office_manager",
                {"permission_notes": "同意借閱，注意保密。", "return_by": "2026-11-25"},
            ),
            ("hand_over", "archivist", {}),
            ("give_back", "archivist", {"returned_on": "2026-11-24", "return_notes": "完整。"}),
        ],
    )
    archive_inspection = _run(
        engine,
        "archive_inspection",
        {"inspection_date": "2026-11-23"},
        [
            ("inspect", "archivist", {"findings": "缺交房驗收單一份。", "in_order": False}),
            ("put_in_order", "archivist", {"rectification_notes": "已補齊。"}),
            ("inspect", "archivist", {"findings": "齊全。", "in_order": True}),
            ("review", "cs_supervisor", {"review_notes": "同意。"}),
        ],
    )
    enquiry = _run(
        engine,
        "enquiry",
        {
            "kind": "suggestion",
            "channel": "hotline",
            "person_name": "王小明",
            "contact": "138 0000 0000",
            "unit": "海景花園 A座 1203室",
            "received_at": NINE,
            "content": "建議在北門加裝自行車棚。",
        },
        [
            (
                "give_deadline",
                "operator",
                {
                    "delay_reason": "需與管理處確認場地。",
                    "feedback_due": "2026-11-27",
                    "department": "management_office",
                },
            ),
            ("escalate", "cs_staff", {"escalation_reason": "涉及公共場地使用，超出處理權限。"}),
            ("answer", "cs_supervisor", {"answer": "感謝建議，本月內安裝。", "understood": True}),
        ],
    )
    fees = _run(
        engine,
        "fees",
        {
            "payer_name": "王小明",
            "unit": "A-1203",
            "category": "renovation",
            "receipt_no": "ZX-20261123-001",
            "items": [
                {"item": "裝修管理費", "unit_price": "100", "quantity": "100", "amount": "1000"},
                {"item": "裝修垃圾清運費", "unit_price": "2000", "quantity": "1", "amount": "2000"},
            ],
        },
        [
            (
                "correct",
                "cashier",
                {
                    "correction_notes": "管理費按100元×100㎡更正。",
                    "items": [
                        {
                            "item": "裝修管理費",
                            "unit_price": "100",
                            "quantity": "100",
                            "amount": "10000",
                        },
                        {
                            "item": "裝修垃圾清運費",
                            "unit_price": "2000",
                            "quantity": "1",
                            "amount": "2000",
                        },
                    ],
                },
            ),
            ("check", "cashier", {"prices_checked": True, "check_notes": "與收費標準相符。"}),
            ("report_large_sum", "cashier", {"report_notes": "已報管理處經理、財務。"}),
            (
                "hand_over",
                "cashier",
                {"handed_over_amount": "12000", "handover_ref": "JK-1123-01"},
            ),
            ("confirm_receipt", "finance", {"finance_notes": "已入賬。"}),
        ],
    )
    fees_daily_close = _run(
        engine,
        "fees_daily_close",
        {"business_date": "2026-11-23"},
        [
            (
                "reconcile",
                "cashier",
                {
                    "receipts": [
                        {"receipt_no": "ZX-20261123-001", "unit": "A-1203", "amount": "12000"},
                        {"receipt_no": "SF-20261123-002", "unit": "B-0502", "amount": "384.54"},
                    ],
                    "collected_total": "12384.54",
                    "handed_over_total": "12000",
                    "large_sums_reported": True,
                },
            ),
            (
                "explain_difference",
                "office_manager",
                {"difference_explanation": "384.54元次日補交。", "handed_over_total": "12384.54"},
            ),
            ("review", "cs_supervisor", {"review_notes": "同意日結。"}),
        ],
    )
    fees_monthly_statement = _run(
        engine,
        "fees_monthly_statement",
        {"statement_date": "2026-11-30"},
        [
            (
                "submit",
                "cashier",
                {
                    "lines": [{"item": "物業服務費", "income": "185600", "expenditure": "0"}],
                    "income_total": "185600",
                    "expenditure_total": "0",
                },
            ),
            ("send_back", "office_manager", {"return_reason": "漏列代收水電費。"}),
            (
                "submit",
                "cashier",
                {
                    "lines": [
                        {"item": "物業服務費", "income": "185600", "expenditure": "0"},
                        {"item": "代收水電費", "income": "42310.50", "expenditure": "42310.50"},
                    ],
                    "income_total": "227910.50",
                    "expenditure_total": "42310.50",
                },
            ),
            ("approve", "office_manager", {"check_notes": "核對相符。"}),
        ],
    )
    sales = _sales(engine)
    return {
        **sales,
        "repair": repair,
        "callback": callback,
        "complaint": complaint,
        "renovation": renovation,
        "keys": keys,
        "archives": archives,
        "archive_inspection": archive_inspection,
        "enquiry": enquiry,
        "fees": fees,
        "fees_daily_close": fees_daily_close,
        "fees_monthly_statement": fees_monthly_statement,
    }


def _sales(engine: Engine) -> dict[str, Case]:
    """One case of each procedure of the sales chain, each taken to its end."""
    buyer = {"unit": "A座 1203", "buyer_name": "王小明", "buyer_phone": "138 0000 0000"}
    contract = {**buyer, "contract_no": "HT-2026-0458"}
    at = NINE + timedelta(hours=2)
    return {
        "sales_subscription": _run(
            engine,
            "sales_subscription",
            {**buyer, "area": "89.50", "price": "1850000"},
            [
                (
                    "review",
                    "cs_supervisor",
                    {
                        "area_checked": True,
                        "price_checked": True,
                        "clauses_checked": True,
                        "online_recorded": True,
                        "signing_date": "2026-12-07",
                        "documents_list": "身份證、戶口簿、首付款憑證",
                    },
                ),
            ],
        ),
        "sales_signing": _run(
            engine,
            "sales_signing",
            {**buyer, "price": "1850000", "signing_date": "2026-12-07"},
            [
                ("prepare", "sales_cs", {"contract_no": "HT-2026-0458", "payment": "mortgage"}),
                (
                    "change_terms",
                    "sales_cs",
                    {"special_terms": "交房日期延後一個月。", "concession": "1500"},
                ),
                (
                    "lawyer_decides",
                    "lawyer",
                    {"lawyer_confirmed": True, "lawyer_opinion": "條款合法，同意。"},
                ),
                ("sign", "sales_cs", {"fee_statement_no": "SF-0458", "signed_on": "2026-12-07"}),
                ("legal_rep_sign", "legal_rep", {"legal_rep_signed_at": at}),
            ],
        ),
        "sales_mortgage": _run(
            engine,
            "sales_mortgage",
            {**contract, "payment": "mortgage", "signed_on": "2026-11-23"},
            [
                ("chase_documents", "sales_cs", {"missing_documents": "收入證明"}),
                (
                    "submit_loan",
                    "cs_supervisor",
                    {"bank": "海景銀行", "documents_list": "收入證明"},
                ),
                (
                    "loan_released",
                    "cs_supervisor",
                    {"loan_amount": "1200000", "loan_released_on": "2026-11-23"},
                ),
                ("file", "cs_supervisor", {"filing_no": "BA-2026-1203", "filed_on": "2026-11-23"}),
            ],
        ),
        "sales_title": _run(
            engine,
            "sales_title",
            {**contract, "filing_no": "BA-2026-1203"},
            [
                ("plan", "dept_manager", {"plan_date": "2026-12-21"}),
                ("apply", "cs_supervisor", {"applied_on": "2026-11-23"}),
                ("issue", "cs_supervisor", {"certificate_no": "CQ-2026-0001"}),
                ("collect", "sales_cs", {"collected_at": at}),
            ],
        ),
        "sales_handover": _run(
            engine,
            "sales_handover",
            buyer,
            [
                ("arrange", "dept_manager", {"move_in_date": "2026-12-10"}),
                ("walk_through", "sales_cs", {"issues_found": True, "issues": "客廳牆面有裂縫。"}),
                ("rectified", "sales_cs", {"rectified_note": "已修補。"}),
                ("walk_through", "sales_cs", {"issues_found": False}),
                ("hand_over", "sales_cs", {"keys_handed_at": at, "pass_no": "PASS-1203"}),
            ],
        ),
        "sales_change": _run(
            engine,
            "sales_change",
            {
                **contract,
                "buyer_name": "王小明",
                "kind": "rename",
                "reason": "加名配偶。",
                "new_buyer_name": "陳大文",
            },
            [
                ("approve", "sales_cs", {"decision_note": "同意更名。"}),
                (
                    "complete",
                    "cs_supervisor",
                    {"filing_updated": True, "completed_on": "2026-11-23"},
                ),
            ],
        ),
    }
