"""A hypothesis state machine per procedure: random lives, checked at every step.

``procedure_machine(engine, "repair")`` returns a
:class:`hypothesis.stateful.RuleBasedStateMachine` subclass. Each run opens a case and
then fires random triggers as random actors with random data, or lets the clock run, and
after every step checks what must always hold, whatever the procedure says:

* a refused step changes nothing (the case is equal to what it was, JSON and all);
* an accepted step was authorised by a role the actor holds and the branch allows, and
  the case's version grew by exactly the number of events;
* the case survives a JSON round trip, and replaying its audit log rebuilds it (checked
  incrementally: each step's events are replayed onto what the log rebuilt so far, by
  :meth:`Engine.replayer`, rather than the whole log at every step);
* the procedure's own invariants hold, and no life breaks its ``properties``;
* a closed case refuses every trigger with ``final_state`` and has nothing due;
* advancing twice to the same moment equals advancing once.

Use it in a test module::

    from servflow import Engine
    from servflow.testing.stateful import procedure_machine

    TestRepair = procedure_machine(Engine.standard(), "repair").TestCase
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import assume
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from servflow.engine import Actor, Case, Engine, Event, Outcome
from servflow.errors import Rejected
from servflow.testing.properties import Monitor
from servflow.testing.strategies import Step, opening_data, steps

__all__ = ["procedure_machine"]

DEFAULT_START = datetime(2026, 11, 2, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _json(case: Case) -> str:
    return json.dumps(case.model_dump(mode="json"), sort_keys=True)


def procedure_machine(
    engine: Engine, procedure_id: str, *, start: datetime = DEFAULT_START
) -> type[RuleBasedStateMachine]:
    """The state machine class for one procedure of ``engine`` (its latest version).

    ``start`` is when the random lives begin; keep lives within the published range of the
    procedure's calendars (the standard ``office`` calendar ends on 2026-12-31).
    """
    proc = engine.procedure(procedure_id)
    compiled = engine._compiled(procedure_id)
    opener = Actor(id="opener", roles=frozenset(proc.start.roles))

    class ProcedureMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.case: Case | None = None
            self.log: list[Event] = []
            self.now = start
            self.replayer = engine.replayer()
            self.replayed: Case | None = None
            self.monitor = Monitor.of(compiled)

        def _follow(self, out: Outcome) -> None:
            """The log, its replay and the properties after an accepted step."""
            self.log.extend(out.events)
            if out.events:
                self.replayed = self.replayer.feed(out.events)
            self.monitor, broken = self.monitor.step(out.case, out.events, out.effects)
            broken += self.monitor.finish(out.case)
            assert not broken, "; ".join(f"property {b.name!r} broken: {b.reason}" for b in broken)

        @initialize(data=opening_data(proc))
        def open_case(self, data: dict[str, Any]) -> None:
            try:
                out = engine.start(
                    procedure_id, actor=opener, data=data, at=self.now, case_id="case-1"
                )
            except Rejected as exc:
                # Random opening data may break a rule of the procedure: a real refusal.
                if exc.reason not in ("guard_failed", "invalid_data"):
                    raise AssertionError(
                        f"opening refused for an unexpected reason: {exc}"
                    ) from exc
                return
            self.case = out.case
            self._follow(out)

        @rule(step=steps(proc))
        def take(self, step: Step) -> None:
            assume(self.case is not None)
            assert self.case is not None
            case, self.now = self.case, self.now + step.after
            if step.kind == "advance":
                out = engine.advance(case, at=self.now)
                again = engine.advance(out.case, at=self.now)
                assert again.case == out.case, "advancing twice changed the case"
                assert again.events == ()
            else:
                assert step.actor is not None
                before = _json(case)
                try:
                    out = engine.fire(
                        case, step.trigger, actor=step.actor, data=step.data, at=self.now
                    )
                except Rejected:
                    assert _json(case) == before, "a refused step changed the case"
                    return
                fired = [e for e in out.events if e.kind == "fired"]
                assert len(fired) == 1
                allowed = {
                    r
                    for s in compiled.table[(step.trigger, fired[0].source or "")]
                    for r in s.roles
                }
                assert fired[0].role in step.actor.roles & allowed
            assert out.case.version == case.version + len(out.events)
            self.case = out.case
            self._follow(out)

        @invariant()
        def survives_json_and_replay(self) -> None:
            if self.case is None:
                return
            assert Case.model_validate(json.loads(_json(self.case))) == self.case
            assert self.replayed == self.case, "replaying the audit log gives another case"

        @invariant()
        def keeps_the_procedures_rules(self) -> None:
            if self.case is None:
                return
            for name, check in compiled.invariants:
                scope = compiled.scope(
                    check.names, self.case.data, self.case.state, "", self.case.escalation_level
                )
                assert check.holds(scope), f"rule {name!r} broken"

        @invariant()
        def closed_cases_absorb(self) -> None:
            if self.case is None or self.case.state not in compiled.finals:
                return
            assert self.case.next_due is None
            everyone = Actor(id="everyone", roles=frozenset(proc.roles))
            for trigger in proc.transitions:
                try:
                    engine.fire(self.case, trigger, actor=everyone, at=self.now + timedelta(days=1))
                except Rejected as exc:
                    reason: str = exc.reason
                else:  # pragma: no cover - the property itself
                    raise AssertionError(f"closed case accepted {trigger!r}")
                assert reason == "final_state", f"closed case refused {trigger!r} as {reason}"

        def teardown(self) -> None:
            # Once per life, the whole log from scratch as well.
            if self.case is not None:
                assert engine.replay(self.log) == self.case

    ProcedureMachine.__name__ = f"{procedure_id.title().replace('_', '')}Machine"
    ProcedureMachine.__qualname__ = ProcedureMachine.__name__
    return ProcedureMachine
