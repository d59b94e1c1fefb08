"""Desk: load -> engine -> save atomically, retries on lost races, effects after commit."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from servflow import Actor, Case, Desk, Effect, Event, Rejected
from servflow.store import CaseExists, CaseNotFound, CaseStore, Conflict
from tests.test_store_contract import (
    CLERK,
    ENGINE,
    LEASE,
    T0,
    Backend,
    open_backend,
    repair_data,
)

SUPERVISOR = Actor(id="supervisor", roles=frozenset({"cs_supervisor"}))
OFFICER = Actor(id="officer", roles=frozenset({"callback_officer"}))


@pytest.fixture(params=["memory", "sqlite"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with open_backend(request.param, tmp_path) as made:
        yield made


class Recorder:
    """An on_effects hook that remembers what it got and what the store held then."""

    def __init__(self, store: CaseStore) -> None:
        self.store = store
        self.calls: list[tuple[Effect, ...]] = []
        self.stored_versions: list[int] = []

    def __call__(self, effects: Sequence[Effect]) -> None:
        self.calls.append(tuple(effects))
        self.stored_versions.append(self.store.load(effects[0].case_id).version)


class RacingStore:
    """A store that lets another writer in just before the first ``race`` saves."""

    def __init__(self, inner: CaseStore, rival: Any, race: int = 1) -> None:
        self.inner, self.rival, self.race, self.saves = inner, rival, race, 0

    def create(self, case: Case, events: Sequence[Event]) -> None:
        self.inner.create(case, events)

    def load(self, case_id: str) -> Case:
        return self.inner.load(case_id)

    def save(self, case: Case, events: Sequence[Event], *, expected_version: int) -> None:
        self.saves += 1
        if self.saves <= self.race:
            self.rival(case.id)
        self.inner.save(case, events, expected_version=expected_version)

    def history(self, case_id: str) -> list[Event]:
        return self.inner.history(case_id)

    def claim_due(self, at: datetime, *, limit: int, lease: timedelta) -> list[Case]:
        return self.inner.claim_due(at, limit=limit, lease=lease)

    def release(self, case_id: str) -> None:
        self.inner.release(case_id)


def _open(desk: Desk, at: datetime = T0, **kw: Any) -> Case:
    return desk.open("repair", actor=CLERK, data=repair_data(at), at=at, **kw)


def test_a_repair_from_open_to_closed(backend):
    hook = Recorder(backend.store)
    desk = Desk(ENGINE, backend.store, on_effects=hook)
    case = _open(desk)
    assert re.fullmatch(r"[0-9a-f]{32}", case.id)  # a random uuid4 hex by default
    assert desk.load(case.id) == case
    menu = {a.trigger: a for a in desk.available(case.id, CLERK, at=T0)}
    assert menu["dispatch"].allowed
    assert not menu["complete"].allowed

    t = T0 + timedelta(minutes=20)
    case = desk.fire(case.id, "dispatch", actor=CLERK, data={"technician": "李師傅"}, at=t)
    done = T0 + timedelta(hours=5)
    data = {"work_order_no": "WO-1", "completed_at": done}
    case = desk.fire(case.id, "complete", actor=CLERK, data=data, at=done)
    # The completed repair opened its callback case, in the same transaction.
    [child] = desk.history(case.id)[-1].detail["opens"]
    desk.fire(
        child,
        "designate",
        actor=SUPERVISOR,
        data={"callback_officer": "officer"},
        at=done + timedelta(hours=1),
    )
    desk.fire(
        child,
        "record_result",
        actor=OFFICER,
        data={"satisfied": True, "callback_notes": "Fixed"},
        at=T0 + timedelta(days=1),
    )
    desk.deliver(lambda entry: None, at=T0 + timedelta(days=1, minutes=1))  # the outbox
    case = desk.load(case.id)
    assert (case.state, case.version) == ("closed", 4)
    history = desk.history(case.id)
    assert [e.trigger for e in history] == ["start", "dispatch", "complete", "callback_done"]
    assert ENGINE.replay(history) == desk.load(case.id) == case
    assert ENGINE.replay(desk.history(child)) == desk.load(child)
    assert [[(e.kind, e.recipient) for e in call] for call in hook.calls] == [
        [("record", "住戶報修記錄表")],
        [("notify", "maintenance")],
        [("record", "維修任務單"), ("open", child)],
        [("notify", "callback_officer")],
        [("record", "回訪記錄表"), ("resume", case.id)],
    ]
    assert hook.stored_versions == [1, 2, 3, 2, 3]  # each call came after its commit


def test_open_with_an_id_of_ones_own_and_twice(backend):
    desk = Desk(ENGINE, backend.store)
    assert _open(desk, case_id="R-2026-0001").id == "R-2026-0001"
    with pytest.raises(CaseExists):
        _open(desk, T0 + timedelta(hours=1), case_id="R-2026-0001")
    assert desk.load("R-2026-0001").opened_at == T0
    with pytest.raises(CaseNotFound):
        desk.fire("R-2026-9999", "dispatch", actor=CLERK, at=T0)


def test_advance_saves_what_fell_due_and_nothing_twice(backend):
    hook = Recorder(backend.store)
    desk = Desk(ENGINE, backend.store, on_effects=hook)
    case = _open(desk)
    assert desk.advance(case.id, at=T0 + timedelta(minutes=10)) == case  # nothing due yet
    late = desk.advance(case.id, at=T0 + timedelta(hours=1))
    assert late.version == 3
    assert [e.kind for e in desk.history(case.id)] == ["started", "warned", "breached"]
    assert desk.advance(case.id, at=T0 + timedelta(hours=1)) == late
    assert len(desk.history(case.id)) == 3
    assert [len(call) for call in hook.calls] == [1, 2]  # the opening record, then 2 notices


def test_run_due_advances_each_due_case_once_and_releases_it(backend):
    hook = Recorder(backend.store)
    desk = Desk(ENGINE, backend.store, on_effects=hook)
    early = _open(desk)
    later = _open(desk, T0 + timedelta(hours=2))
    at = T0 + timedelta(hours=1)
    woken = desk.run_due(at)
    assert [(o.case.id, [e.kind for e in o.events]) for o in woken] == [
        (early.id, ["warned", "breached"])
    ]
    assert desk.load(early.id) == woken[0].case
    assert desk.load(later.id) == later
    assert desk.run_due(at) == []
    # Released, not merely leased: the next due moment is claimable at once. (The month
    # also brings what the calendar opens: the half-yearly archive inspection, the fees'
    # daily close on each working day and November's statement on its last day.)
    working_days = [
        *(f"11-{d}" for d in (23, 24, 25, 26, 27, 30)),
        *(f"12-{d:02}" for d in (1, 2, 3, 4, 7, 8, 9, 10, 11, 14, 15, 16, 17, 18, 21, 22)),
    ]
    assert [o.case.id for o in desk.run_due(T0 + timedelta(days=30))] == [
        later.id,
        "archive_inspection@2026-12-01T09:00+08:00",
        *(f"fees_daily_close@2026-{day}T17:00+08:00" for day in working_days),
        "fees_monthly_statement@2026-11-30T09:00+08:00",
    ]


def test_one_failing_case_does_not_stop_run_due(backend):
    sent = Recorder(backend.store)
    desk = Desk(ENGINE, backend.store, on_effects=sent)
    good = [_open(desk, T0 + timedelta(minutes=n)).id for n in (1, 2)]
    # A case of a procedure version this engine does not hold: advancing it fails.
    out = ENGINE.start("repair", actor=CLERK, data=repair_data(T0), at=T0, case_id="r-bad")
    backend.store.create(out.case.model_copy(update={"procedure_version": 99}), out.events)
    at = T0 + timedelta(hours=1)
    with pytest.raises(KeyError, match="no version 99"):
        desk.run_due(at)
    assert [desk.load(case_id).version for case_id in good] == [3, 3]  # advanced all the same
    # The broken case keeps its claim for the lease, so the next run is not blocked by it.
    assert desk.run_due(at + timedelta(minutes=1)) == []
    again = backend.store.claim_due(at + LEASE, limit=10, lease=LEASE)
    assert [c.id for c in again] == ["r-bad"]


def test_a_failing_effects_hook_stops_neither_the_saves_nor_the_other_cases(backend):
    calls: list[str] = []

    def failing(effects: Sequence[Effect]) -> None:
        calls.append(effects[0].case_id)
        if effects[0].time_limit is not None:
            raise RuntimeError("the mail server is down")

    desk = Desk(ENGINE, backend.store, on_effects=failing)
    first, second = _open(desk), _open(desk, T0 + timedelta(minutes=1))
    with pytest.raises(RuntimeError):
        desk.run_due(T0 + timedelta(hours=1))
    assert calls == [first.id, second.id, first.id, second.id]
    assert desk.load(first.id).version == desk.load(second.id).version == 3  # saved first


def test_a_fire_that_lost_a_race_is_run_again_on_the_new_case(backend):
    plain = Desk(ENGINE, backend.store)
    case = _open(plain)
    case = plain.fire(case.id, "dispatch", actor=CLERK, data={"technician": "李"}, at=T0)

    def rival(case_id: str) -> None:  # a supervisor raises the priority meanwhile
        plain.fire(
            case_id,
            "reprioritise",
            actor=SUPERVISOR,
            data={"priority": "urgent"},
            at=T0 + timedelta(minutes=1),
        )

    hook = Recorder(backend.store)
    racing = RacingStore(backend.store, rival)
    desk = Desk(ENGINE, racing, on_effects=hook)
    after = desk.fire(case.id, "chase", actor=CLERK, at=T0 + timedelta(minutes=2))
    assert racing.saves == 2  # lost once, then won
    assert [e.trigger for e in desk.history(case.id)] == [
        "start",
        "dispatch",
        "reprioritise",
        "chase",
    ]
    assert after.data["priority"] == "urgent"
    assert after.version == 4
    assert ENGINE.replay(desk.history(case.id)) == after
    assert [[e.template for e in call] for call in hook.calls] == [["repair_reminder"]]


def test_a_pinned_version_is_not_retried(backend):
    plain = Desk(ENGINE, backend.store)
    case = _open(plain)

    def rival(case_id: str) -> None:
        plain.fire(case_id, "reprioritise", actor=SUPERVISOR, data={"priority": "urgent"}, at=T0)

    hook = Recorder(backend.store)
    racing = RacingStore(backend.store, rival)
    desk = Desk(ENGINE, racing, on_effects=hook)
    with pytest.raises(Rejected) as info:
        desk.fire(
            case.id,
            "dispatch",
            actor=CLERK,
            data={"technician": "李"},
            at=T0 + timedelta(minutes=1),
            expected_version=1,
        )
    assert info.value.reason == "stale_version"
    assert info.value.details == {"expected": 1, "actual": 2}
    assert racing.saves == 1
    assert [e.trigger for e in desk.history(case.id)] == ["start", "reprioritise"]
    assert hook.calls == []
    with pytest.raises(Rejected) as info:  # a caller still showing version 1
        desk.fire(case.id, "dispatch", actor=CLERK, at=T0, expected_version=1)
    assert info.value.reason == "stale_version"


def test_retries_are_bounded(backend):
    plain = Desk(ENGINE, backend.store)
    case = _open(plain)
    moments = iter(T0 + timedelta(seconds=n) for n in range(1, 100))

    def rival(case_id: str) -> None:  # someone always gets there first
        for priority in ("urgent", "normal"):
            plain.fire(
                case_id,
                "reprioritise",
                actor=SUPERVISOR,
                data={"priority": priority},
                at=next(moments),
            )

    racing = RacingStore(backend.store, rival, race=100)
    desk = Desk(ENGINE, racing, retries=2)
    with pytest.raises(Conflict):
        desk.fire(
            case.id,
            "dispatch",
            actor=CLERK,
            data={"technician": "李"},
            at=T0 + timedelta(minutes=5),
        )
    assert racing.saves == 3
    assert "dispatch" not in [e.trigger for e in desk.history(case.id)]


@pytest.mark.parametrize(
    ("trigger", "actor", "data", "reason"),
    [
        ("complete", CLERK, None, "not_in_state"),
        ("dispatch", SUPERVISOR, {"technician": "李"}, "forbidden"),
        ("dispatch", CLERK, {"technician": "李", "colour": "red"}, "invalid_data"),
        ("dispatch", CLERK, None, "invalid_data"),
        ("no_such_step", CLERK, None, "unknown_trigger"),
    ],
)
def test_a_rejected_event_changes_nothing_stored_and_sends_nothing(
    backend, trigger, actor, data, reason
):
    hook = Recorder(backend.store)
    desk = Desk(ENGINE, backend.store, on_effects=hook)
    case = _open(desk)
    before = (desk.load(case.id), desk.history(case.id), len(hook.calls))
    # Late enough that the dispatch limit fell due: not even that is saved on a rejection.
    with pytest.raises(Rejected) as info:
        desk.fire(case.id, trigger, actor=actor, data=data, at=T0 + timedelta(hours=1))
    assert info.value.reason == reason
    assert (desk.load(case.id), desk.history(case.id), len(hook.calls)) == before
    with pytest.raises(ValueError, match="naive"):
        desk.fire(case.id, "dispatch", actor=CLERK, at=T0.replace(tzinfo=None))
    assert (desk.load(case.id), desk.history(case.id), len(hook.calls)) == before


@pytest.mark.parametrize("kind", ["memory", "sqlite", "postgresql"])
def test_run_due_with_many_workers_advances_every_case_exactly_once(kind, tmp_path):
    with open_backend(kind, tmp_path) as backend:
        opener = Desk(ENGINE, backend.store)
        ids = [_open(opener, T0 + timedelta(minutes=n)).id for n in range(10)]
        at = T0 + timedelta(hours=2)
        workers = [Desk(ENGINE, backend.another()) for _ in range(3)]
        results: list[list[str]] = [[] for _ in workers]
        errors: list[BaseException] = []
        barrier = threading.Barrier(len(workers))

        def work(n: int) -> None:
            try:
                barrier.wait()
                while woken := workers[n].run_due(at, limit=2):
                    results[n].extend(o.case.id for o in woken)
            except BaseException as exc:  # reported in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(len(workers))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors
        every = [case_id for found in results for case_id in found]
        assert sorted(every) == sorted(ids)  # each case advanced once, by one worker
        for case_id in ids:
            history = opener.history(case_id)
            assert [e.kind for e in history] == ["started", "warned", "breached"]
            assert ENGINE.replay(history) == opener.load(case_id)
