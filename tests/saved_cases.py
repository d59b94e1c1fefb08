"""The saved-case corpus: cases, events and effects as a release of servflow wrote them.

    python tests/saved_cases.py           # records tests/saved/cases.json (see below)

The corpus is a contract with the hosts that stored cases: a case saved by one release
must load, continue and replay the same in the next. It is recorded **once**, by the
release whose output it pins (``recorded_by`` in the file), and never re-recorded to make
a test pass: a difference is a change of the stored format, which needs a reader for the
old one. A later release may add runs of its own with a new file.

Each run is a list of operations (start, fire, advance) at fixed times; after each one the
file holds the case, the events and the effects, as JSON (``model_dump(mode="json")``).
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

from servflow import Actor, Case, Engine, Outcome
from servflow.procedures import load_procedure
from servflow.procedures.load import digest_of

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SAVED = HERE / "saved" / "cases.json"

ENGINES = {
    "standard": [REPO / "procedures"],
    "ticket": [
        REPO / "tests" / "procedures" / "ticket.yaml",
        REPO / "procedures" / "calendars.yaml",
    ],
}

# Every procedure file the repository ships or tests with: its digest pins stored cases.
PROCEDURE_FILES = [
    *sorted((REPO / "procedures").glob("*.yaml")),
    REPO / "tests" / "procedures" / "ticket.yaml",
    REPO / "tests" / "mistakes" / "base.yaml",
]
PROCEDURE_FILES.remove(REPO / "procedures" / "calendars.yaml")

REPAIR = {
    "resident_name": "王小明",
    "address": "A-1203",
    "phone": "138 0000 0000",
    "fault": "Kitchen pipe leaking",
    "appointment_at": "2026-11-23T12:00:00+08:00",
}
COMPLAINT = {
    "complainant_name": "陳大文",
    "phone": "138 0013 8000",
    "unit": "A座 1203",
    "channel": "hotline",
    "content": "電梯夜間噪音，多次反映未解決",
    "received_at": "2026-11-09T08:55:00+08:00",
}
APPLICATION = {
    "applicant_name": "林美玲",
    "phone": "139 2222 3333",
    "unit": "B座 0805",
    "works_description": "拆除廚房與客廳之間的非承重牆，更換地磚",
    "changes_structure": True,
    "contractor": "安居裝飾工程有限公司",
    "planned_start": "2026-11-16",
    "planned_end": "2026-12-18",
}


def _start(procedure: str, role: str, at: str, case_id: str, data: Any = None) -> dict[str, Any]:
    return {
        "op": "start",
        "procedure": procedure,
        "role": role,
        "at": at,
        "case_id": case_id,
        "data": data or {},
    }


def _fire(trigger: str, role: str, at: str, data: Any = None) -> dict[str, Any]:
    return {"op": "fire", "trigger": trigger, "role": role, "at": at, "data": data or {}}


def _advance(at: str) -> dict[str, Any]:
    return {"op": "advance", "at": at}


RUNS: dict[str, tuple[str, list[dict[str, Any]]]] = {
    # Warnings, a pause, a breach that fires `escalate`, a delayed breach step, a changed
    # target, a second cycle after reopening (history), and a closed case.
    "ticket": (
        "ticket",
        [
            _start("ticket", "agent", "2026-11-23T09:00:00+08:00", "t-1"),
            _advance("2026-11-23T13:00:00+08:00"),
            _fire("wait", "agent", "2026-11-23T13:30:00+08:00"),
            _fire("resume", "agent", "2026-11-23T15:00:00+08:00"),
            _advance("2026-11-24T16:00:00+08:00"),
            _fire("note", "lead", "2026-11-24T16:10:00+08:00", {"note": "called the resident"}),
            _advance("2026-11-25T12:00:00+08:00"),
            _fire("finish", "head", "2026-11-25T12:05:00+08:00"),
            _advance("2026-11-25T13:00:00+08:00"),
            _fire("reopen", "head", "2026-11-25T13:10:00+08:00"),
            _fire("mark_urgent", "head", "2026-11-25T13:20:00+08:00", {"urgent": True}),
            _fire("wait", "head", "2026-11-25T13:40:00+08:00"),
            _advance("2026-11-25T18:00:00+08:00"),
            _fire("resume", "head", "2026-11-26T09:00:00+08:00"),
            _advance("2026-11-26T12:00:00+08:00"),
            _fire("finish", "head", "2026-11-26T12:30:00+08:00"),
            _fire("close", "head", "2026-11-26T12:40:00+08:00"),
        ],
    ),
    # An urgent case whose first target is the data-dependent one.
    "ticket_urgent": (
        "ticket",
        [
            _start("ticket", "agent", "2026-11-23T09:00:00+08:00", "t-2"),
            _fire("mark_urgent", "agent", "2026-11-23T09:01:00+08:00", {"urgent": True}),
            _advance("2026-11-23T10:30:00+08:00"),
            _fire("abandon", "head", "2026-11-23T10:40:00+08:00"),
        ],
    ),
    # Dispatched late (warning and breach), then the completion clock with its delayed step.
    "repair": (
        "standard",
        [
            _start("repair", "repair_reception", "2026-11-23T09:00:00+08:00", "r-1", REPAIR),
            _advance("2026-11-23T09:45:00+08:00"),
            _fire(
                "dispatch",
                "repair_reception",
                "2026-11-23T09:50:00+08:00",
                {"technician": "李師傅"},
            ),
            _advance("2026-11-25T17:00:00+08:00"),
            _advance("2026-11-26T12:00:00+08:00"),
            _fire(
                "complete",
                "repair_reception",
                "2026-11-26T14:00:00+08:00",
                {"work_order_no": "WO-1", "completed_at": "2026-11-26T13:30:00+08:00"},
            ),
            _advance("2026-11-27T10:00:00+08:00"),
        ],
    ),
    # Two warnings, a breach that escalates, a step 4 hours later, a promised date (a
    # deadline from the case), and its breach.
    "complaint": (
        "standard",
        [
            _start("complaint", "operator", "2026-11-09T09:00:00+08:00", "c-1", COMPLAINT),
            _fire("accept", "cs_staff", "2026-11-09T09:10:00+08:00", {"handler": "李小姐"}),
            _fire(
                "classify", "cs_staff", "2026-11-09T09:15:00+08:00", {"category": "problem_solving"}
            ),
            _fire("refer", "cs_staff", "2026-11-09T09:20:00+08:00", {"department": "maintenance"}),
            _advance("2026-11-10T11:00:00+08:00"),
            _advance("2026-11-10T14:00:00+08:00"),
            _fire(
                "promise_reply",
                "cs_manager",
                "2026-11-10T15:00:00+08:00",
                {"reply_due": "2026-11-12"},
            ),
            _advance("2026-11-13T10:00:00+08:00"),
            _fire("reply", "cs_manager", "2026-11-13T11:00:00+08:00", {"reply": "經理親自回覆"}),
            _fire(
                "callback",
                "cs_staff",
                "2026-11-13T15:00:00+08:00",
                {"satisfied": False, "callback_notes": "仍有噪音"},
            ),
            _advance("2026-11-14T16:00:00+08:00"),
        ],
    ),
    # A clock paused while another runs, a clock restarted by each patrol.
    "renovation": (
        "standard",
        [
            _start("renovation", "resident", "2026-11-09T09:00:00+08:00", "v-1", APPLICATION),
            _fire(
                "explain_rules",
                "cs_staff",
                "2026-11-09T09:15:00+08:00",
                {"rules_acknowledged": True},
            ),
            _fire("submit", "cs_staff", "2026-11-09T09:30:00+08:00", {"fee_due": "1500.00"}),
            _advance("2026-11-11T10:00:00+08:00"),
            _fire(
                "pass_review",
                "maintenance",
                "2026-11-12T11:00:00+08:00",
                {"review_notes": "非承重牆，可拆除"},
            ),
            _fire(
                "collect_fees",
                "cashier",
                "2026-11-13T12:00:00+08:00",
                {"fee_amount": 1500, "receipt_no": "RC-2026-0001"},
            ),
            _advance("2026-11-17T10:00:00+08:00"),
            _fire(
                "approve",
                "cs_supervisor",
                "2026-11-17T11:00:00+08:00",
                {"permit_no": "ZX-2026-118"},
            ),
            _fire("patrol", "cs_staff", "2026-11-18T10:00:00+08:00", {"patrol_notes": "正常施工"}),
            _advance("2026-11-20T10:00:00+08:00"),
        ],
    ),
}


def engines() -> dict[str, Engine]:
    return {name: Engine.from_directory(*paths) for name, paths in ENGINES.items()}


def actor(role: str) -> Actor:
    return Actor(id=f"u-{role}", roles=frozenset({role}))


def perform(engine: Engine, case: Case | None, op: dict[str, Any]) -> Outcome:
    """One operation of a run, through the public API."""
    at = datetime.fromisoformat(op["at"])
    if op["op"] == "start":
        return engine.start(
            op["procedure"],
            actor=actor(op["role"]),
            data=op["data"],
            at=at,
            case_id=op["case_id"],
            version=op.get("version"),  # a case already opened: on the version it started on
        )
    assert case is not None
    if op["op"] == "fire":
        return engine.fire(case, op["trigger"], actor=actor(op["role"]), data=op["data"], at=at)
    return engine.advance(case, at=at)


def record() -> dict[str, Any]:
    built = engines()
    runs: dict[str, Any] = {}
    for name, (engine_name, ops) in RUNS.items():
        engine = built[engine_name]
        case: Case | None = None
        steps = []
        for op in ops:
            out = perform(engine, case, op)
            case = out.case
            steps.append(
                {
                    **op,
                    "case": out.case.model_dump(mode="json"),
                    "events": [e.model_dump(mode="json") for e in out.events],
                    "effects": [e.model_dump(mode="json") for e in out.effects],
                }
            )
        runs[name] = {"engine": engine_name, "steps": steps}
    digests = {
        path.relative_to(REPO).as_posix(): digest_of(load_procedure(path))
        for path in PROCEDURE_FILES
    }
    commit = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, cwd=REPO
    ).stdout.strip()
    return {"recorded_by": f"servflow 0.1 ({commit})", "digests": digests, "runs": runs}


if __name__ == "__main__":
    SAVED.write_text(json.dumps(record(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {SAVED}")
