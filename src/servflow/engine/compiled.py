"""A procedure compiled for running: lookup tables and compiled expressions.

Compilation happens once per procedure version, when an :class:`~servflow.engine.Engine`
is built. The transition graph becomes one table, ``(trigger, state) -> branches`` in the
file's order, so that choosing a step is a dictionary lookup; the compiler refuses a graph
that names a state the procedure does not declare (the loader's checks report that with
its position first; this guards procedures built in memory).

No state-machine library is used here. A ``transitions`` machine per procedure version was
built here once and dropped: it accepts a transition to an undeclared state without a word
(it fails only when the transition is taken), nothing read it, and the jobs it could have
done are done better already: the static checks need reachability, which it has no query
for, and ``servflow diagram`` draws localized titles, guard expressions, roles and clocks
from the procedure file, which its diagrams would have to be fed. A machine per case would
cost about as much as servflow's whole fire cycle (``bench/machine_per_case.py``).
``transitions`` stays the baseline of the benchmarks.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import cached_property
from typing import Any

from servflow._hints import did_you_mean
from servflow.engine.expr import Expression, compile_expression
from servflow.engine.limits import CompiledLimit, compile_limits
from servflow.engine.registry import digest_of
from servflow.engine.values import normalise, typed_value
from servflow.errors import DefinitionError, Diagnostic
from servflow.model import Branch, FieldSpec, Procedure, Start

__all__ = ["CompiledBranch", "CompiledProcedure", "Step", "compile_procedure", "count_problem"]


@dataclass(frozen=True, slots=True)
class Step:
    """Who takes a step and when: what `actor.id`, `actor.roles`, `now` and `today` read.

    ``roles`` are the roles of the procedure the actor holds (the clock holds none), in
    order, so that a guard reads the same list live and in replay.
    """

    at: datetime
    actor: str
    roles: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class CompiledBranch:
    """One branch compiled: the start (the branch that opens a case), or one of a trigger's.

    A person or the clock takes a *step* by firing a trigger; the branch is the way that
    step goes, chosen among the trigger's branches from the case's state.
    """

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
    counts: tuple[str, ...] = ()
    # The fields of the round this branch starts (`round:`), also in `clear`: emptied,
    # unless the event gives them, before the branch's rules read the data.
    fresh: tuple[str, ...] = ()

    def fresh_view(self, data: Mapping[str, Any], given: Collection[str]) -> Mapping[str, Any]:
        """``data`` as this branch's rules read it: a new round's fields emptied."""
        stale = [n for n in self.fresh if n not in given and data.get(n) is not None]
        return {**data, **dict.fromkeys(stale)} if stale else data

    @property
    def to(self) -> str:
        return self.spec.to


@dataclass(frozen=True, eq=False)
class CompiledProcedure:
    """Everything the engine needs to run cases of one procedure version."""

    procedure: Procedure
    start: CompiledBranch
    table: Mapping[tuple[str, str], tuple[CompiledBranch, ...]]
    sources: Mapping[str, tuple[str, ...]]
    invariants: tuple[tuple[str, Expression], ...]
    fields: Mapping[str, FieldSpec]
    defaults: Mapping[str, Any]
    finals: frozenset[str]
    ranks: Mapping[str, int]
    limits: tuple[CompiledLimit, ...]
    # The zone of the procedure's calendar: the day `today` reads.
    zone: tzinfo = UTC
    # Whether a guard or an authority reads `actor.roles`: then each person's step records
    # the roles the actor held (`detail["actor_roles"]`), so that replay reads them too.
    reads_roles: bool = False
    # The digest the compiler was given, if any (see `digest`).
    given_digest: str | None = None

    @cached_property
    def digest(self) -> str:
        """The content digest of the procedure (:func:`~servflow.engine.registry.digest_of`)
        that pins its cases, unless the compiler was given one.

        Worked out when first read, by the first case or log of this version: dumping a
        procedure costs about half a millisecond, and an engine holds every version of a
        catalogue while most of them run no new case.
        """
        if self.given_digest is not None:
            return self.given_digest
        return digest_of(self.procedure)

    def roles_of(self, held: frozenset[str]) -> tuple[str, ...]:
        """The roles of this procedure among ``held``, in order: what `actor.roles` reads."""
        return tuple(sorted(r for r in held if r in self.ranks))

    def lowered_level(self, level: int, to: bool | str) -> int:
        """The escalation level after a step that `deescalates` ``to`` (`true`: the first
        rung; a role: its rung), never above ``level``."""
        ladder = self.procedure.escalation
        rung = ladder.index(to) if isinstance(to, str) and to in ladder else 0
        return min(level, rung)

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
        step: Step | None = None,
    ) -> dict[str, Any]:
        """The typed values an expression reading ``names`` sees.

        The names of the step (`actor.id`, `actor.roles`, `now`, `today`) are there only
        when ``step`` is given (guards and authorities); a field of the same name wins.
        """
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
            elif step is not None:
                if name == "actor.id":
                    scope[name] = step.actor
                elif name == "actor.roles":
                    scope[name] = list(step.roles)
                elif name == "now":
                    scope[name] = step.at.astimezone(self.zone)
                elif name == "today":
                    scope[name] = step.at.astimezone(self.zone).date()
        return scope


def _branch(
    proc: Procedure, trigger: str, index: int, spec: Start | Branch, ranks: Mapping[str, int]
) -> CompiledBranch:
    guard = compile_expression(spec.when) if spec.when else None
    authority = {role: compile_expression(src) for role, src in spec.authority.items()}
    rounds = spec.round
    fresh = () if rounds is None else tuple(n for n, f in proc.fields.items() if f.round == rounds)
    return CompiledBranch(
        trigger=trigger,
        index=index,
        spec=spec,
        roles=frozenset(spec.roles),
        roles_by_rank=tuple(sorted(spec.roles, key=lambda r: (ranks.get(r, 0), r))),
        guard=guard,
        authority=authority,
        accepts=frozenset(spec.accepts) if spec.accepts is not None else None,
        requires=tuple(spec.requires),
        clear=tuple(dict.fromkeys([*spec.clear, *fresh])),
        counts=tuple(spec.counts) if isinstance(spec, Branch) else (),
        fresh=fresh,
    )


def _undeclared_states(proc: Procedure) -> list[tuple[str, str]]:
    """``(where, name)`` for every state the graph names that the procedure lacks."""
    out: list[tuple[str, str]] = []
    if proc.start.to not in proc.states:
        out.append(("start.to", proc.start.to))
    for trigger, branches in proc.transitions.items():
        for i, branch in enumerate(branches):
            where = f"transitions.{trigger}" + (f"[{i}]" if len(branches) > 1 else "")
            out.extend((f"{where}.from", s) for s in branch.source if s not in proc.states)
            if branch.to not in proc.states:
                out.append((f"{where}.to", branch.to))
    return out


def count_problem(proc: Procedure, name: str) -> tuple[str, str] | None:
    """``(code, message)`` when a step may not count field ``name``, else None."""
    spec = proc.fields.get(name)
    if spec is None:
        return "unknown-field", f"unknown field {name!r}" + did_you_mean(name, proc.fields)
    if spec.type != "integer":
        return "count-not-integer", f"field {name!r} is {spec.type!r}: a step counts only integers"
    return None


def _miscounted(proc: Procedure) -> list[tuple[str, str, str]]:
    """``(where, code, message)`` for every field a branch counts that it may not."""
    out: list[tuple[str, str, str]] = []
    for trigger, branches in proc.transitions.items():
        for i, branch in enumerate(branches):
            where = f"transitions.{trigger}" + (f"[{i}]" if len(branches) > 1 else "")
            for name in branch.counts:
                problem = count_problem(proc, name)
                if problem is not None:
                    out.append((f"{where}.counts", *problem))
    return out


def compile_procedure(
    proc: Procedure, digest: str | None = None, zone: tzinfo = UTC
) -> CompiledProcedure:
    """Compile a checked procedure; raises :class:`DefinitionError` if the graph is off.

    ``digest`` pins the cases of the compiled version: by default the procedure's own,
    worked out when first read. ``zone`` is the time zone of the procedure's calendar,
    the day `today` reads.
    """
    undeclared = _undeclared_states(proc)
    if undeclared:
        raise DefinitionError(
            [
                Diagnostic(
                    proc.id, 0, 0, "error", "unknown-state", f"{where}: unknown state {name!r}"
                )
                for where, name in undeclared
            ]
        )
    miscounted = _miscounted(proc)
    if miscounted:
        raise DefinitionError(
            [
                Diagnostic(proc.id, 0, 0, "error", code, f"{where}: {message}")
                for where, code, message in miscounted
            ]
        )
    # In the file's order: the first branch whose guard holds is the one taken.
    ranks = {n: r.rank for n, r in proc.roles.items()}
    table: dict[tuple[str, str], list[CompiledBranch]] = {}
    for trigger, branches in proc.transitions.items():
        for i, branch in enumerate(branches):
            compiled = _branch(proc, trigger, i, branch, ranks)
            for src in branch.source:
                table.setdefault((trigger, src), []).append(compiled)
    sources: dict[str, list[str]] = {}
    for trigger, src in table:
        sources.setdefault(trigger, []).append(src)
    invariants = tuple((inv.name, compile_expression(inv.check)) for inv in proc.invariants)
    start = _branch(proc, "start", 0, proc.start, ranks)
    every = [start, *(b for branches in table.values() for b in branches)]
    reads_roles = any(
        "actor.roles" in expr.names
        for b in every
        for expr in (*([b.guard] if b.guard else []), *b.authority.values())
    )
    return CompiledProcedure(
        procedure=proc,
        start=start,
        table={key: tuple(branches) for key, branches in table.items()},
        sources={k: tuple(v) for k, v in sources.items()},
        invariants=invariants,
        fields=dict(proc.fields),
        defaults={
            n: normalise(f, f.default) for n, f in proc.fields.items() if f.default is not None
        },
        finals=frozenset(n for n, s in proc.states.items() if s.final),
        ranks=ranks,
        limits=compile_limits(proc.time_limits),
        zone=zone,
        reads_roles=reads_roles,
        given_digest=digest,
    )
