"""The enquiry procedure (procedures/enquiry.yaml): enquiries and suggestions, section J.

The person is thanked and the record filed for any enquiry, suggestion or opinion (J (2)
"感謝客戶的電話", J (9) "感謝客戶支持與關懷"); a deadline for the answer is never in the
past and the clock runs to the close of business on the date given (J (2) "應說明原因及
反饋期限"); every escalation tells the person, and from then on only the higher rung
answers (J (9) "超出處理許可權時,應及時上報,並告知提出者"); an answer on the phone or in
person is recorded only once the person understood it (J (2) "確認客戶是否清楚明白").
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from servflow import Actor, Engine, Rejected

REPO = Path(__file__).resolve().parent.parent
ENGINE = Engine.from_directory(REPO / "procedures")
SHANGHAI = ZoneInfo("Asia/Shanghai")
TUESDAY = datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)

DESK = [
    Actor(id="o1", roles={"operator"}),
    Actor(id="c1", roles={"clerk"}),
    Actor(id="s1", roles={"cs_staff"}),
]
SUPERVISOR = Actor(id="b1", roles={"cs_supervisor"})
MANAGER = Actor(id="m1", roles={"cs_manager"})
LADDER = [DESK, [SUPERVISOR], [MANAGER]]  # who holds each rung of the escalation ladder

texts = st.text(alphabet="管理費電梯保養車位建議意見ABC0123 ", min_size=1, max_size=12).filter(
    str.strip
)
enquiries = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["enquiry", "suggestion", "opinion"]),
        "channel": st.sampled_from(["hotline", "visit", "letter", "email", "forum"]),
        "person_name": texts,
        "contact": st.just("138 0000 0000"),
        "content": texts,
    },
    optional={"unit": texts},
)


def _open(data, who=DESK[0], at=TUESDAY):
    return ENGINE.start("enquiry", actor=who, data={**data, "received_at": at}, at=at)


@settings(max_examples=60, deadline=None)
@given(data=enquiries, who=st.sampled_from([*DESK, SUPERVISOR, MANAGER]))
def test_every_enquiry_is_recorded_and_the_person_thanked(data, who):
    opened = _open(data, who)
    assert opened.case.state == "received"
    assert [(e.kind, e.recipient, e.template) for e in opened.effects] == [
        ("record", "投訴咨詢建議記錄表", None),
        ("notify", "resident", "enquiry_thanks"),
    ]
    with pytest.raises(Rejected) as refused:
        _open(data, Actor(id="r1", roles={"resident"}))
    assert refused.value.reason == "forbidden"


@settings(max_examples=60, deadline=None)
@given(data=enquiries, offset=st.integers(-10, 20), who=st.sampled_from(DESK))
def test_a_deadline_is_never_in_the_past_and_runs_to_its_close_of_business(data, offset, who):
    case = _open(data).case
    due = TUESDAY.date() + timedelta(days=offset)
    at = TUESDAY + timedelta(minutes=30)
    step = {"delay_reason": "需與相關部門協調", "feedback_due": due.isoformat()}
    if due < TUESDAY.date():
        with pytest.raises(Rejected) as refused:
            ENGINE.fire(case, "give_deadline", actor=who, data=step, at=at)
        assert refused.value.reason == "guard_failed"
        assert "cannot be in the past" in refused.value.message_in("en")
        assert "反饋期限不得早於今日" in refused.value.message_in("zh-Hant")
        assert "反馈期限不得早于今日" in refused.value.message_in("zh-Hans")
        return
    out = ENGINE.fire(case, "give_deadline", actor=who, data=step, at=at)
    assert out.case.state == "awaiting_feedback"
    assert ("notify", "resident", "enquiry_feedback_deadline") in [
        (e.kind, e.recipient, e.template) for e in out.effects
    ]
    clock = out.case.timers["feedback_by_deadline"]
    assert clock.status == "running"
    if due.weekday() < 5:  # December 2026 has no public holiday in the office calendar
        assert clock.due_at == datetime.combine(due, datetime.min.time(), SHANGHAI).replace(
            hour=17, minute=30
        )
    # The reason alone never passes for a deadline: a new one names its own date.
    with pytest.raises(Rejected) as again:
        ENGINE.fire(out.case, "give_deadline", actor=who, data={"delay_reason": "再等"}, at=at)
    assert again.value.reason == "invalid_data"
    assert again.value.details["missing"] == ["feedback_due"]


@settings(max_examples=40, deadline=None)
@given(data=enquiries, climbs=st.integers(0, 2), answerer=st.integers(0, 2))
def test_each_escalation_tells_the_person_and_only_the_rung_reached_answers(data, climbs, answerer):
    opened = _open(data)
    case, log = opened.case, list(opened.events)
    at = TUESDAY
    for level in range(climbs):
        at += timedelta(minutes=10)
        out = ENGINE.fire(
            case,
            "escalate",
            actor=LADDER[level][0],
            data={"escalation_reason": "超出處理權限"},
            at=at,
        )
        targets = [(e.kind, e.recipient) for e in out.effects]
        assert ("notify", "resident") in targets
        assert ("notify", ["cs_supervisor", "cs_manager"][level]) in targets
        case, log = out.case, [*log, *out.events]
        assert case.escalation_level == level + 1
    if climbs == 2:  # no rung above the manager
        with pytest.raises(Rejected) as top:
            ENGINE.fire(case, "escalate", actor=MANAGER, data={"escalation_reason": "x"}, at=at)
        assert top.value.reason == "guard_failed"
    answer = {"answer": "已答復", "understood": True}
    for who in LADDER[answerer]:
        if answerer < climbs:
            with pytest.raises(Rejected) as below:
                ENGINE.fire(case, "answer", actor=who, data=answer, at=at)
            assert below.value.reason == "forbidden"
        else:
            out = ENGINE.fire(case, "answer", actor=who, data=answer, at=at)
            assert out.case.state == "answered"
    if answerer >= climbs:
        log += out.events
        assert ENGINE.verify(log, stored=out.case).ok  # the audit log rebuilds the live case


@settings(max_examples=60, deadline=None)
@given(data=enquiries, understood=st.sampled_from([None, False, True]))
def test_an_answer_face_to_face_or_on_the_phone_is_understood(data, understood):
    case = _open(data).case
    step = {"answer": "每月十日"}
    if understood is not None:
        step["understood"] = understood
    spoken = data["channel"] in ("hotline", "visit")
    at = TUESDAY + timedelta(minutes=5)
    if spoken and not understood:
        with pytest.raises(Rejected) as refused:
            ENGINE.fire(case, "answer", actor=DESK[0], data=step, at=at)
        assert refused.value.reason == "guard_failed"
        assert "清楚明白" in refused.value.message_in("zh-Hant")
        assert "understood" in refused.value.message_in("en")
    else:
        out = ENGINE.fire(case, "answer", actor=DESK[0], data=step, at=at)
        assert out.case.state == "answered"
        assert ("record", "投訴咨詢建議記錄表") in [(e.kind, e.recipient) for e in out.effects]


def test_an_unanswered_enquiry_goes_to_the_supervisor_and_the_person_is_told():
    data = {
        "kind": "enquiry",
        "channel": "visit",
        "person_name": "孫先生",
        "contact": "135 3333 4444",
        "content": "車位能否長期租用",
    }
    case = _open(data).case
    # Local policy, an example: four working hours, 09:00 + 3h to lunch + 1h = 14:30.
    assert case.timers["answer_in_time"].due_at == TUESDAY.replace(hour=14, minute=30)
    late = ENGINE.advance(case, at=TUESDAY.replace(hour=15))
    assert late.case.escalation_level == 1
    notices = [(e.recipient, e.template) for e in late.effects if e.kind == "notify"]
    assert ("cs_supervisor", "enquiry_answer_overdue") in notices
    assert ("resident", "enquiry_escalated") in notices
    with pytest.raises(Rejected) as taken_over:
        ENGINE.fire(
            late.case,
            "answer",
            actor=DESK[2],
            data={"answer": "可以", "understood": True},
            at=TUESDAY.replace(hour=15, minute=5),
        )
    assert taken_over.value.reason == "forbidden"


def test_the_feedback_deadline_counts_the_date_the_clerk_gave():
    case = _open(
        {
            "kind": "suggestion",
            "channel": "letter",
            "person_name": "黃先生",
            "contact": "139 2222 3333",
            "content": "加裝自行車棚",
        }
    ).case
    given_ = ENGINE.fire(
        case,
        "give_deadline",
        actor=DESK[1],
        at=TUESDAY + timedelta(hours=1),
        data={"delay_reason": "需與管理處確認場地", "feedback_due": date(2026, 12, 4).isoformat()},
    ).case
    moved = ENGINE.fire(
        given_,
        "give_deadline",
        actor=DESK[1],
        at=TUESDAY + timedelta(days=2),
        data={"delay_reason": "管理處下週開會", "feedback_due": "2026-12-09"},
    ).case
    clock = moved.timers["feedback_by_deadline"]
    assert clock.due_at == datetime(2026, 12, 9, 17, 30, tzinfo=SHANGHAI)
    assert clock.started_at == TUESDAY + timedelta(hours=1)  # the first deadline's start
    missed = ENGINE.advance(moved, at=datetime(2026, 12, 10, 9, 0, tzinfo=SHANGHAI))
    assert missed.case.timers["feedback_by_deadline"].breached_at is not None
    assert ("cs_supervisor", "enquiry_feedback_overdue") in [
        (e.recipient, e.template) for e in missed.effects if e.kind == "notify"
    ]


RULES = REPO / "docs" / "procedures" / "rules" / "enquiry.md"
REFERENCE = re.compile(r"`([a-z_]+):([A-Za-z0-9_.]+)`")


def _resolves(procedure: str, path: str) -> bool:
    node = yaml.safe_load((REPO / "procedures" / f"{procedure}.yaml").read_text("utf-8"))
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def test_the_rule_table_places_every_rule_in_the_procedure_or_says_why_not():
    lines = RULES.read_text("utf-8").splitlines()
    assert lines[0].startswith("# ")
    assert "J" in lines[0]
    tables = [n for n, line in enumerate(lines) if line.startswith("| § |")]
    assert len(tables) == 1
    assert lines[tables[0]] == "| § | Seed rule | Where it lives |"
    rows = [line for line in lines[tables[0] + 2 :] if line.startswith("|")]
    assert len(rows) == len(lines) - tables[0] - 2  # one table, nothing after it
    sections = set()
    for row in rows:
        section, rule, where = (cell.strip() for cell in row.strip("|").split(" | "))
        sections.add(section)
        assert "「" in rule, row  # the seed's own words
        if where.startswith("Left out:"):
            assert len(where) > len("Left out: ") + 10, row
            continue
        refs = REFERENCE.findall(where)
        assert refs, row
        assert REFERENCE.sub("", where).strip(", ") == "", row  # nothing but references
        for procedure, path in refs:
            assert _resolves(procedure, path), f"{procedure}:{path}"
    assert {"J (2) 一", "J (2) 七", "J (2) 八", "J (6)", "J (9)"} <= sections
