"""Replay refutes what the engine could not have written, and only that.

Random lives of every seed procedure and of ``tests/procedures/ticket.yaml`` (clocks that
warn, breach, fire steps by themselves and escalate) give valid logs; one random mutation
(a field of one event set to another value, an event dropped, repeated, swapped or cut
off, a change added or removed) is applied to the log's JSON form. Then
``Engine.replay`` either raises ``ReplayError`` or returns a case, and in that case the
mutated log must be one the engine writes: playing it again through ``start``, ``fire``
and ``advance`` gives exactly its events and the same case. Nothing else may escape
(``DefinitionError`` and ``KeyError`` only when the first event's definition was changed,
as documented).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import event as note_outcome
from hypothesis import strategies as st

from servflow import Actor, Case, DefinitionError, Engine, Event, Rejected, ReplayError
from servflow.testing.strategies import field_values
from tests.strategies import EPOCH, lives

HERE = Path(__file__).resolve().parent
SEED = Engine.from_directory(HERE.parent / "procedures")
TICKET = Engine.from_directory(
    HERE / "procedures" / "ticket.yaml", HERE.parent / "procedures" / "calendars.yaml"
)
PROCEDURES = [("repair", SEED), ("complaint", SEED), ("renovation", SEED), ("ticket", TICKET)]

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
ENVELOPE = ("procedure", "procedure_version", "digest")


def _play(engine: Engine, proc_id: str, life: tuple[dict[str, Any], list[Any]]) -> list[Event]:
    proc = engine.procedure(proc_id)
    data, steps = life
    opener = Actor(id="opener", roles=set(proc.start.roles))
    try:
        out = engine.start(proc_id, actor=opener, data=data, at=EPOCH, case_id="c-1")
    except Rejected:
        assume(False)
        raise
    case, events = out.case, list(out.events)
    at = EPOCH
    for i, step in enumerate(steps):
        at += step.after
        if step.kind == "advance":
            out = engine.advance(case, at=at)
        else:
            try:
                out = engine.fire(
                    case,
                    step.trigger,
                    actor=Actor(id=f"a{i}", roles=step.roles),
                    data=step.data,
                    at=at,
                )
            except Rejected:
                continue
        case = out.case
        events.extend(out.events)
    return events


@st.composite
def mutations(
    draw: st.DrawFn, engine: Engine, proc_id: str, log: list[Event]
) -> tuple[list[Any], set[str], int]:
    """The log's JSON form with one mutation; the keys touched and the event's index."""
    proc = engine.procedure(proc_id)
    events: list[Any] = [e.model_dump(mode="json") for e in log]
    i = draw(st.integers(0, len(events) - 1))
    what = draw(st.sampled_from(["set", "set", "set", "change", "drop", "repeat", "swap", "cut"]))
    if what == "drop":
        del events[i]
        return events, {"*"}, i
    if what == "repeat":
        events.insert(i, dict(events[i]))
        return events, {"*"}, i
    if what == "swap":
        j = min(i + 1, len(events) - 1)
        events[i], events[j] = events[j], events[i]
        return events, {"*"}, i
    if what == "cut":
        del events[i:]
        return events, {"*"}, i
    event = events[i]
    if what == "change":
        name = draw(st.sampled_from(sorted(proc.fields)))
        if name in event["changes"] and draw(st.booleans()):
            del event["changes"][name]
        else:
            event["changes"][name] = draw(st.one_of(st.none(), field_values(proc.fields[name])))
        return events, {"changes"}, i
    states = sorted(proc.states)
    key = draw(
        st.sampled_from(
            [
                "seq",
                "at",
                "kind",
                "trigger",
                "actor",
                "role",
                "source",
                "target",
                "time_limit",
                "detail",
                "case_id",
                *ENVELOPE,
            ]
        )
    )
    choices: dict[str, st.SearchStrategy[Any]] = {
        "seq": st.integers(0, len(events) + 2),
        "at": st.sampled_from([-3600, -60, -1, 1, 60, 3600, 86400]).map(
            lambda s: (Event.model_validate(event).at + timedelta(seconds=s)).isoformat()
        ),
        "kind": st.sampled_from(
            ["started", "fired", "auto_fired", "warned", "breached", "breach_step"]
        ),
        "trigger": st.sampled_from(
            [*sorted(proc.transitions), *sorted(proc.time_limits), "start", "zz"]
        ),
        "actor": st.sampled_from([None, "", "someone", "servflow", "x" * 201]),
        "role": st.sampled_from([None, "zz", *sorted(proc.roles)]),
        "source": st.sampled_from([None, "zz", *states]),
        "target": st.sampled_from(["zz", *states]),
        "time_limit": st.sampled_from([None, "zz", *sorted(proc.time_limits)]),
        "detail": st.sampled_from(
            [
                {},
                {"branch": 0},
                {"branch": 1},
                {"escalation_level": 1},
                {"steps": [0], "cycle": 1},
                {"percent_key": 5000},
            ]
        ),
        "case_id": st.sampled_from(["c-2", ""]),
        "procedure": st.sampled_from(["repair", "complaint", "zz"]),
        "procedure_version": st.sampled_from([0, 2, "1"]),
        "digest": st.sampled_from(["sha256:00", log[0].digest]),
    }
    event[key] = draw(choices[key])
    return events, {key}, i


def _replayable(engine: Engine, events: list[Event]) -> tuple[Case, list[Event]]:
    """Play ``events`` again through the public API; returns the case and what it wrote."""
    first = events[0]
    proc = engine.procedure(first.procedure, first.procedure_version)
    cp = engine._compiled(first.procedure, first.procedure_version)
    accepts = proc.start.accepts
    data = {k: v for k, v in first.changes.items() if accepts is None or k in accepts}
    # A default missing from the opening was cleared by the caller.
    data.update({k: None for k in cp.defaults if k not in first.changes})
    assert first.actor is not None
    assert first.role is not None
    out = engine.start(
        first.procedure,
        actor=Actor(id=first.actor, roles={first.role}),
        data=data,
        at=first.at,
        case_id=first.case_id,
        version=first.procedure_version,
    )
    case, written = out.case, list(out.events)
    for event in events[1:]:
        if len(written) >= event.seq:
            continue  # written already, with the clock's other events of that moment
        if event.kind in ("started", "fired"):
            step = cp.table[(event.trigger, case.state)][event.detail.get("branch", 0)]
            given = {k: v for k, v in event.changes.items() if not (v is None and k in step.clear)}
            # A value the step clears (a plain `clear` or its round's fields) that the log
            # leaves as it was, the caller gave again, unchanged (so `changes` omits it).
            given.update(
                {
                    n: case.data[n]
                    for n in step.clear
                    if n not in event.changes and case.data.get(n) is not None
                }
            )
            assert event.actor is not None
            assert event.role is not None
            out = engine.fire(
                case,
                event.trigger,
                actor=Actor(id=event.actor, roles={event.role}),
                data=given,
                at=event.at,
            )
        else:
            out = engine.advance(case, at=event.at)
        case = out.case
        written.extend(out.events)
    return case, written


@pytest.mark.parametrize(("proc_id", "engine"), PROCEDURES, ids=[p for p, _ in PROCEDURES])
@SETTINGS
@given(data=st.data())
def test_a_mutated_log_replays_only_if_the_engine_could_write_it(proc_id, engine, data):
    log = _play(engine, proc_id, data.draw(lives(engine.procedure(proc_id), max_steps=15)))
    events, touched, index = data.draw(mutations(engine, proc_id, log))
    refused: ReplayError | None = None
    try:
        case = engine.replay(events)
    except ReplayError as exc:
        refused = exc
    except (DefinitionError, KeyError):
        # The first event names a definition the engine does not hold.
        assert index == 0
        assert touched & set(ENVELOPE)
        return
    if refused is not None:
        note_outcome("refused")
        assert refused.seq is None or isinstance(refused.seq, int)
        assert refused.problem
        assert "\n" not in refused.problem
        return
    note_outcome("replayed")
    mutated = [Event.model_validate(e) for e in events]
    again, written = _replayable(engine, mutated)
    assert written == mutated
    assert again == case
