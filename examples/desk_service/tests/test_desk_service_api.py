"""The service in process, through an HTTP client: a repair from opening to closing, each
refusal with its status, queues, personal data, and the OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from desk_service.app import STATUS, create_app, every_reason_has_a_status
from desk_service.settings import Settings
from desk_service.worker import send
from fastapi.testclient import TestClient

TZ = ZoneInfo("Asia/Shanghai")
NINE = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)  # a Monday
REPAIR = {
    "resident_name": "王小明",
    "address": "A-1203",
    "phone": "138 0000 0000",
    "fault": "Kitchen pipe leaking",
    "appointment_at": (NINE + timedelta(hours=3)).isoformat(),
}


class Clock:
    def __init__(self) -> None:
        self.now = NINE

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(tmp_path: Path, clock: Clock) -> Iterator[TestClient]:
    app = create_app(Settings(db=f"sqlite:///{tmp_path / 'desk.db'}"), clock=clock)
    with TestClient(app) as made:
        yield made


def as_(actor: str) -> dict[str, str]:
    return {"X-Actor": actor}


def open_repair(client: TestClient, case_id: str = "r-1") -> dict[str, Any]:
    answer = client.post(
        "/cases",
        json={"procedure": "repair", "data": REPAIR, "case_id": case_id},
        headers=as_("u7"),
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_a_repair_from_opening_to_closing(client, clock):
    case = open_repair(client)
    assert (case["state"], case["version"]) == ("recorded", 1)
    clock.now += timedelta(minutes=10)
    step = client.post(
        "/cases/r-1/dispatch",
        json={"data": {"technician": "t1"}, "expected_version": 1},
        headers=as_("u7"),
    )
    assert step.status_code == 200, step.text
    assert step.json()["state"] == "dispatched"
    clock.now += timedelta(hours=2)
    done = client.post(
        "/cases/r-1/complete",
        json={"data": {"work_order_no": "WO-1", "completed_at": clock.now.isoformat()}},
        headers=as_("u7"),
    )
    assert done.json()["state"] == "awaiting_callback"
    # The completion opened the repair's callback as a case of its own (r-1, step 3, link 0).
    callback = client.get("/cases/r-1-3-0", headers=as_("s1"))
    assert callback.status_code == 200, callback.text
    assert (callback.json()["procedure"], callback.json()["state"]) == ("callback", "to_designate")
    designated = client.post(
        "/cases/r-1-3-0/designate",
        json={"data": {"callback_officer": "c1"}},
        headers=as_("s1"),
    )
    assert designated.status_code == 200, designated.text
    clock.now += timedelta(hours=3)
    reached = client.post(
        "/cases/r-1-3-0/record_result",
        json={"data": {"satisfied": True, "callback_notes": "fixed"}},
        headers=as_("c1"),
    )
    assert reached.status_code == 200, reached.text
    assert reached.json()["state"] == "reached"
    # The result goes back to the repair through the outbox, as the worker delivers it.
    assert client.get("/cases/r-1", headers=as_("s1")).json()["state"] == "awaiting_callback"
    client.app.state.desk.deliver(send, at=clock.now)
    closed = client.get("/cases/r-1", headers=as_("s1"))
    assert closed.json()["state"] == "closed"
    history = client.get("/cases/r-1/history", headers=as_("s1")).json()
    people = [(e["kind"], e["trigger"]) for e in history if e["actor"] is not None]
    assert [trigger for _, trigger in people] == [
        "start",
        "dispatch",
        "complete",
        "callback_done",
    ], people
    assert [e["seq"] for e in history] == list(range(1, len(history) + 1))


@pytest.mark.parametrize(
    ("actor", "trigger", "body", "status", "reason"),
    [
        ("u7", "complete", {}, 409, "not_in_state"),
        ("t1", "dispatch", {"data": {"technician": "t1"}}, 403, "forbidden"),
        ("u7", "dispatch", {"data": {}}, 422, "invalid_data"),
        (
            "u7",
            "dispatch",
            {"data": {"priority": "whenever", "technician": "t1"}},
            422,
            "invalid_data",
        ),
        ("u7", "teleport", {}, 404, "unknown_trigger"),
        (
            "u7",
            "dispatch",
            {"data": {"technician": "t1"}, "expected_version": 7},
            409,
            "stale_version",
        ),
    ],
)
def test_each_refusal_has_its_status_and_reason(client, actor, trigger, body, status, reason):
    open_repair(client)
    answer = client.post(f"/cases/r-1/{trigger}", json=body, headers=as_(actor))
    assert answer.status_code == status, answer.text
    problem = answer.json()
    assert problem["reason"] == reason
    if reason == "stale_version":
        assert problem["current_version"] == 1
    if reason == "invalid_data":
        assert problem["details"]["field"] in ("technician", "priority")
    # Nothing was written.
    assert client.get("/cases/r-1", headers=as_("u7")).json()["version"] == 1


def test_a_closed_case_refuses_with_409_final_state(client, clock):
    open_repair(client)
    clock.now += timedelta(minutes=1)
    client.post(
        "/cases/r-1/cancel", json={"data": {"cancel_reason": "duplicate"}}, headers=as_("u7")
    )
    answer = client.post(
        "/cases/r-1/dispatch", json={"data": {"technician": "t1"}}, headers=as_("u7")
    )
    assert (answer.status_code, answer.json()["reason"]) == (409, "final_state")


def test_every_rejection_reason_has_a_status():
    assert every_reason_has_a_status()
    assert set(STATUS.values()) <= {403, 404, 409, 422}


def test_unknown_actors_and_cases(client):
    assert client.get("/procedures").status_code == 401
    assert client.get("/procedures", headers=as_("mallory")).json()["reason"] == "unauthorised"
    missing = client.get("/cases/nope", headers=as_("u7"))
    assert (missing.status_code, missing.json()["reason"]) == (404, "not_found")
    bad = client.post("/cases", json={"procedure": "nope"}, headers=as_("u7"))
    assert bad.status_code == 404


def test_available_says_what_the_actor_may_do_now(client):
    open_repair(client)
    mine = {a["trigger"]: a for a in client.get("/cases/r-1/available", headers=as_("u7")).json()}
    assert mine["dispatch"]["allowed"] is True
    assert mine["complete"]["allowed"] is False
    assert mine["complete"]["reason"] == "not_in_state"


def test_personal_data_is_masked_for_roles_that_do_not_see_it(client, clock):
    open_repair(client)
    clock.now += timedelta(minutes=5)
    client.post("/cases/r-1/dispatch", json={"data": {"technician": "t1"}}, headers=as_("u7"))
    technician = client.get("/cases/r-1", headers=as_("t1")).json()["data"]
    clerk = client.get("/cases/r-1", headers=as_("u7")).json()["data"]
    assert clerk["phone"] == "138 0000 0000"
    assert technician["phone"] == "***"
    assert technician["resident_name"] == "***"
    assert technician["fault"] == clerk["fault"] == "Kitchen pipe leaking"  # not personal
    history = client.get("/cases/r-1/history", headers=as_("t1")).text
    assert "138 0000 0000" not in history
    assert "王小明" not in history


def test_my_queue_and_the_overdue_list(client, clock):
    for n, technician in enumerate(["t1", "t2", "t1"]):
        open_repair(client, f"r-{n}")
        client.post(
            f"/cases/r-{n}/dispatch", json={"data": {"technician": technician}}, headers=as_("u7")
        )
    open_repair(client, "r-late")
    mine = client.get("/queue", headers=as_("t1")).json()
    assert [c["id"] for c in mine["cases"]] == ["r-0", "r-2"]
    first = client.get("/queue", params={"limit": 1, "order": "opened"}, headers=as_("t1")).json()
    rest = client.get(
        "/queue", params={"limit": 1, "order": "opened", "after": first["next"]}, headers=as_("t1")
    ).json()
    assert [c["id"] for c in first["cases"] + rest["cases"]] == ["r-0", "r-2"]
    assert client.get("/overdue", headers=as_("s1")).json()["cases"] == []
    clock.now += timedelta(minutes=45)  # past the 30-minute dispatch limit of r-late
    assert [c["id"] for c in client.get("/overdue", headers=as_("s1")).json()["cases"]] == [
        "r-late"
    ]
    bad = client.get("/queue", params={"after": "garbage"}, headers=as_("t1"))
    assert (bad.status_code, bad.json()["reason"]) == (400, "bad_request")


def test_the_openapi_document_names_every_refusal(client):
    spec = client.get("/openapi.json").json()
    fire = spec["paths"]["/cases/{case_id}/{trigger}"]["post"]["responses"]
    assert {"200", "401", "403", "404", "409", "422"} <= set(fire)
    assert "stale_version" in fire["409"]["description"]
    assert "forbidden" in fire["403"]["description"]
    assert "Problem" in spec["components"]["schemas"]


def test_a_record_form_is_a_printable_page_with_personal_data_masked(client):
    open_repair(client)
    page = client.get("/cases/r-1/forms/住戶報修記錄表", params={"lang": "en"}, headers=as_("t1"))
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "r-1" in page.text
    assert "Kitchen pipe leaking" in page.text
    assert "138 0000 0000" not in page.text  # pii: no role of the standard catalogue sees it
    missing = client.get("/cases/r-1/forms/no_such_form", headers=as_("t1"))
    assert missing.status_code == 404
