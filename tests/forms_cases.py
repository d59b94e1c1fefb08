"""Cases of the standard catalogue with every record form's fields filled in.

The form tests and ``scripts/render_forms.py`` (the pictures in ``docs/forms/``) render
the record forms of these cases: a repair taken to its callback, the callback itself, a
complaint replied to and called back, a renovation inspected, a lent key reported lost, an archive borrowed
and returned, an archive inspection put in order and reviewed. Personal data is made up.
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
    return {
        "repair": repair,
        "callback": callback,
        "complaint": complaint,
        "renovation": renovation,
        "keys": keys,
        "archives": archives,
        "archive_inspection": archive_inspection,
    }
