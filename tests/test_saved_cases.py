"""Cases saved by servflow 0.1 load, continue and replay exactly as that release wrote them.

``tests/saved/cases.json`` was recorded by 0.1 (see ``tests/saved_cases.py``): runs of the
seed procedures and of ``ticket`` through warnings, pauses, breaches, delayed breach
steps, automatic transitions, deadlines from the case and reopened cycles, with the case,
events and effects after every step. A host keeps such cases in its store; whatever the
engine keeps in its own working state, a stored case must read back as it was written,
carry on from where it stopped, and the stored log must rebuild it.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from servflow import Case, Engine, Event
from servflow.procedures import load_procedure
from servflow.procedures.load import digest_of
from tests.saved_cases import REPO, SAVED, engines, perform


@cache
def _saved() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SAVED.read_text(encoding="utf-8"))
    return data


@cache
def _engines() -> dict[str, Engine]:
    return engines()


RUNS = sorted(_saved()["runs"])


@pytest.mark.parametrize("path", sorted(_saved()["digests"]))
def test_every_procedure_keeps_its_digest(path: str) -> None:
    # A stored case names the digest of its procedure; a new digest for the same file
    # would make the engine refuse every case saved before (digest-mismatch). A file that
    # moved on to a new version keeps the old one beside it, unchanged (`repair.v1.yaml`),
    # as docs/language.md asks, so the catalogue still holds the digest.
    file = REPO / path
    kept = [file, *sorted(file.parent.glob(f"{file.stem}.v*.yaml"))]
    assert _saved()["digests"][path] in {digest_of(load_procedure(p)) for p in kept}


@pytest.mark.parametrize("run", RUNS)
def test_saved_cases_read_back_as_written(run: str) -> None:
    for step in _saved()["runs"][run]["steps"]:
        case = Case.model_validate(step["case"])
        assert case.model_dump(mode="json") == step["case"]
        for raw in step["events"]:
            assert Event.model_validate(raw).model_dump(mode="json") == raw


@pytest.mark.parametrize("run", RUNS)
def test_a_saved_case_carries_on_as_that_release_did(run: str) -> None:
    """Each step taken from the *stored* case before it gives the stored result."""
    saved = _saved()["runs"][run]
    engine = _engines()[saved["engine"]]
    before: Case | None = None
    for i, step in enumerate(saved["steps"]):
        # A stored case carries on on its version, however many came after it.
        out = perform(engine, before, {**step, "version": step["case"]["procedure_version"]})
        where = f"{run} step {i + 1} ({step['op']} {step.get('trigger', '')} at {step['at']})"
        assert [e.model_dump(mode="json") for e in out.events] == step["events"], where
        assert [e.model_dump(mode="json") for e in out.effects] == step["effects"], where
        assert out.case.model_dump(mode="json") == step["case"], where
        before = Case.model_validate(step["case"])


@pytest.mark.parametrize("run", RUNS)
def test_a_saved_log_replays_to_the_saved_case(run: str) -> None:
    saved = _saved()["runs"][run]
    engine = _engines()[saved["engine"]]
    log: list[dict[str, Any]] = []
    for step in saved["steps"]:
        log.extend(step["events"])
        if log:
            assert engine.replay(log).model_dump(mode="json") == step["case"]
