"""The Django example: servflow's storage contract on the ORM, and one transaction for the
host's work order and the case's step."""

from __future__ import annotations

import io
import json
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from desk.apps import desk
from desk.models import StoredCase, WorkOrder
from desk.store import DjangoStore
from django.core.management import call_command
from django.db import transaction
from django.test import Client

from servflow import Actor, Engine
from servflow.store import CaseExists, CaseQuery, CaseStore, Conflict

TZ = ZoneInfo("Asia/Shanghai")
ENGINE = Engine.standard()
CLERK = Actor(id="u7", roles=frozenset({"repair_reception"}))


def repair(at: datetime) -> dict[str, object]:
    return {
        "resident_name": "王小明",
        "address": "A-1203",
        "phone": "138 0000 0000",
        "fault": "Kitchen pipe leaking",
        "appointment_at": (at + timedelta(hours=3)).isoformat(),
    }


def new_id() -> str:
    return f"dj-{uuid.uuid4().hex[:10]}"


def post(client: Client, path: str, body: dict[str, object], actor: str = "u7"):  # type: ignore[no-untyped-def]
    return client.post(
        path, data=json.dumps(body), content_type="application/json", headers={"X-Actor": actor}
    )


def test_it_keeps_servflows_storage_contract():
    store = DjangoStore()
    assert isinstance(store, CaseStore)
    at = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
    first = ENGINE.start("repair", actor=CLERK, data=repair(at), at=at, case_id=new_id())
    store.create(first.case, first.events)
    with pytest.raises(CaseExists):
        store.create(first.case, first.events)
    step = ENGINE.fire(
        first.case, "dispatch", actor=CLERK, data={"technician": "t1"}, at=at + timedelta(minutes=5)
    )
    store.save(step.case, step.events, expected_version=1)
    with pytest.raises(Conflict):
        store.save(step.case, step.events, expected_version=1)
    assert store.load(first.case.id) == step.case
    assert ENGINE.replay(store.history(first.case.id)) == step.case
    mine = store.find(CaseQuery(assignee=("technician", "t1"), states="dispatched"))
    assert first.case.id in [c.id for c in mine.cases]


def test_pages_resume_after_their_last_case():
    store = DjangoStore()
    at = datetime(2020, 1, 6, 9, 0, tzinfo=TZ)
    ids = []
    for n in range(5):
        made = ENGINE.start(
            "repair", actor=CLERK, data=repair(at), at=at + timedelta(minutes=n), case_id=new_id()
        )
        store.create(made.case, made.events)
        ids.append(made.case.id)
    query = CaseQuery(opened_from=at, opened_before=at + timedelta(hours=1))
    first = store.find(query, limit=2)
    second = store.find(query, limit=2, after=first.next)
    third = store.find(query, limit=2, after=second.next)
    assert [c.id for c in first.cases + second.cases + third.cases] == ids
    assert third.next is None


def test_a_claimed_case_goes_to_one_worker_until_released():
    store = DjangoStore()
    at = datetime(2019, 3, 4, 9, 0, tzinfo=TZ)
    made = ENGINE.start("repair", actor=CLERK, data=repair(at), at=at, case_id=new_id())
    store.create(made.case, made.events)
    later = at + timedelta(hours=1)
    claimed = [c.id for c in store.claim_due(later, limit=10_000, lease=timedelta(minutes=5))]
    assert made.case.id in claimed
    again = store.claim_due(later, limit=10_000, lease=timedelta(minutes=5))
    assert made.case.id not in [c.id for c in again]
    store.release(made.case.id)


def test_the_work_order_and_the_dispatch_commit_together():
    client = Client()
    case_id = new_id()
    opened = post(
        client,
        "/cases",
        {"procedure": "repair", "case_id": case_id, "data": repair(datetime.now(TZ))},
    )
    assert opened.status_code == 201, opened.content
    done = post(
        client,
        f"/cases/{case_id}/dispatch",
        {"data": {"technician": "t1"}, "work_order": f"WO-{case_id}"},
    )
    assert done.status_code == 200, done.content
    assert done.json()["state"] == "dispatched"
    assert WorkOrder.objects.get(number=f"WO-{case_id}").case_id == case_id


def test_a_work_order_that_cannot_be_written_takes_the_dispatch_back():
    client = Client()
    taken, case_id = new_id(), new_id()
    post(
        client,
        "/cases",
        {"procedure": "repair", "case_id": taken, "data": repair(datetime.now(TZ))},
    )
    post(client, f"/cases/{taken}/dispatch", {"data": {"technician": "t1"}, "work_order": "WO-1"})
    post(
        client,
        "/cases",
        {"procedure": "repair", "case_id": case_id, "data": repair(datetime.now(TZ))},
    )
    clash = post(
        client, f"/cases/{case_id}/dispatch", {"data": {"technician": "t2"}, "work_order": "WO-1"}
    )
    assert clash.status_code == 409
    case = desk().load(case_id)
    assert (case.state, case.version) == ("recorded", 1)  # the step was rolled back
    assert len(desk().history(case_id)) == 1


def test_refusals_are_the_engines_with_a_status():
    client = Client()
    case_id = new_id()
    post(
        client,
        "/cases",
        {"procedure": "repair", "case_id": case_id, "data": repair(datetime.now(TZ))},
    )
    forbidden = post(client, f"/cases/{case_id}/dispatch", {"data": {"technician": "t1"}}, "t1")
    assert (forbidden.status_code, forbidden.json()["reason"]) == (403, "forbidden")
    stale = post(
        client, f"/cases/{case_id}/dispatch", {"data": {"technician": "t1"}, "expected_version": 3}
    )
    assert (stale.status_code, stale.json()["reason"]) == (409, "stale_version")
    assert post(client, "/cases", {"procedure": "repair"}, "nobody").status_code == 401


def test_the_worker_command_applies_what_fell_due():
    past = datetime.now(TZ) - timedelta(hours=2)
    case_id = new_id()
    made = ENGINE.start("repair", actor=CLERK, data=repair(past), at=past, case_id=case_id)
    with transaction.atomic():
        DjangoStore().create(made.case, made.events)
    out = io.StringIO()
    call_command("run_desk_worker", "--once", "--batch", "10000", stdout=out)
    assert f"case {case_id}: warned, breached" in out.getvalue()
    assert "worker stopped" in out.getvalue()
    assert StoredCase.objects.get(id=case_id).next_due is None


def test_the_models_and_their_migrations_agree():
    call_command("makemigrations", "desk", "--check", "--dry-run", verbosity=0)


def test_the_readme_start_commands_work(tmp_path):
    """`manage.py migrate` as the README runs it, then `runserver` answers a request."""
    import os
    import re
    import shlex
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    example = Path(__file__).resolve().parent.parent
    text = (example / "README.md").read_text(encoding="utf-8")
    start = re.search(r"## Start it.*?```sh\n(.*?)```", text, re.S)
    assert start is not None
    server_line = start.group(1).splitlines()[0]
    env = {**os.environ, "DJANGO_DESK_DB": str(tmp_path / "desk.sqlite3")}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    commands = [
        [sys.executable if w == "../../.venv/bin/python" else w for w in shlex.split(part)]
        for part in server_line.split("&&")[1:]
    ]
    migrate, runserver = commands
    subprocess.run(migrate, cwd=example, env=env, check=True, capture_output=True, timeout=120)
    runserver[-1] = f"127.0.0.1:{port}"
    server = subprocess.Popen(
        [*runserver, "--noreload"],
        cwd=example,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/cases",
            method="POST",
            headers={"X-Actor": "nobody"},
            data=b"{}",
        )
        deadline = time.monotonic() + 30
        status = None
        while status is None:
            try:
                urllib.request.urlopen(request, timeout=5)
            except urllib.error.HTTPError as answer:
                status = answer.code
            except OSError:
                assert time.monotonic() < deadline, "runserver did not answer"
                time.sleep(0.2)
        assert status == 401
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)


def test_schedule_cursors_only_move_forward():
    store = DjangoStore()
    # A procedure the standard catalogue does not ship: no other test moves its cursor.
    at = datetime(2026, 3, 1, 9, 0, tzinfo=TZ)
    assert store.schedule_cursor("routine_check") is None
    store.move_schedule_cursor("routine_check", at)
    store.move_schedule_cursor("routine_check", at - timedelta(days=1))
    assert store.schedule_cursor("routine_check") == at
    store.move_schedule_cursor("routine_check", at + timedelta(days=1))
    assert store.schedule_cursor("routine_check") == at + timedelta(days=1)
