"""A procedure compiled for running: lookup tables, compiled expressions, one machine.

Compilation happens once per procedure version, when an :class:`~servflow.engine.Engine`
is built. It is the only place that uses the ``transitions`` library: one
``transitions.Machine`` per procedure version validates the transition graph (every
trigger's sources and destination among the declared states, no automatic ``to_<state>``
triggers), and the engine's lookup table ``(trigger, state) -> branches`` is read off that
machine. Cases never get a machine of their own: a machine per case costs far more than
the whole fire cycle (see ``bench/machine_per_case.py``), and attaching models to a shared
machine gets slower as they accumulate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from transitions import Machine

from servflow.engine.expr import Expression, compile_expression
from servflow.engine.timing import CompiledLimit, compile_limits
from servflow.engine.values import normalise, typed_value
from servflow.errors import DefinitionError, Diagnostic
from servflow.model import Branch, FieldSpec, Procedure, Start

__all__ = ["CompiledProcedure", "CompiledStep", "compile_procedure"]


@dataclass(frozen=True, eq=False)
class CompiledStep:
    """One way to take a step (the start, or one branch of a trigger)."""

    trigger: str
    index: int
    spec: Start | Branch
    roles: frozenset[str]
    roles_by_rank: tuple[str, ...]
    guard: Expression | None
    authority: Mapping[str, Expression]
    accepts: frozenset[str] | None
    requires: tuple[str, ...]
    clear: tuple[str, ...]

    @property
    def to(self) -> str:
        return self.spec.to


@dataclass(frozen=True, eq=False)
class CompiledProcedure:
    """Everything the engine needs to run cases of one procedure version."""

    procedure: Procedure
    digest: str
    start: CompiledStep
    table: Mapping[tuple[str, str], tuple[CompiledStep, ...]]
    sources: Mapping[str, tuple[str, ...]]
    invariants: tuple[tuple[str, Expression], ...]
    fields: Mapping[str, FieldSpec]
    defaults: Mapping[str, Any]
    finals: frozenset[str]
    ranks: Mapping[str, int]
    limits: tuple[CompiledLimit, ...]
    machine: Machine = field(repr=False)

    def raised_level(self, level: int, by: int = 1) -> int:
        """The escalation level ``by`` rungs up, never past the top of the ladder."""
        ladder = len(self.procedure.escalation)
        return min(level + by, ladder - 1) if ladder else level + by

    def scope(
        self,
        names: frozenset[str],
        data: Mapping[str, Any],
        state: str,
        trigger: str,
        escalation_level: int,
    ) -> dict[str, Any]:
        """The typed values an expression reading ``names`` sees."""
        scope: dict[str, Any] = {}
        fields = self.fields
        for name in names:
            spec = fields.get(name)
            if spec is not None:
                scope[name] = typed_value(spec, data.get(name))
            elif name == "state":
                scope[name] = state
            elif name == "trigger":
                scope[name] = trigger
            elif name == "escalation_level":
                scope[name] = escalation_level
        return scope


def _step(proc: Procedure, trigger: str, index: int, spec: Start | Branch) -> CompiledStep:
    guard = compile_expression(spec.when) if spec.when else None
    authority = {role: compile_expression(src) for role, src in spec.authority.items()}
    ranks = {name: role.rank for name, role in proc.roles.items()}
    return CompiledStep(
        trigger=trigger,
        index=index,
        spec=spec,
        roles=frozenset(spec.roles),
        roles_by_rank=tuple(sorted(spec.roles, key=lambda r: (ranks.get(r, 0), r))),
        guard=guard,
        authority=authority,
        accepts=frozenset(spec.accepts) if spec.accepts is not None else None,
        requires=tuple(spec.requires),
        clear=tuple(spec.clear),
    )


def compile_procedure(proc: Procedure, digest: str) -> CompiledProcedure:
    """Compile a checked procedure; raises :class:`DefinitionError` if the graph is off."""
    machine = Machine(
        model=None,
        states=list(proc.states),
        initial=None,
        auto_transitions=False,
        ignore_invalid_triggers=False,
    )
    branches_for: dict[tuple[str, str], list[CompiledStep]] = {}
    for trigger, branches in proc.transitions.items():
        for i, branch in enumerate(branches):
            machine.add_transition(trigger, list(branch.source), branch.to)
            compiled = _step(proc, trigger, i, branch)
            for src in branch.source:
                branches_for.setdefault((trigger, src), []).append(compiled)
    if set(machine.states) != set(proc.states):
        extra = sorted(set(machine.states) - set(proc.states))
        raise DefinitionError(
            [Diagnostic(proc.id, 0, 0, "error", "unknown-state", f"unknown states {extra}")]
        )
    # The table is read off the validated machine, in its order of definition.
    table: dict[tuple[str, str], tuple[CompiledStep, ...]] = {}
    for trigger, event in machine.events.items():
        for source, transitions in event.transitions.items():
            steps = branches_for[(trigger, source)]
            assert [t.dest for t in transitions] == [s.to for s in steps]
            table[(trigger, source)] = tuple(steps)
    sources: dict[str, list[str]] = {}
    for trigger, src in table:
        sources.setdefault(trigger, []).append(src)
    invariants = tuple((inv.name, compile_expression(inv.check)) for inv in proc.invariants)
    return CompiledProcedure(
        procedure=proc,
        digest=digest,
        start=_step(proc, "start", 0, proc.start),
        table=table,
        sources={k: tuple(v) for k, v in sources.items()},
        invariants=invariants,
        fields=dict(proc.fields),
        defaults={
            n: normalise(f, f.default) for n, f in proc.fields.items() if f.default is not None
        },
        finals=frozenset(n for n, s in proc.states.items() if s.final),
        ranks={n: r.rank for n, r in proc.roles.items()},
        limits=compile_limits(proc.time_limits),
        machine=machine,
    )
