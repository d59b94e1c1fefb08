"""The archives procedures (procedures/archives.yaml, archive_inspection.yaml), §4.4.

Permission (§4.4.4) for any requester and any file, the head-office exception that only
head office may claim, the refusal's words in three languages, and the inspection plan
of at least two inspections a year (§4.4.2) opened by the calendar.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
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

REQUESTER = Actor(id="r1", roles={"requester"})
ARCHIVIST = Actor(id="k1", roles={"archivist"})
MANAGER = Actor(id="m1", roles={"office_manager"})
HEAD_OFFICE = Actor(id="h1", roles={"head_office"})

texts = st.text(alphabet="檔案借閱查核對圖紙ABC0123 ", min_size=1, max_size=12).filter(str.strip)
requests = st.fixed_dictionaries(
    {
        "requester_name": texts,
        "archive_ref": texts,
        "access_kind": st.sampled_from(["read", "borrow"]),
        "purpose": texts,
    }
)


@settings(max_examples=60, deadline=None)
@given(request=requests, who=st.sampled_from([REQUESTER, ARCHIVIST]))
def test_no_file_is_handed_over_without_the_managers_permission(request, who):
    opened = ENGINE.start("archives", actor=who, data=request, at=MONDAY)
    case, log = opened.case, list(opened.events)
    with pytest.raises(Rejected) as refused:
        ENGINE.fire(case, "hand_over", actor=ARCHIVIST, at=MONDAY + timedelta(minutes=5))
    assert refused.value.reason == "guard_failed"
    assert "office manager's permission" in refused.value.message_in("en")
    assert "管理處經理許可" in refused.value.message_in("zh-Hant")
    assert "管理处经理许可" in refused.value.message_in("zh-Hans")
    data = {"permission_notes": "同意"}
    if request["access_kind"] == "borrow":
        data["return_by"] = "2026-12-10"
    permitted = ENGINE.fire(
        case, "permit", actor=MANAGER, data=data, at=MONDAY + timedelta(hours=1)
    )
    lent = ENGINE.fire(permitted.case, "hand_over", actor=ARCHIVIST, at=MONDAY + timedelta(hours=2))
    assert lent.case.state == "in_use"
    log += [*permitted.events, *lent.events]
    assert ENGINE.verify(log, stored=lent.case).ok  # the audit log rebuilds the live case


@settings(max_examples=40, deadline=None)
@given(request=requests, who=st.sampled_from([REQUESTER, ARCHIVIST]))
def test_only_head_office_may_claim_the_inspection_exception(request, who):
    data = {**request, "head_office_inspection": True}
    with pytest.raises(Rejected) as refused:
        ENGINE.start("archives", actor=who, data=data, at=MONDAY)
    assert refused.value.reason == "beyond_authority"
    assert refused.value.details["could_decide"] == ["head_office"]
    case = ENGINE.start("archives", actor=HEAD_OFFICE, data=data, at=MONDAY).case
    if request["access_kind"] == "borrow":
        with pytest.raises(Rejected) as undated:
            ENGINE.fire(case, "hand_over", actor=ARCHIVIST, at=MONDAY)
        assert "return date" in undated.value.message_in("en")
        given_out = ENGINE.fire(
            case, "hand_over", actor=ARCHIVIST, data={"return_by": "2026-12-09"}, at=MONDAY
        )
    else:
        given_out = ENGINE.fire(case, "hand_over", actor=ARCHIVIST, at=MONDAY)
    assert given_out.case.state == "in_use"
    assert ("notify", "office_manager", "archives_head_office_inspection") in [
        (e.kind, e.recipient, e.template) for e in given_out.effects
    ]


def test_a_borrowed_file_needs_a_return_date_in_every_language():
    case = ENGINE.start(
        "archives",
        actor=REQUESTER,
        data={
            "requester_name": "周小姐",
            "archive_ref": "A-1",
            "access_kind": "borrow",
            "purpose": "核對",
        },
        at=MONDAY,
    ).case
    with pytest.raises(Rejected) as refused:
        ENGINE.fire(case, "permit", actor=MANAGER, data={"permission_notes": "同意"}, at=MONDAY)
    assert refused.value.message_in("zh-Hant") == "借閱檔案須定出歸還日期"
    assert refused.value.message_in("zh-Hans") == "借阅档案须定出归还日期"
    assert refused.value.message_in("en") == "A borrowed archive needs a return date"
    assert "周小姐" not in str(refused.value)


@pytest.mark.parametrize("year", [2026, 2027, 2028])
def test_the_calendar_opens_at_least_two_inspections_a_year(year):
    start = datetime(year, 1, 1, tzinfo=SHANGHAI)
    # This procedure's openings only: the fees' daily close counts working days, which
    # the office calendar does not publish past 2026 (it raises rather than guess).
    openings = list(
        ENGINE.openings(start, datetime(year + 1, 1, 1, tzinfo=SHANGHAI), "archive_inspection")
    )
    assert len(openings) >= 2
    assert [o.data["inspection_date"] for o in openings] == [
        date(year, 6, 1).isoformat(),
        date(year, 12, 1).isoformat(),
    ]
    opened = ENGINE.open(openings[0]).case
    assert (opened.state, opened.id) == ("planned", openings[0].case_id)
