"""Linked cases (language 1.1): a step opens a case of another procedure; its closing resumes.

The procedures are ``tests/procedures/linked/``: ``fault`` completes into
``awaiting_callback`` and opens a case of the shared ``callback`` procedure, whose
closing fires ``callback_done`` on the fault with the callback's outcome.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from servflow import Actor, Case, Desk, Engine, Rejected
from servflow.engine.links import child_id
from servflow.errors import DefinitionError, ReplayError
from servflow.model import Procedure
from servflow.procedures import load_procedure
from servflow.store import AlreadyDelivered, CaseNotFound, MemoryStore, OutboxEntry
from tests.test_store_contract import REPO, T0, Backend, open_backend

LINKED = REPO / "tests" / "procedures" / "linked"
ENGINE = Engine.from_directory(LINKED)
CLERK = Actor(id="clerk", roles=frozenset({"reception"}))
OFFICER = Actor(id="officer", roles=frozenset({"callback_desk"}))
HOUR = timedelta(hours=1)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with open_backend(request.param, tmp_path) as made:
        yield made


def _completed(desk: Desk, case_id: str = "f-1") -> str:
    """A fault opened and completed; the id of the callback case it opened."""
    desk.open("fault", actor=CLERK, data={"fault": "leak", "phone": "138"}, at=T0, case_id=case_id)
    desk.fire(case_id, "complete", actor=CLERK, at=T0 + HOUR)
    return child_id(case_id, 2, 0)


def _replays(desk: Desk, *case_ids: str) -> None:
    for case_id in case_ids:
        assert ENGINE.replay(desk.history(case_id)) == desk.load(case_id)
        assert ENGINE.verify(desk.history(case_id), stored=desk.load(case_id)).ok


def test_a_step_opens_its_child_with_it_and_both_logs_name_the_link(backend):
    desk = Desk(ENGINE, backend.store)
    child = _completed(desk)
    assert child == "f-1-2-0"
    parent_event = desk.history("f-1")[-1]
    assert parent_event.detail["opens"] == [child]
    opened = desk.load(child)
    assert (opened.procedure, opened.state) == ("callback", "to_call")
    assert opened.data["subject"] == "leak"
    assert opened.data["contact_phone"] == "138"
    assert opened.parent is not None
    assert (opened.parent.case, opened.parent.trigger) == ("f-1", "callback_done")
    first = desk.history(child)[0]
    assert first.detail["parent"]["case"] == "f-1"
    assert (first.actor, first.role) == ("clerk", "callback_desk")
    _replays(desk, "f-1", child)


def test_the_childs_closing_resumes_the_parent_exactly_once(backend):
    desk = Desk(ENGINE, backend.store)
    child = _completed(desk)
    desk.fire(child, "answer", actor=OFFICER, data={"satisfied": False}, at=T0 + 2 * HOUR)
    assert desk.load("f-1").state == "awaiting_callback"  # not yet: through the outbox
    handled: list[str] = []
    delivered = desk.deliver(lambda e: handled.append(e.id), at=T0 + 3 * HOUR)
    assert [e.effect.kind for e in delivered] == ["resume"]
    assert handled == []  # the desk carried it out itself
    parent = desk.load("f-1")
    assert parent.state == "closed"
    assert parent.data["callback_result"] == "answered"
    assert parent.data["satisfied"] is False
    resumed = desk.history("f-1")[-1]
    assert (resumed.trigger, resumed.actor, resumed.role) == (
        "callback_done",
        f"case {child}",
        "reception",
    )
    other = Desk(ENGINE, backend.another())
    assert other.deliver(lambda e: None, at=T0 + 30 * HOUR) == []
    assert [e.trigger for e in desk.history("f-1")].count("callback_done") == 1
    _replays(desk, "f-1", child)


def test_a_resume_carried_out_twice_is_refused_by_the_store(backend):
    """A worker whose lease ran out cannot resume the parent a second time."""
    desk = Desk(ENGINE, backend.store)
    child = _completed(desk)
    desk.fire(child, "give_up", actor=OFFICER, at=T0 + 2 * HOUR)
    claimed = backend.store.claim_effects(T0 + 3 * HOUR, limit=5, lease=timedelta(minutes=1))
    assert [e.effect.kind for e in claimed] == ["open", "resume"]  # the open: done with its step
    late = claimed[1]
    later = T0 + 4 * HOUR  # the first worker's lease is over: another one delivers
    assert [e.id for e in Desk(ENGINE, backend.another()).deliver(print, at=later)] == [late.id]
    # The first worker, late: its own delivery finds the parent closed, and a save that
    # would carry out the same effect again is refused whole by the store.
    assert desk.deliver(print, at=later) == []
    desk.open("fault", actor=CLERK, data={"fault": "tap"}, at=later, case_id="f-2")
    step = ENGINE.fire(desk.load("f-2"), "cancel", actor=CLERK, at=later)
    with pytest.raises(AlreadyDelivered):
        backend.store.save(step.case, step.events, expected_version=1, delivers=late.id)
    assert desk.load("f-2").version == 1
    assert desk.load("f-1").state == "closed"
    assert desk.load("f-1").data["callback_result"] == "unreachable"
    assert [e.trigger for e in desk.history("f-1")].count("callback_done") == 1
    assert desk.failed() == []


def test_a_rejected_parent_step_opens_no_child(backend):
    desk = Desk(ENGINE, backend.store)
    desk.open("fault", actor=CLERK, data={"fault": "leak"}, at=T0, case_id="f-1")
    with pytest.raises(Rejected):
        desk.fire("f-1", "complete", actor=OFFICER, at=T0 + HOUR)  # not the officer's step
    with pytest.raises(CaseNotFound):
        desk.load(child_id("f-1", 2, 0))
    assert desk.load("f-1").version == 1


def _mapped(data: dict[str, str]) -> Engine:
    fault = load_procedure(LINKED / "fault.yaml")
    callback = load_procedure(LINKED / "callback.yaml")
    raw = fault.model_dump(by_alias=True, exclude_unset=True)
    raw["transitions"]["complete"][0]["opens"][0]["data"] = data
    return Engine([Procedure.model_validate(raw), callback])


def test_a_child_that_cannot_be_opened_rejects_the_parent_step_and_saves_nothing():
    engine = _mapped({"contact_phone": "phone"})  # no subject: the callback requires one
    store = MemoryStore()
    desk = Desk(engine, store)
    desk.open("fault", actor=CLERK, data={"fault": "leak"}, at=T0, case_id="f-1")
    with pytest.raises(Rejected) as info:
        desk.fire("f-1", "complete", actor=CLERK, at=T0 + HOUR)
    assert info.value.reason == "invalid_data"
    assert "the callback case this step opens cannot be opened" in info.value.message
    assert store.load("f-1").version == 1
    with pytest.raises(CaseNotFound):
        store.load("f-1-2-0")
    assert desk.deliver(lambda e: None, at=T0 + 9 * HOUR) == []


def test_the_engine_refuses_links_that_do_not_fit():
    with pytest.raises(DefinitionError) as info:
        _mapped({"subject": "fault", "satisfied": "phone"})
    assert [d.code for d in info.value.diagnostics] == ["link-type-mismatch"]
    fault = load_procedure(LINKED / "fault.yaml")
    with pytest.raises(DefinitionError) as info:
        Engine([fault])  # the callback procedure is missing
    assert [d.code for d in info.value.diagnostics] == ["unknown-procedure"]


def test_a_log_whose_opening_event_names_another_parent_does_not_replay():
    desk = Desk(ENGINE, MemoryStore())
    child = _completed(desk)
    log = [e.model_dump(mode="json") for e in desk.history(child)]
    log[0]["detail"]["parent"]["case"] = "f-2"
    assert ENGINE.replay(log).parent.case == "f-2"  # the log alone: its own claim
    assert not ENGINE.verify(log, stored=desk.load(child)).ok  # not the stored case
    for bad in ({"case": "f-1", "returns": {"satisfied": 7}}, "f-1", {"case": ""}):
        log[0]["detail"]["parent"] = bad
        with pytest.raises(ReplayError, match="parent"):
            ENGINE.replay(log)


def test_a_linked_case_round_trips_and_an_unlinked_one_dumps_as_before():
    desk = Desk(ENGINE, MemoryStore())
    child = desk.load(_completed(desk))
    assert Case.model_validate_json(child.model_dump_json()) == child
    assert "parent" not in desk.load("f-1").model_dump(mode="json")


def test_the_sales_chain_links_three_procedures(backend):
    """認購 opens 簽約 and waits; signing closes 簽約, resumes 認購 and opens a callback."""
    desk = Desk(ENGINE, backend.store)
    sales = Actor(id="s1", roles=frozenset({"sales"}))
    contracts = Actor(id="k1", roles=frozenset({"contract_desk"}))
    data = {"unit": "A-1203", "buyer_phone": "139"}
    desk.open("subscription", actor=sales, data=data, at=T0, case_id="s-1")
    desk.fire("s-1", "to_contract", actor=sales, at=T0 + HOUR)
    contract = desk.load("s-1-2-0")
    assert (contract.procedure, contract.data["unit"]) == ("contract", "A-1203")
    desk.fire("s-1-2-0", "sign", actor=contracts, at=T0 + 2 * HOUR)
    callback = desk.load("s-1-2-0-2-0")  # opened by the closing step itself
    assert callback.parent is not None
    assert (callback.parent.case, callback.parent.trigger) == ("s-1-2-0", None)
    assert callback.data["subject"] == "A-1203"
    desk.deliver(lambda e: None, at=T0 + 3 * HOUR)
    assert desk.load("s-1").state == "done"
    assert desk.load("s-1").data["contract_outcome"] == "signed"
    desk.fire("s-1-2-0-2-0", "give_up", actor=OFFICER, at=T0 + 4 * HOUR)
    assert desk.deliver(lambda e: None, at=T0 + 5 * HOUR) == []  # nobody waits for it
    _replays(desk, "s-1", "s-1-2-0", "s-1-2-0-2-0")


# -- lives: replay equals live, and each parent is resumed exactly once ---------------------

PARENTS = ("f-0", "f-1", "f-2")
actions = st.lists(
    st.tuples(
        st.sampled_from(["complete", "cancel", "answer", "give_up", "deliver"]),
        st.sampled_from(PARENTS),
    ),
    max_size=20,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=actions)
def test_replay_equals_live_and_each_close_resumes_its_parent_once(plan):
    store = MemoryStore()
    desk = Desk(ENGINE, store)
    for case_id in PARENTS:
        desk.open("fault", actor=CLERK, data={"fault": "leak"}, at=T0, case_id=case_id)
    at = T0
    for action, parent in plan:
        at += timedelta(minutes=7)
        try:
            if action == "complete":
                desk.fire(parent, "complete", actor=CLERK, at=at)
            elif action == "cancel":
                desk.fire(parent, "cancel", actor=CLERK, at=at)
            elif action == "deliver":
                desk.deliver(lambda e: None, at=at, limit=2)
            else:
                data: dict[str, Any] = {"satisfied": True} if action == "answer" else {}
                desk.fire(child_id(parent, 2, 0), action, actor=OFFICER, data=data, at=at)
        except (Rejected, CaseNotFound):
            pass
    at += HOUR
    while desk.deliver(lambda e: None, at=at):
        pass
    for parent in PARENTS:
        child = child_id(parent, 2, 0)
        cases = [parent] + ([child] if _exists(store, child) else [])
        completed = [e for e in desk.history(parent) if e.trigger == "complete"]
        assert len(cases) == 1 + len(completed)  # a child for each step taken, no other
        _replays(desk, *cases)
        resumed = [e for e in desk.history(parent) if e.trigger == "callback_done"]
        assert len(resumed) <= 1
        closed_child = len(cases) == 2 and desk.load(child).state in ("answered", "unreachable")
        waiting = [e for e in desk.history(parent) if e.trigger == "cancel"] == []
        assert len(resumed) == (1 if closed_child and waiting else 0)
    # A closing whose parent was cancelled meanwhile cannot resume it: it stays in the
    # outbox, retried and then listed as failed, never lost and never applied.
    stuck = store.claim_effects(at + timedelta(days=30), limit=100, lease=HOUR)
    for entry in [*stuck, *desk.failed()]:
        assert isinstance(entry, OutboxEntry)
        assert entry.effect.kind == "resume"
        assert desk.load(entry.effect.recipient).state == "cancelled"


def _exists(store: MemoryStore, case_id: str) -> bool:
    try:
        store.load(case_id)
    except CaseNotFound:
        return False
    return True


# -- the language around it: check, SOP, diagram ------------------------------------------


def test_the_linked_procedures_check_clean(capsys):
    from servflow.cli import main

    assert main(["check", str(LINKED)]) == 0
    printed = capsys.readouterr()
    assert printed.out == ""
    assert "0 errors, 0 warnings" in printed.err


def test_a_file_checked_alone_is_linked_to_the_procedures_beside_it(capsys, tmp_path):
    from servflow.cli import main

    assert main(["check", str(LINKED / "fault.yaml")]) == 0
    assert "0 errors" in capsys.readouterr().err
    alone = tmp_path / "fault.yaml"
    alone.write_text((LINKED / "fault.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["check", str(alone)]) == 1
    assert "unknown-procedure no procedure 'callback'" in capsys.readouterr().out
    with pytest.raises(DefinitionError):  # an engine cannot run a link it does not hold
        Engine.from_directory(LINKED / "fault.yaml")


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("en", "open a `callback` case, taken on by `callback_desk`; when it closes,"),
        ("zh-Hant", "開立`callback`個案，由`callback_desk`接辦；該個案結案時執行「"),
        ("zh-Hans", "开立`callback`个案，由`callback_desk`接办；该个案结案时执行「"),
    ],
)
def test_the_sop_shows_the_link_in_three_languages(lang, text):
    from servflow.render.sop import render_sop

    assert text in render_sop(ENGINE.procedure("fault"), lang=lang)
    assert "⇢" not in render_sop(ENGINE.procedure("callback"), lang=lang)


def test_the_diagram_shows_the_link_on_its_arrow():
    from servflow.render.diagram import render_diagram

    mermaid = render_diagram(ENGINE.procedure("fault"), "mermaid", "en")
    assert "complete<br/>Reception clerk<br/>⇢ callback ⇠ callback_done" in mermaid
    dot = render_diagram(ENGINE.procedure("fault"), "dot", "en")
    assert "⇢ callback ⇠ callback_done" in dot


# -- the clock opens linked cases too --------------------------------------------------------

CHASE = """
servflow: 1
id: chase
version: 1
title: {en: Chase}
roles:
  clerk: {title: {en: Clerk}}
fields:
  topic: {type: string, title: {en: Topic}}
  outcome: {type: string, title: {en: Outcome}}
states:
  open: {title: {en: Open}}
  calling: {title: {en: Calling}}
  closed: {title: {en: Closed}, final: true}
start: {to: open, roles: [clerk], requires: [topic]}
transitions:
  call_back:
    from: open
    to: calling
    roles: [clerk]
    opens:
      - procedure: callback
        role: callback_desk
        data: {subject: SOURCE}
        resume: called
        returns: {outcome: state}
  called: {from: calling, to: closed, roles: [clerk]}
time_limits:
  answer_in_time:
    starts: {entered: open}
    stops: {left: open}
    within: [{limit: 1h}]
    on_breach: [{fire: call_back}]
"""


def _chase(source: str) -> Engine:
    from servflow.procedures import load_text

    result = load_text(CHASE.replace("SOURCE", source), file="chase.yaml")
    assert result.procedure is not None, result.diagnostics
    return Engine([result.procedure, load_procedure(LINKED / "callback.yaml")])


def test_a_breach_that_fires_a_linking_step_opens_the_child_with_it():
    engine = _chase("topic")
    desk = Desk(engine, MemoryStore())
    clerk = Actor(id="c1", roles=frozenset({"clerk"}))
    desk.open("chase", actor=clerk, data={"topic": "noise"}, at=T0, case_id="c-1")
    [out] = desk.run_due(T0 + 2 * HOUR)
    assert [e.kind for e in out.events] == ["breached", "auto_fired"]
    child = desk.load("c-1-3-0")
    assert (child.state, child.data["subject"]) == ("to_call", "noise")
    assert desk.history("c-1")[-1].detail["opens"] == ["c-1-3-0"]
    desk.fire("c-1-3-0", "answer", actor=OFFICER, data={"satisfied": True}, at=T0 + 3 * HOUR)
    desk.deliver(lambda e: None, at=T0 + 4 * HOUR)
    assert (desk.load("c-1").state, desk.load("c-1").data["outcome"]) == ("closed", "answered")
    for case_id in ("c-1", "c-1-3-0"):
        assert engine.replay(desk.history(case_id)) == desk.load(case_id)


def test_a_breach_whose_child_cannot_be_opened_saves_nothing_and_says_why():
    engine = _chase("outcome")  # empty when the clock fires: the callback needs a subject
    desk = Desk(engine, MemoryStore())
    clerk = Actor(id="c1", roles=frozenset({"clerk"}))
    desk.open("chase", actor=clerk, data={"topic": "noise"}, at=T0, case_id="c-1")
    with pytest.raises(Rejected) as info:
        desk.run_due(T0 + 2 * HOUR)
    assert "the callback case this step opens cannot be opened" in info.value.message
    assert desk.load("c-1").version == 1
    with pytest.raises(CaseNotFound):
        desk.load("c-1-3-0")


@pytest.mark.parametrize(
    "parent",
    [5, "f-1", {"case": ""}, {"case": "f-1", "returns": {"x": 1}}, {"case": "f-1", "extra": 1}],
)
def test_a_parent_that_is_not_one_is_refused_by_start(parent):
    with pytest.raises(ValueError, match="parent"):
        ENGINE.start(
            "callback", actor=OFFICER, data={"subject": "x"}, at=T0, case_id="c", parent=parent
        )


def test_workers_racing_over_resumes_resume_each_parent_exactly_once(backend):
    """Leases so short that every effect is handed to both workers: still one resume each."""
    import threading

    desk = Desk(ENGINE, backend.store)
    parents = [f"f-{n}" for n in range(4)]
    for parent in parents:
        child = _completed(desk, parent)
        desk.fire(child, "answer", actor=OFFICER, data={"satisfied": True}, at=T0 + 2 * HOUR)
    workers = [Desk(ENGINE, backend.another(), lease=timedelta(microseconds=1)) for _ in range(2)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            barrier.wait()
            for k in range(12):
                at = T0 + 3 * HOUR + timedelta(milliseconds=k)
                workers[n].deliver(lambda e: None, at=at, limit=2, backoff=timedelta(0))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    for parent in parents:
        log = desk.history(parent)
        assert [e.trigger for e in log].count("callback_done") == 1
        assert desk.load(parent).state == "closed"
        assert ENGINE.replay(log) == desk.load(parent)
    assert desk.failed() == []
