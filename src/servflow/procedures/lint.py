"""Advice on a valid procedure: things that load and run, but are probably not meant.

The static checks of :mod:`servflow.procedures.checks` refuse what cannot work; this
module only warns, about what works but looks like a slip of the analyst's pen:

``no-time-limit``
    a state in which no time limit runs (none covers it, or every clock that does is
    paused there) and that does not say what it ``waits`` for: a case can wait there for
    ever and nobody is told.
``unused-role``
    a role that no step, notification, escalation or authority names.
``unused-field``
    a field that no step requires, accepts, clears or counts and no rule reads.
``unfireable-transition``
    a step no role can ever take: its guard is always false, every role's authority is
    always false, or it follows the escalation ladder and every role ranks below it.
``guard-fails-when-empty``
    a branch's guard cannot be evaluated when a field it reads is empty (``amount > 1000``
    with ``amount`` empty), and a later branch of the same trigger from the same state
    follows it. The engine treats a guard that cannot be evaluated as not holding, so the
    step silently takes the later branch (a refund without approval); the analyst should
    say what an empty field means (``amount is none or amount > 1000``). Fields that can
    never be empty are left alone: those with a ``default`` or required by the start that
    no later step clears or takes data for (a null value in an event clears a field).
``stale-requires``
    in a procedure that declares rounds (fields with ``round:``), a step on a loop of the
    state graph requires a field that the loop sets and nothing on the loop empties (no
    ``clear``, no ``round`` that starts the field's round): the second time round, the
    first round's value meets the requirement (a second key loan "returned" by the first
    one's return time).

The time-limit coverage computed here (:func:`limit_coverage`) is also what the diagrams
and the generated SOPs show beside each state, so that the advice and the pictures agree.
All rules tolerate dangling references: they run after the static checks, which report
those as errors of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from servflow.engine.expr import ExpressionSyntaxError
from servflow.engine.limits import until_field
from servflow.errors import Diagnostic, EvaluationError
from servflow.model import Branch, Procedure, Start, TimeLimit
from servflow.procedures.checks import compiled, constants, expressions_of, sample_values
from servflow.procedures.source import SourceMap

__all__ = ["LINT_CODES", "Coverage", "Edge", "edges_of", "limit_coverage", "lint_procedure"]

LINT_CODES = (
    "no-time-limit",
    "unused-role",
    "unused-field",
    "unfireable-transition",
    "guard-fails-when-empty",
    "stale-requires",
)

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Edge:
    """One way a case moves: ``source`` is None for the start of a case."""

    trigger: str
    source: str | None
    target: str


@dataclass(frozen=True)
class Coverage:
    """Where a time limit's clock runs and where it is paused."""

    running: frozenset[str]
    paused: frozenset[str]


def edges_of(proc: Procedure) -> list[Edge]:
    """Every (trigger, source, target) of the procedure, the start first."""
    edges = [Edge("start", None, proc.start.to)]
    for trigger, branches in proc.transitions.items():
        for branch in branches:
            edges.extend(Edge(trigger, src, branch.to) for src in branch.source)
    return edges


def limit_coverage(proc: Procedure, limit: TimeLimit) -> Coverage:
    """The states in which ``limit``'s clock can be running (or paused), guards ignored."""
    edges = edges_of(proc)
    starts, stops = limit.starts, limit.stops
    covered = {e.target for e in edges if starts.matches(e.trigger, e.source, e.target)}
    todo = list(covered)
    while todo:
        state = todo.pop()
        for edge in edges:
            if edge.source != state or edge.target in covered:
                continue
            step = (edge.trigger, edge.source, edge.target)
            if stops.matches(*step) and not starts.matches(*step):
                continue
            covered.add(edge.target)
            todo.append(edge.target)
    covered &= set(proc.states)
    paused = limit.pauses.states & covered
    return Coverage(running=frozenset(covered - paused), paused=frozenset(paused))


def _branches(proc: Procedure) -> Iterator[tuple[Path, str, Start | Branch]]:
    yield ("start",), "the start", proc.start
    for trigger, branches in proc.transitions.items():
        for i, branch in enumerate(branches):
            label = repr(trigger) if len(branches) == 1 else f"branch {i + 1} of {trigger!r}"
            yield ("transitions", trigger, i), label, branch


def _always_false(source: str) -> bool:
    """True when ``source`` reads nothing and is false: ``false``, ``1 > 2``..."""
    try:
        expr = compiled(source)
        return not expr.names and not expr.holds({})
    except (ExpressionSyntaxError, EvaluationError):
        return False


class _Linter:
    def __init__(self, proc: Procedure, smap: SourceMap) -> None:
        self.proc = proc
        self.smap = smap
        self.out: list[Diagnostic] = []

    def warn(self, path: Path, code: str, message: str, *, key: bool = False) -> None:
        self.out.append(self.smap.diagnostic(path, code, message, severity="warning", key=key))

    def time_limits(self) -> None:
        p = self.proc
        # A clock paused in a state watches nothing there: only a running clock, or a
        # `waits` reason the analyst wrote, says that waiting there is meant.
        running: set[str] = set()
        paused: set[str] = set()
        for limit in p.time_limits.values():
            coverage = limit_coverage(p, limit)
            running |= coverage.running
            paused |= coverage.paused
        reachable = _reachable(p)
        for name, state in p.states.items():
            if state.final or state.waits is not None or name in running:
                continue
            if name not in reachable:
                continue
            why = "every time limit is paused" if name in paused else "no time limit runs"
            self.warn(
                ("states", name),
                "no-time-limit",
                f"{why} in state {name!r}: a case can wait there for ever unnoticed; add a "
                "time limit that runs in it, or say what it waits for with `waits:`",
                key=True,
            )

    def roles(self) -> None:
        p = self.proc
        used: set[str] = set(p.escalation)
        for _, _, branch in _branches(p):
            used |= set(branch.roles) | set(branch.authority)
            used |= {e.notify for e in branch.effects if e.notify}
        for limit in p.time_limits.values():
            used |= set(limit.warn_notify)
            used |= {a.notify for a in limit.on_breach if a.notify is not None}
        for name in p.roles:
            if name not in used:
                self.warn(
                    ("roles", name),
                    "unused-role",
                    f"role {name!r} is never used: no step, notification, escalation or "
                    "authority names it",
                    key=True,
                )

    def fields(self) -> None:
        p = self.proc
        used: set[str] = set()
        for _, _, branch in _branches(p):
            used |= set(branch.requires) | set(branch.clear) | set(branch.accepts or ())
            for link in getattr(branch, "opens", ()):  # read by a linked case, set from it
                used |= set(link.data.values()) | set(link.returns)
            if isinstance(branch, Branch):
                used |= set(branch.counts)  # the engine keeps the count: the field is used
        for _, source in expressions_of(p):
            try:
                used |= compiled(source).names
            except ExpressionSyntaxError:
                continue
        for limit in p.time_limits.values():  # a deadline field is read by its clock
            used |= {until_field(t.until) or "" for t in limit.within if t.until is not None}
        for name in p.fields:
            if name not in used:
                self.warn(
                    ("fields", name),
                    "unused-field",
                    f"field {name!r} is never required, accepted or read: no step asks for "
                    "it and no rule looks at it",
                    key=True,
                )

    def unfireable(self) -> None:
        p = self.proc
        ladder = [p.roles[r].rank for r in p.escalation if r in p.roles]
        for base, label, branch in _branches(p):
            if branch.when and _always_false(branch.when):
                self.warn(
                    (*base, "when"),
                    "unfireable-transition",
                    f"the guard of {label} is always false: nobody can ever take this step",
                )
                continue
            able = [r for r in branch.roles if r in p.roles]
            if not able:
                continue  # every role is unknown: an error of the static checks
            if branch.follows_escalation and ladder:
                able = [r for r in able if p.roles[r].rank >= min(ladder)]
                if not able:
                    self.warn(
                        (*base, "roles"),
                        "unfireable-transition",
                        f"no role can take {label}: it follows the escalation ladder, which "
                        f"starts at rank {min(ladder)}, and its roles all rank lower",
                    )
                    continue
            if all(r in branch.authority and _always_false(branch.authority[r]) for r in able):
                self.warn(
                    (*base, "authority"),
                    "unfireable-transition",
                    f"no role can take {label}: the authority of every role is always false",
                )

    def stale_requires(self) -> None:
        """A required field that an earlier time round a loop of the graph may have set."""
        p = self.proc
        steps = [(path, label, b) for path, label, b in _branches(p) if isinstance(b, Branch)]
        graph: dict[str, set[str]] = {}
        for _, _, b in steps:
            for src in b.source:
                graph.setdefault(src, set()).add(b.to)

        def reach(state: str) -> set[str]:
            seen, todo = {state}, [state]
            while todo:
                for nxt in graph.get(todo.pop(), ()):
                    if nxt not in seen:
                        seen.add(nxt)
                        todo.append(nxt)
            return seen

        reached = {s: reach(s) for s in {*graph, *(b.to for _, _, b in steps)}}
        for path, label, branch in steps:
            for src in branch.source:
                if src not in reached.get(branch.to, ()):
                    continue  # not on a loop
                # The steps of the loop: those on a way from the target back to the source.
                loop = [
                    b
                    for _, _, b in steps
                    if any(u in reached[branch.to] and src in reached[b.to] for u in b.source)
                ]
                emptied = {n for b in loop for n in b.clear} | {
                    n for b in loop if b.round for n, f in p.fields.items() if f.round == b.round
                }
                for j, name in enumerate(branch.requires):
                    if name in emptied or name not in p.fields:
                        continue
                    if not any(b.accepts is None or name in b.accepts for b in loop):
                        continue  # the loop never sets it: the value is the case's own
                    self.warn(
                        (*path, "requires", j),
                        "stale-requires",
                        f"{label} requires {name!r} and is on a loop through {src!r}; nothing "
                        f"on the loop empties {name!r}, so the next time round the value "
                        f"of an earlier round meets the requirement; start a round (`round:`) "
                        "or `clear` it on the loop",
                    )
                break  # one warning per required field and branch

    def empty_fallthrough(self) -> None:
        p = self.proc
        # A field is emptied by a step that clears it or that takes data for it (a null
        # value clears); one that starts filled and no step can empty is never empty.
        emptied = {name for _, _, branch in _branches(p) for name in branch.clear}
        for branches in p.transitions.values():
            for branch in branches:
                emptied |= set(p.fields) if branch.accepts is None else set(branch.accepts)
        never_empty = {
            name
            for name, spec in p.fields.items()
            if name not in emptied and (spec.default is not None or name in p.start.requires)
        }
        for trigger, branches in p.transitions.items():
            for i, branch in enumerate(branches):
                if not branch.when:
                    continue
                later = [
                    (j, src)
                    for j in range(i + 1, len(branches))
                    for src in branch.source
                    if src in branches[j].source
                ]
                if not later:
                    continue
                j, src = later[0]
                for name in _fails_when_empty(p, branch.when, src, trigger, never_empty):
                    self.warn(
                        ("transitions", trigger, i, "when"),
                        "guard-fails-when-empty",
                        f"the guard of branch {i + 1} of {trigger!r} cannot be evaluated when "
                        f"{name!r} is empty, and then branch {j + 1} from {src!r} is taken "
                        f"instead; say what an empty {name!r} means (e.g. `{name} is none "
                        f"or ...` or `{name} is not none and ...`)",
                    )


def _fails_when_empty(
    proc: Procedure, source: str, state: str, trigger: str, never_empty: set[str]
) -> list[str]:
    """The fields read by ``source`` whose emptiness alone makes it fail to evaluate.

    Each field in turn is empty while every other field holds a value of its type, so a
    guard that guards itself (``amount is not none and amount > 1000``) is not named.
    """
    try:
        expr = compiled(source)
    except ExpressionSyntaxError:
        return []
    consts = constants(source)
    filled: dict[str, Any] = {"state": state, "trigger": trigger, "escalation_level": 0}
    for name in expr.names:
        spec = proc.fields.get(name)
        if spec is not None:
            values = sample_values(spec, set(consts.get(name, set())))
            filled[name] = values[1] if len(values) > 1 else None
    failing: list[str] = []
    for name in sorted(expr.names & set(proc.fields) - never_empty):
        try:
            expr.holds({**filled, name: None})
        except EvaluationError:
            failing.append(name)
    return failing


def _reachable(proc: Procedure) -> set[str]:
    edges = edges_of(proc)
    seen = {proc.start.to}
    todo = [proc.start.to]
    while todo:
        state = todo.pop()
        for edge in edges:
            if edge.source == state and edge.target not in seen:
                seen.add(edge.target)
                todo.append(edge.target)
    return seen


def lint_procedure(proc: Procedure, smap: SourceMap) -> list[Diagnostic]:
    """Warnings about ``proc`` (see the module's docstring for the codes)."""
    linter = _Linter(proc, smap)
    linter.time_limits()
    linter.roles()
    linter.fields()
    linter.unfireable()
    linter.empty_fallthrough()
    if any(spec.round for spec in proc.fields.values()):
        linter.stale_requires()
    return linter.out
