"""The desk's transactional outbox: effects saved with their step, delivered at least once."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servflow import Desk, Effect, Rejected
from servflow.store import MemoryStore, OutboxEntry, SqlStore
from tests.test_desk import RacingStore
from tests.test_store_contract import (
    CLERK,
    ENGINE,
    REPO,
    T0,
    Backend,
    open_backend,
    repair_data,
)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with open_backend(request.param, tmp_path) as made:
        yield made


class Receiver:
    """A delivery handler that fails the first ``fail`` calls for each effect id."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.seen: list[str] = []
        self.got: dict[str, Effect] = {}

    def __call__(self, entry: OutboxEntry) -> None:
        self.seen.append(entry.id)
        if self.seen.count(entry.id) <= self.fail:
            raise ConnectionError("138 0000 0000 unreachable")  # personal data in a message
        self.got[entry.id] = entry.effect


def _repair(desk: Desk, case_id: str = "r-1") -> None:
    desk.open("repair", actor=CLERK, data=repair_data(T0), at=T0, case_id=case_id)
    desk.fire(
        case_id,
        "dispatch",
        actor=CLERK,
        data={"technician": "李師傅"},
        at=T0 + timedelta(minutes=10),
    )


def test_deliver_hands_each_effect_out_once_and_marks_it(backend):
    hooked: list[Effect] = []
    desk = Desk(ENGINE, backend.store, on_effects=hooked.extend)
    _repair(desk)
    receiver = Receiver()
    at = T0 + timedelta(minutes=11)
    delivered = desk.deliver(receiver, at=at)
    assert [e.id for e in delivered] == ["r-1:1:0", "r-1:2:0"]
    assert list(receiver.got.values()) == hooked  # the hook still gets the same effects
    assert desk.deliver(receiver, at=at + timedelta(days=1)) == []
    other = Desk(ENGINE, backend.another())  # another worker finds nothing either
    assert other.deliver(receiver, at=at + timedelta(days=1)) == []
    assert receiver.seen == ["r-1:1:0", "r-1:2:0"]


def test_deliver_takes_at_most_limit(backend):
    desk = Desk(ENGINE, backend.store)
    _repair(desk)
    receiver = Receiver()
    at = T0 + timedelta(minutes=11)
    assert [e.id for e in desk.deliver(receiver, at=at, limit=1)] == ["r-1:1:0"]
    assert [e.id for e in desk.deliver(receiver, at=at, limit=1)] == ["r-1:2:0"]


def test_a_failing_handler_is_retried_with_backoff_then_listed_as_failed(backend):
    desk = Desk(ENGINE, backend.store)
    _repair(desk)
    receiver = Receiver(fail=99)
    at = T0 + timedelta(hours=1)
    minute = timedelta(minutes=1)
    tries = [at, at + minute, at + 3 * minute]  # waits of 1, then 2 minutes
    for n, when in enumerate(tries):
        before = when - timedelta(seconds=1)
        if n:
            assert desk.deliver(receiver, at=before, backoff=minute, attempts=3) == []
        assert desk.deliver(receiver, at=when, backoff=minute, attempts=3) == []
    assert receiver.seen == ["r-1:1:0", "r-1:2:0"] * 3
    failed = desk.failed()
    assert [(e.id, e.attempts, e.error) for e in failed] == [
        ("r-1:1:0", 3, "ConnectionError"),
        ("r-1:2:0", 3, "ConnectionError"),
    ]
    assert "138" not in repr(failed)  # the exception's message is not kept
    assert desk.deliver(receiver, at=at + timedelta(days=30)) == []  # given up on

    desk.retry("r-1:2:0", at=at + timedelta(days=30))
    receiver.fail = 0
    assert [e.id for e in desk.deliver(receiver, at=at + timedelta(days=30))] == ["r-1:2:0"]
    assert [e.id for e in desk.failed()] == ["r-1:1:0"]


def test_one_failing_effect_does_not_stop_the_others(backend):
    desk = Desk(ENGINE, backend.store)
    _repair(desk)

    def handler(entry: OutboxEntry) -> None:
        if entry.effect.kind == "record":
            raise RuntimeError("the records office is closed")

    delivered = desk.deliver(handler, at=T0 + timedelta(hours=1))
    assert [e.effect.kind for e in delivered] == ["notify"]


class RacingOutbox(MemoryStore):
    """A memory store that lets a rival write just before the first save."""

    def __init__(self) -> None:
        super().__init__()
        self.rival: Desk | None = None

    def save(self, case, events, *, expected_version, effects=()):  # type: ignore[no-untyped-def]
        rival, self.rival = self.rival, None
        if rival is not None:
            data = {"cancel_reason": "duplicate"}
            rival.fire(case.id, "cancel", actor=CLERK, data=data, at=T0 + timedelta(minutes=6))
        super().save(case, events, expected_version=expected_version, effects=effects)


def test_a_rejected_step_and_a_lost_race_put_nothing_in_the_outbox():
    store = RacingOutbox()
    desk = Desk(ENGINE, store)
    desk.open("repair", actor=CLERK, data=repair_data(T0), at=T0, case_id="r-1")
    with pytest.raises(Rejected):
        desk.fire("r-1", "complete", actor=CLERK, at=T0 + timedelta(minutes=5))
    store.rival = Desk(ENGINE, store)
    with pytest.raises(Rejected):  # run again on the cancelled case: no dispatch now
        desk.fire(
            "r-1", "dispatch", actor=CLERK, data={"technician": "李"}, at=T0 + timedelta(minutes=7)
        )
    assert store.load("r-1").state == "cancelled"
    delivered = desk.deliver(Receiver(), at=T0 + timedelta(days=1))
    assert delivered[0].id == "r-1:1:0"
    assert {e.effect.trigger for e in delivered} <= {"start", "cancel"}
    assert all(e.id.startswith(("r-1:1:", "r-1:2:")) for e in delivered)


def test_a_store_without_an_outbox_keeps_the_hook_and_refuses_deliver():
    hooked: list[Effect] = []
    desk = Desk(
        ENGINE, RacingStore(MemoryStore(), lambda _: None, race=0), on_effects=hooked.extend
    )
    assert desk.outbox is None
    _repair(desk)
    assert [e.kind for e in hooked] == ["record", "notify"]
    with pytest.raises(TypeError, match="keeps no outbox"):
        desk.deliver(Receiver(), at=T0)
    with pytest.raises(TypeError, match="keeps no outbox"):
        Desk(ENGINE, MemoryStore(), outbox=False).failed()


def test_deliver_checks_its_arguments():
    desk = Desk(ENGINE, MemoryStore())
    for kw, error in (
        ({"attempts": 0}, ValueError),
        ({"attempts": True}, TypeError),
        ({"backoff": 5}, TypeError),
        ({"backoff": timedelta(days=2)}, ValueError),
    ):
        with pytest.raises(error):
            desk.deliver(Receiver(), at=T0, **kw)
    with pytest.raises(TypeError):
        Desk(ENGINE, MemoryStore(), outbox="yes")  # type: ignore[arg-type]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plan=st.lists(
        st.tuples(st.integers(0, 3), st.integers(1, 4), st.integers(0, 20)),
        min_size=1,
        max_size=12,
    )
)
def test_every_effect_is_delivered_exactly_once_or_listed_as_failed(plan):
    """Whatever fails and whenever workers run, each effect ends delivered once or failed."""
    store = MemoryStore()
    desk = Desk(ENGINE, store)
    for n in range(3):
        _repair(desk, f"r-{n}")
    outcomes: dict[str, int] = {}
    failures: dict[str, int] = {}
    failing = [0]  # how many times each effect fails, from now on

    def handler(entry: OutboxEntry) -> None:
        if failures.get(entry.id, 0) < failing[0]:
            failures[entry.id] = failures.get(entry.id, 0) + 1
            raise RuntimeError("down")
        outcomes[entry.id] = outcomes.get(entry.id, 0) + 1

    at = T0 + timedelta(hours=1)
    for fail, limit, minutes in plan:
        failing[0] = fail
        at += timedelta(minutes=minutes)
        desk.deliver(handler, at=at, limit=limit, attempts=3, backoff=timedelta(minutes=1))
    failing[0] = 0
    while desk.deliver(handler, at=at + timedelta(days=1), limit=100):
        pass
    failed = {e.id for e in desk.failed()}
    every = {f"r-{n}:{seq}:0" for n in range(3) for seq in (1, 2)}
    assert set(outcomes) | failed == every
    assert not set(outcomes) & failed
    assert all(count == 1 for count in outcomes.values())


_KILLED_WORKER = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import timedelta
    sys.path.insert(0, {repo!r})
    from servflow import Desk
    from servflow.store import SqlStore
    from tests.test_store_contract import CLERK, ENGINE, T0, repair_data

    def die(effects):
        # The step has committed; the process dies before anyone delivers its effects.
        print("committed", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    desk = Desk(ENGINE, SqlStore({url!r}), on_effects=die)
    desk.open("repair", actor=CLERK, data=repair_data(T0), at=T0, case_id="r-1")
    print("not reached", flush=True)
    """
)


def test_a_process_killed_between_commit_and_delivery_loses_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    code = _KILLED_WORKER.format(repo=str(REPO), url=url)
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert run.returncode == -signal.SIGKILL, run.stderr
    assert run.stdout.split() == ["committed"]
    with SqlStore(url, create=False) as store:
        desk = Desk(ENGINE, store)  # a second process, after the crash
        receiver = Receiver()
        delivered = desk.deliver(receiver, at=T0 + timedelta(minutes=1))
        assert [e.id for e in delivered] == ["r-1:1:0"]
        assert receiver.got["r-1:1:0"].kind == "record"
        assert ENGINE.replay(store.history("r-1")) == store.load("r-1")
