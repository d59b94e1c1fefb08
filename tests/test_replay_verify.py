"""Engine.replay and Engine.verify beyond the corpus: the audit report, events built
without validation, a stored case compared with its log, and replay refusing exactly
where fire refuses."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from servflow import Case, DefinitionError, Event, IntegrityError, ReplayError, ServflowError
from tests.replay_logs import CLERK, NINE, REPAIR, TZ, engines, log

ENGINE = engines()["repair"]


def _refusal(events: list[object]) -> ReplayError:
    with pytest.raises(ReplayError) as info:
        ENGINE.replay(events)
    return info.value


def test_a_valid_log_verifies_and_equals_the_stored_case() -> None:
    events = log("repair")
    case = ENGINE.replay(iter(events))  # any iterable
    report = ENGINE.verify(events, stored=case)
    assert report.ok
    assert report.problems == ()
    assert report.first is None
    assert (report.verified, report.events) == (4, 4)
    assert report.case == case


def test_the_report_lists_every_envelope_problem_to_the_end() -> None:
    events = [e.model_dump(mode="json") for e in log("repair")]
    stray = log("repair_other")[2].model_dump(mode="json")
    events[1]["role"] = "janitor"  # refuted by the rules: checking them stops here
    events[2]["at"] = "2026-11-23T09:10:00+08:00"  # before the previous event
    events.insert(3, stray)
    events.append(dict(events[-1]))  # repeated
    report = ENGINE.verify(events)
    assert not report.ok
    assert (report.verified, report.events) == (1, 6)
    assert report.case == ENGINE.replay(events[:1])
    assert [(p.seq, p.problem) for p in report.problems] == [
        (2, "forbidden: unknown role 'janitor': repair has no such role"),
        (
            3,
            "its time 2026-11-23T09:10:00+08:00 is before the previous event's "
            "2026-11-23T09:20:00+08:00 (a log only goes forward in time)",
        ),
        (3, "it belongs to case 'r-2', not 'r-1' (an event of another case)"),
        (4, "seq 4 twice: an event repeated"),
    ]
    assert all(p.case_id == "r-1" for p in report.problems)
    # replay raises the first of them.
    first = _refusal(events)
    assert (first.seq, first.problem) == (report.problems[0].seq, report.problems[0].problem)


def test_a_log_whose_first_event_fails_proves_no_case() -> None:
    events = [e.model_dump(mode="json") for e in log("repair")]
    events[0]["target"] = "closed"
    report = ENGINE.verify(events)
    assert report.case is None
    assert report.verified == 0
    assert [p.seq for p in report.problems] == [1]


def test_events_built_without_validation_are_checked_as_json_is() -> None:
    good = log("repair")
    values = dict(good[1].__dict__)
    values["seq"] = "second"
    forged = Event.model_construct(**values)
    exc = _refusal([good[0], forged])
    assert exc.problem.startswith("not a valid event: seq: ")
    naive = Event.model_construct(**{**good[1].__dict__, "at": datetime(2026, 11, 23, 9, 20)})
    exc = _refusal([good[0], naive])
    assert exc.seq == 2
    assert exc.problem == "its time has no time zone (the engine writes aware times)"


def test_a_pii_value_changed_to_another_valid_one_shows_only_against_the_stored_case() -> None:
    events = [e.model_dump(mode="json") for e in log("repair")]
    live = ENGINE.replay(events)
    events[0]["changes"]["phone"] = "139 9999 9999"
    # A log the engine could have written: replay cannot tell ...
    forged = ENGINE.replay(events)
    assert forged.data["phone"] == "139 9999 9999"
    # ... but an audit against the stored case can, without showing either number.
    report = ENGINE.verify(events, stored=live)
    assert not report.ok
    assert report.first is not None
    assert report.first.seq is None
    assert report.first.problem == (
        "the stored case differs from the case its log rebuilds in: data ('phone')"
    )
    assert "139 9999 9999" not in str(report.first)
    assert REPAIR["phone"] not in str(report.first)


def test_the_first_event_names_the_definition() -> None:
    events = [e.model_dump(mode="json") for e in log("repair")]
    with pytest.raises(KeyError, match="no version 7"):
        ENGINE.replay([{**events[0], "procedure_version": 7}, *events[1:]])
    with pytest.raises(DefinitionError) as info:
        ENGINE.replay([{**events[0], "digest": "sha256:00"}, *events[1:]])
    assert [d.code for d in info.value.errors] == ["digest-mismatch"]
    assert "or the log's first event was altered" in str(info.value)


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 12, 31, 14, 0, tzinfo=TZ),  # the clock it starts may need next year
        datetime(2026, 11, 24, 9, 0, tzinfo=TZ),
    ],
)
def test_replay_refuses_a_step_exactly_where_fire_refuses_it(moment: datetime) -> None:
    """A dispatch moved in time replays if and only if fire would take it then."""
    opened = ENGINE.start("repair", actor=CLERK, data=REPAIR, at=NINE, case_id="r-1")
    dispatch = log("repair")[1].model_dump(mode="json")
    dispatch["at"] = moment.isoformat()
    earlier = ENGINE.advance(opened.case, at=moment)
    events = [*opened.events, *earlier.events]
    dispatch["seq"] = len(events) + 1
    why: str | None = None
    try:
        live = ENGINE.fire(
            earlier.case, "dispatch", actor=CLERK, data={"technician": "李師傅"}, at=moment
        )
    except ServflowError as exc:
        why = str(exc)
    if why is None:
        # The step fire writes at that moment: one that counts past the calendar's
        # published end records the publication it was counted under.
        dispatch["detail"] = live.events[-1].detail
        assert ENGINE.replay([*events, dispatch]) == live.case
    else:
        refused = _refusal([*events, dispatch])
        assert refused.seq == dispatch["seq"]
        assert why in refused.problem


def test_replay_error_is_an_integrity_error_with_the_case() -> None:
    events = log("repair")
    exc = _refusal([events[0], events[2]])
    assert isinstance(exc, IntegrityError)
    assert (exc.case_id, exc.seq) == ("r-1", 3)
    assert str(exc) == "case 'r-1': event 3: seq 2 missing before it (the log has a gap)"
    assert isinstance(ENGINE.replay(events[:1]), Case)
    assert ENGINE.replay(events[:1]).version == 1
    assert timedelta(0) <= events[1].at - events[0].at


def test_a_report_mid_way_through_what_fell_due_at_one_moment() -> None:
    """The breach (seq 5) and the step it fires (seq 6) fall due together."""
    ticket = engines()["ticket"]
    events = [e.model_dump(mode="json") for e in log("ticket")]
    events[5]["detail"]["escalation_level"] = 2
    report = ticket.verify(events)
    assert [(p.seq, p.problem) for p in report.problems] == [
        (6, "it differs from the 'auto_fired' event the time limits write here in: detail")
    ]
    assert report.verified == 5
    assert report.case is not None
    assert report.case.version == 5
    assert report.case.timers["respond"].breached_at is not None
    assert report.case.escalation_level == 0
    cut = ticket.verify(events[:5])
    assert cut.case == report.case
    assert [p.seq for p in cut.problems] == [None]
