"""A procedure's ``properties``, checked over a case's life, step by step.

A property is what the analyst believes of every life of a case ("a repair is never
closed without a callback"). Unlike an invariant the engine does not enforce it: the
testing kit does, here. :class:`Monitor` follows one life: it is given each accepted
step's case, events and effects (:meth:`Monitor.step`) and says which property the step
broke, and, once the case is in a final state, which property the finished life broke
(:meth:`Monitor.finish`). A monitor is an immutable value (its :attr:`Monitor.key` is
small), so that exploration can keep one per reachable case and compare them.

Happenings are what a step did, in order: for each event, the trigger fired and then the
state entered (``breached:LIMIT`` for a breach); then the effects (``notify:ROLE``,
``record:FORM``). A response ``within: N`` must come at most N accepted steps after the
step that asked for it (0: in the same step).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

from servflow.engine import Case, Effect, Event
from servflow.engine.compiled import CompiledProcedure
from servflow.engine.expr import Expression, compile_expression
from servflow.errors import EvaluationError
from servflow.model import Property, happening_parts

__all__ = ["Broken", "Monitor", "happenings"]


@dataclass(frozen=True)
class Broken:
    """A property a life broke: its name, its pattern and why, in the analyst's terms."""

    name: str
    pattern: str
    reason: str


def happenings(events: Sequence[Event], effects: Sequence[Effect]) -> Iterator[str]:
    """What a step did, in the order the properties read it (see the module's docstring)."""
    for event in events:
        if event.kind in ("fired", "auto_fired", "breach_step"):
            yield event.trigger
        if event.kind == "breached" and event.time_limit:
            yield f"breached:{event.time_limit}"
        if event.kind in ("started", "fired", "auto_fired", "breach_step"):
            yield event.target
    for effect in effects:
        yield f"{effect.kind}:{effect.recipient}"


def _same(text: str, happening: str) -> bool:
    prefix, name = happening_parts(text)
    return happening == (f"{prefix}:{name}" if prefix else name)


@dataclass(frozen=True)
class _Watch:
    prop: Property
    expr: Expression | None


@dataclass(frozen=True)
class Monitor:
    """The properties of one procedure, following one life (see the module docstring).

    ``seen``, ``pending`` and ``broken`` hold, per property, whether the awaited happening
    or condition was seen, the steps since an unanswered ``to`` (or None), and whether it
    is broken already (a broken property is reported once).
    """

    cp: CompiledProcedure
    watches: tuple[_Watch, ...]
    seen: tuple[bool, ...]
    pending: tuple[int | None, ...]
    broken: tuple[bool, ...]

    @classmethod
    def of(cls, cp: CompiledProcedure) -> Monitor:
        """A monitor for a life that has not begun."""
        watches = []
        for prop in cp.procedure.properties:
            source = prop.never or prop.always or prop.eventually
            watches.append(_Watch(prop, compile_expression(source) if source else None))
        n = len(watches)
        return cls(cp, tuple(watches), (False,) * n, (None,) * n, (False,) * n)

    @property
    def key(self) -> tuple[tuple[bool, ...], tuple[int | None, ...], tuple[bool, ...]]:
        """What distinguishes this monitor from another of the same procedure."""
        return self.seen, self.pending, self.broken

    def _holds(self, expr: Expression, case: Case) -> bool:
        scope = self.cp.scope(expr.names, case.data, case.state, "", case.escalation_level)
        try:
            return bool(expr.holds(scope))
        except EvaluationError:
            return False

    def step(
        self, case: Case, events: Sequence[Event], effects: Sequence[Effect]
    ) -> tuple[Monitor, list[Broken]]:
        """The monitor after one accepted step, and the properties the step broke."""
        if not self.watches or not events:
            return self, []
        return self.after(case, list(happenings(events, effects)))

    def after(self, case: Case, done: Sequence[str]) -> tuple[Monitor, list[Broken]]:
        """The monitor after a step that did ``done`` (in order) and left ``case``."""
        seen, pending, broken = list(self.seen), list(self.pending), list(self.broken)
        out: list[Broken] = []
        for i, watch in enumerate(self.watches):
            prop = watch.prop
            why = None
            if watch.expr is not None:
                holds = self._holds(watch.expr, case)
                if prop.never is not None and holds:
                    why = f"after {_what(done)}, `{prop.never}` became true"
                elif prop.always is not None and not holds:
                    why = f"after {_what(done)}, `{prop.always}` was no longer true"
                elif prop.eventually is not None and holds:
                    seen[i] = True
            elif prop.precedes is not None:
                first, then = prop.precedes.first, prop.precedes.then
                for happening in done:
                    if _same(first, happening):
                        seen[i] = True
                    elif _same(then, happening) and not seen[i]:
                        why = f"`{then}` happened before any `{first}`"
                        break
            elif prop.responds is not None:
                to, answer, within = prop.responds.to, prop.responds.with_, prop.responds.within
                if pending[i] is not None and within is not None:
                    pending[i] = (pending[i] or 0) + 1  # unbounded: just "still pending"
                for happening in done:
                    if _same(answer, happening):
                        pending[i] = None
                    elif _same(to, happening) and pending[i] is None:
                        pending[i] = 0
                count = pending[i]
                if within is not None and count is not None and count >= within:
                    pending[i] = None
                    steps = "in the same step" if within == 0 else f"within {within} step(s)"
                    why = f"`{to}` was not followed by `{answer}` {steps}"
            if why is not None and not broken[i]:
                broken[i] = True
                out.append(Broken(prop.name, prop.pattern, why))
        after = replace(self, seen=tuple(seen), pending=tuple(pending), broken=tuple(broken))
        return after, out

    def finish(self, case: Case) -> list[Broken]:
        """The properties a life that ended in ``case`` (a final state) broke at its end."""
        if case.state not in self.cp.finals:
            return []
        out = []
        for i, watch in enumerate(self.watches):
            prop = watch.prop
            if self.broken[i]:
                continue
            if prop.eventually is not None and not self.seen[i]:
                why = f"the case reached `{case.state}` and `{prop.eventually}` was never true"
                out.append(Broken(prop.name, prop.pattern, why))
            elif prop.responds is not None and self.pending[i] is not None:
                to, answer = prop.responds.to, prop.responds.with_
                why = f"the case reached `{case.state}` with `{to}` never followed by `{answer}`"
                out.append(Broken(prop.name, prop.pattern, why))
        return out


def _what(done: Iterable[str]) -> str:
    names = list(done)
    return "`" + "`, `".join(names[:3]) + "`" if names else "a step"
