"""The service as a host runs it: uvicorn and the worker as processes on a free local
port, against one SQLite file; both stop cleanly on SIGTERM."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx2 as httpx
import sqlalchemy as sa

from servflow import Actor, Engine
from servflow.store import SqlStore

EXAMPLE = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Asia/Shanghai")
FENCE = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)


def readme_commands() -> tuple[list[str], list[str], list[str]]:
    """The README's start commands (service, worker) and its curl examples, as written."""
    text = (EXAMPLE / "README.md").read_text(encoding="utf-8")
    lines = "\n".join(FENCE.findall(text)).replace("\\\n", " ")
    start = [
        shlex.split(line.split("&&", 1)[1])
        for line in lines.splitlines()
        if line.startswith("cd examples/desk_service && ../../.venv/bin/python -m ")
        and "pytest" not in line
    ]
    curls = [line for line in lines.splitlines() if line.strip().startswith("curl ")]
    service, worker = start
    return service, worker, curls


def run_as_written(argv: list[str], **replace: str) -> list[str]:
    """``argv`` with this interpreter for the venv's, and options replaced."""
    out = [sys.executable if word == "../../.venv/bin/python" else word for word in argv]
    for option, value in replace.items():
        out[out.index(f"--{option}") + 1] = value
    return out


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(check, seconds: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while True:
        try:
            result = check()
        except httpx.TransportError:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def test_service_and_worker_as_processes(tmp_path):
    db = f"sqlite:///{tmp_path / 'desk.db'}"
    env = {**os.environ, "DESK_DB": db, "PYTHONPATH": str(EXAMPLE)}
    # A case opened two hours ago and never dispatched: overdue for the worker to find.
    past = datetime.now(TZ) - timedelta(hours=2)
    with SqlStore(db) as store:
        opened = Engine.standard().start(
            "repair",
            actor=Actor(id="u7", roles={"repair_reception"}),
            at=past,
            case_id="late-1",
            data={
                "resident_name": "王小明",
                "address": "A-1203",
                "phone": "138 0000 0000",
                "fault": "Kitchen pipe leaking",
                "appointment_at": past + timedelta(hours=3),
            },
        )
        store.create(opened.case, opened.events)
    port = free_port()
    service_argv, worker_argv, curls = readme_commands()
    service = subprocess.Popen(
        run_as_written(service_argv, port=str(port)),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    worker = subprocess.Popen(
        run_as_written(worker_argv, interval="0.2"),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        clerk = {"X-Actor": "u7"}
        wait_until(lambda: httpx.get(f"{base}/procedures", headers=clerk).status_code == 200)
        # The README's curl examples, as written but for the port.
        answers = [
            subprocess.run(
                shlex.split(line.replace("localhost:8000", f"127.0.0.1:{port}")),
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout
            for line in curls
        ]
        assert '"state":"recorded"' in answers[0]
        assert '"state":"dispatched"' in answers[1]
        assert '"id":"r-1"' in answers[2]
        made = httpx.post(
            f"{base}/cases",
            json={
                "procedure": "repair",
                "case_id": "r-2",
                "data": {
                    "resident_name": "李四",
                    "address": "B-2",
                    "phone": "139 0000 0000",
                    "fault": "Door lock broken",
                    "appointment_at": (datetime.now(TZ) + timedelta(hours=3)).isoformat(),
                },
            },
            headers=clerk,
        )
        assert made.status_code == 201, made.text
        stale = httpx.post(
            f"{base}/cases/r-2/dispatch",
            json={"data": {"technician": "t1"}, "expected_version": 9},
            headers=clerk,
        )
        assert stale.status_code == 409
        assert stale.json()["current_version"] == 1

        def breached() -> bool:
            log = httpx.get(f"{base}/cases/late-1/history", headers=clerk).json()
            return "breached" in [e["kind"] for e in log]

        wait_until(breached)

        def all_delivered() -> bool:
            bind = sa.create_engine(db)
            try:
                with bind.connect() as conn:
                    pending = conn.execute(
                        sa.text("SELECT count(*) FROM servflow_outbox WHERE delivered_at IS NULL")
                    ).scalar_one()
            finally:
                bind.dispose()
            return pending == 0

        wait_until(all_delivered)
    finally:
        for process in (worker, service):
            process.send_signal(signal.SIGTERM)
        outputs = [process.communicate(timeout=30)[0] for process in (worker, service)]
    assert worker.returncode == 0, outputs[0]
    assert "worker stopped" in outputs[0]
    assert "case late-1: warned, breached" in outputs[0]
    # The effects of the steps were delivered from the outbox: the dispatch-overdue
    # notice of the late case, and the record form of the case opened over HTTP.
    assert "deliver late-1:" in outputs[0]
    assert "notify to cs_supervisor (dispatch_overdue)" in outputs[0]
    assert "deliver r-1:1:0: record" in outputs[0]
    # uvicorn shuts down gracefully, then re-raises the signal so that its exit status
    # says what stopped it.
    assert "Application shutdown complete" in outputs[1]
    assert service.returncode in (0, -signal.SIGTERM), outputs[1]
