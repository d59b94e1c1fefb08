"""Exploring a procedure: the mistakes of its author that no single test shows.

:func:`explore` runs a procedure's cases through the engine, generically over its compiled
form (``(trigger, state) -> branches``), in two ways that share one graph of the cases
reached:

* a systematic, breadth-first search: from every case reached, every trigger that leaves
  its state, fired by an actor of each role its branches allow, with data drawn from the
  classes the guards' constants split each field into (``priority`` is ``emergency`` or
  not; ``compensation`` below, at or above 200), and waiting until the next deadline;
* random lives through the same moves, each driven by a random source hypothesis draws
  (seeded with ``seed``, so a seed gives the same lives), which go deeper than the
  search's budget.

Two cases that agree on their state, escalation level, the class of every field, their
clocks' status and the properties' progress count as one: the search visits each once,
by its shortest life. From the graph it reports (:class:`Finding`, ``kind``):

``stuck``
    a reachable case from which no permitted steps by any role reach a final state;
``dead-state``, ``dead-branch``, ``dead-target``
    a state or branch the static checks call reachable that no life reached or took, with
    the reasons the engine gave when it refused; a target of a time limit's ``within``
    that never applied to a clock that ran;
``limit-never-started``, ``limit-never-breached``, ``limit-never-met``
    a time limit that never ran, that no life breached even by waiting, or that every
    life that ran it breached;
``property``
    a life that breaks one of the procedure's ``properties``.

Dead states, branches and targets and the time-limit findings are inferred from what no
life did, so only from a search that explored every reachable case; a search cut by its
budget (or by the depth of a life, 40 steps) reports broken properties and stuck cases
only (a case counts as stuck only when every way on from it was explored).

Each finding carries the shortest life that shows it and the step that should have gone
otherwise, which :func:`scenario_text` writes as a scenario file that fails in
``servflow test`` for the same reason.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from servflow.bounds import compile_pattern
from servflow.engine import Actor, Case, Engine, Outcome
from servflow.engine.compiled import CompiledBranch, CompiledProcedure
from servflow.errors import Rejected, ServflowError
from servflow.model import Branch, FieldSpec
from servflow.procedures.checks import compiled, constants, expressions_of, sample_values
from servflow.testing.properties import Broken, Monitor

__all__ = [
    "DEFAULT_LIVES",
    "DEFAULT_STEPS",
    "FINDING_KINDS",
    "Coverage",
    "Exploration",
    "Finding",
    "Move",
    "explore",
    "scenario_text",
]

DEFAULT_LIVES = 200
DEFAULT_STEPS = 150_000
FINDING_KINDS = (
    "stuck",
    "dead-state",
    "dead-branch",
    "dead-target",
    "limit-never-started",
    "limit-never-breached",
    "limit-never-met",
    "property",
)
_ZONE = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 2, 8, 0, tzinfo=_ZONE)
_GAP = timedelta(minutes=1)
_MAX_DEPTH = 40


@dataclass(frozen=True)
class Move:
    """One step of a life: the start, a trigger fired by one role, or the clock advanced."""

    kind: str  # "start", "fire" or "advance"
    at: datetime
    trigger: str = ""
    role: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        if self.kind == "advance":
            return f"advance to {self.at.isoformat(sep=' ')}"
        return f"{self.trigger or 'start'} by {self.role}"


@dataclass(frozen=True)
class Finding:
    """Something exploration found wrong, with the shortest life that shows it.

    ``life`` is the steps that lead there (all accepted); ``last`` the step that should
    have gone otherwise, and ``expect`` what the analyst would have expected of it (empty:
    to be accepted).
    """

    kind: str
    procedure: str
    subject: str
    message: str
    life: tuple[Move, ...]
    last: Move | None = None
    expect: Mapping[str, Any] = field(default_factory=dict)
    pii: frozenset[str] = field(default=frozenset(), repr=False)

    def as_dict(self) -> dict[str, Any]:
        """The finding as data, its life included (values of ``pii`` fields masked)."""
        steps = [self._step(m) for m in self.life]
        if self.last is not None:
            steps.append({**self._step(self.last), "expect": _plain(self.expect)})
        return {
            "kind": self.kind,
            "procedure": self.procedure,
            "subject": self.subject,
            "message": self.message,
            "steps": len(steps),
            "life": steps,
        }

    def _step(self, move: Move) -> dict[str, Any]:
        out: dict[str, Any] = {"step": move.kind, "at": move.at.isoformat()}
        if move.kind != "advance":
            out["as"] = move.role
        if move.kind == "fire":
            out["trigger"] = move.trigger
        if move.data:
            out["data"] = {k: "***" if k in self.pii else _plain(v) for k, v in move.data.items()}
        return out


@dataclass
class Coverage:
    """What the explored lives reached, for the table ``servflow explore`` prints."""

    states: dict[str, bool]
    branches: dict[str, bool]
    roles: dict[str, bool]
    limits: dict[str, dict[str, bool]]
    targets: dict[str, bool] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "states": self.states,
            "branches": self.branches,
            "roles": self.roles,
            "time_limits": self.limits,
            "targets": self.targets,
        }


@dataclass
class Exploration:
    """The result of exploring one procedure."""

    procedure: str
    file: Path | None
    findings: list[Finding]
    coverage: Coverage
    engine_steps: int
    cases: int
    lives: int
    seconds: float
    complete: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "procedure": self.procedure,
            "file": str(self.file) if self.file else None,
            "findings": [f.as_dict() for f in self.findings],
            "coverage": self.coverage.as_dict(),
            "engine_steps": self.engine_steps,
            "cases": self.cases,
            "lives": self.lives,
            "seconds": round(self.seconds, 3),
            "complete": self.complete,
        }


# -- the graph ---------------------------------------------------------------------------


@dataclass
class _Node:
    id: int
    case: Case
    monitor: Monitor
    life: tuple[Move, ...]
    expanded: bool = False
    edges: list[int] = field(default_factory=list)
    refused: list[tuple[Move, Rejected]] = field(default_factory=list)
    accepted: set[str] = field(default_factory=set)  # triggers some move took from here
    unknown: bool = False  # a move from here could not be judged (the engine raised)


class _Explorer:
    def __init__(self, engine: Engine, cp: CompiledProcedure, budget: int, seed: int) -> None:
        self.engine = engine
        self.cp = cp
        self.proc = cp.procedure
        self.budget = budget
        self.seed = seed
        self.steps = 0
        self.failed = False
        self.nodes: list[_Node] = []
        self.index: dict[Any, int] = {}
        self.broken: list[tuple[Broken, tuple[Move, ...]]] = []
        self.broken_names: set[str] = set()
        consts: dict[str, set[Any]] = {}
        read: set[str] = set()
        # Explore's actors are named after their roles (`Actor(id=role)`), so a field that
        # says who may act -- a step's `assignee`, or a string field an expression reads
        # beside `actor` -- takes the role names as values: without them no explored
        # actor could ever be that person, and every such step would look dead.
        personal: set[str] = set()
        for branches in self.proc.transitions.values():
            personal.update(b.assignee for b in branches if b.assignee is not None)
        for _, source in expressions_of(self.proc):
            names = compiled(source).names
            read |= names
            if any(n == "actor" or n.startswith("actor.") for n in names):
                personal.update(n for n in names if n in self.proc.fields)
            for name, values in constants(source).items():
                consts.setdefault(name, set()).update(values)
        self.personal = {n for n in personal if self.proc.fields[n].type == "string"}
        for name in self.personal:
            read.add(name)
            consts.setdefault(name, set()).update(self.proc.roles)
        self.read = read & set(self.proc.fields)
        self.samples = {
            name: [v for v in sample_values(spec, consts.get(name, set())) if v is not None]
            for name, spec in self.proc.fields.items()
            if name in self.read
        }
        # Numbers compared with other numbers, not with constants (`handed_over ==
        # collected`, `items|sum(attribute='amount') >= threshold`), are tried at the
        # procedure's own figures: 0, every numeric constant and every numeric default.
        # A table is tried with one row whose numeric cells hold each of those figures.
        self.figures = sorted(
            {Decimal(0)}
            | {Decimal(str(c)) for cs in consts.values() for c in cs if _is_figure(c)}
            | {Decimal(str(s.default)) for s in self.proc.fields.values() if _is_figure(s.default)}
        )
        self.by_figures: set[str] = set()  # numbers classed by the figures, not constants
        for name in self.samples:
            spec = self.proc.fields[name]
            if spec.type == "table":
                self.samples[name] = [*self.samples[name], *_rows_of(spec, self.figures)]
            elif spec.type in ("integer", "decimal") and not any(
                _is_figure(c) for c in consts.get(name, ())
            ):
                self.by_figures.add(name)
                known = self.samples[name]
                known += [f for f in _numbers_of(spec, self.figures) if f not in known]
        self.consts = consts
        # A field the engine counts (`counts`) climbs one step at a time, so its classes
        # by the guards' constants would merge the steps on the way to a threshold: keep
        # its value exactly, up to one past the largest constant it is compared with.
        self.counted: dict[str, int] = {}
        for branches in self.proc.transitions.values():
            for branch in branches:
                for name in branch.counts:
                    numbers = [c for c in consts.get(name, ()) if isinstance(c, int | float)]
                    self.counted[name] = int(max(numbers, default=0)) + 1
        self.plain: dict[str, Any] = {}
        self.taken: set[str] = set()
        self.roles_used: set[str] = set()
        self.limit_seen: dict[str, set[str]] = {name: set() for name in self.proc.time_limits}
        self.targets_seen: set[tuple[str, int]] = set()
        # Each limit's targets as a running clock names them: (text, calendar) -> indexes.
        self.target_index: dict[str, dict[tuple[str, str], list[int]]] = {}
        for name, limit in self.proc.time_limits.items():
            table: dict[tuple[str, str], list[int]] = {}
            for i, t in enumerate(limit.within):
                text = t.limit or f"until {t.until}"
                table.setdefault((text, t.calendar or self.proc.calendar), []).append(i)
            self.target_index[name] = table

    # -- abstraction ----------------------------------------------------------------------

    def _class(self, name: str, value: Any) -> Any:
        if value is None:
            return None
        if name not in self.read:
            return "set"
        spec = self.proc.fields[name]
        if spec.type == "boolean":
            return value
        if name in self.counted and isinstance(value, int) and not isinstance(value, bool):
            return ("count", min(value, self.counted[name]))
        numbers: list[Any] = sorted(
            c for c in self.consts.get(name, ()) if isinstance(c, int | float | Decimal)
        )
        if name in self.by_figures:
            numbers = list(self.figures)
        if spec.type in ("integer", "decimal") and not isinstance(value, bool):
            try:
                number = Decimal(str(value))
            except ArithmeticError:
                return "set"
            return tuple((number > Decimal(str(c))) - (number < Decimal(str(c))) for c in numbers)
        texts = self.consts.get(name, set())
        if isinstance(value, str) and value in texts:
            return value
        if spec.type == "table" and isinstance(value, list):
            # A table counts by its rows' presence and its numeric columns' sums, each
            # compared with the figures it is tried at.
            sums = []
            for column, cspec in (spec.columns or {}).items():
                if cspec.type in ("integer", "decimal"):
                    total = sum((Decimal(str(r.get(column) or 0)) for r in value), Decimal(0))
                    sums.append(tuple((total > f) - (total < f) for f in self.figures))
            return ("table", bool(value), tuple(sums))
        if isinstance(value, list):
            return tuple(sorted(str(v) for v in value if v in texts))
        return "set"

    def key(self, case: Case, monitor: Monitor) -> Any:
        # Fields no expression reads only matter to `requires`, which every move fills.
        data = tuple(self._class(n, case.data.get(n)) for n in self.proc.fields if n in self.read)
        # A stopped clock changes nothing to come but its cycle count, should it restart.
        timers = tuple(
            (n, t.status, t.status != "stopped" and t.breached_at is not None, min(t.cycle, 2))
            for n, t in sorted(case.timers.items())
        )
        return (case.state, case.escalation_level, data, timers, monitor.key)

    # -- moves ----------------------------------------------------------------------------

    def _plain(self, name: str, at: datetime) -> Any:
        spec = self.proc.fields[name]
        if spec.type == "datetime":
            return (at + timedelta(days=2)).isoformat()
        if name not in self.plain:
            self.plain[name] = _plain_value(spec)
        return self.plain[name]

    def _as(self, role: str, data: dict[str, Any], base: Mapping[str, Any]) -> dict[str, Any]:
        """``data`` as ``role`` gives it: a field naming who acts that still holds its
        plain value names the actor itself (the other roles' names are samples)."""
        mine = {n: role for n in self.personal if n in data and data[n] == base.get(n)}
        return {**data, **mine} if mine else data

    def moves(self, case: Case) -> list[Move]:
        at = case.updated_at.astimezone(_ZONE) + _GAP
        out: list[Move] = []
        for trigger in self.proc.transitions:
            branches = self.cp.table.get((trigger, case.state))
            if not branches:
                continue
            roles = sorted({r for b in branches for r in b.roles})
            required = sorted({n for b in branches for n in b.requires})
            accepted: set[str] = set()
            for b in branches:
                accepted |= set(b.accepts if b.accepts is not None else self.proc.fields)
            base = {n: self._plain(n, at) for n in required}
            datas = [base]
            for name in sorted(accepted & set(self.samples)):
                for value in self.samples[name]:
                    if base.get(name) != value:
                        datas.append({**base, name: _stored(value)})
            for role in roles:
                out.extend(Move("fire", at, trigger, role, self._as(role, d, base)) for d in datas)
        # Waiting: until the earliest clock still to be breached is (its warnings on the way),
        # else until whatever else falls due (a breach's later steps).
        dues = [
            t.due_at
            for t in case.timers.values()
            if t.status == "running" and t.breached_at is None and t.due_at is not None
        ]
        wake = min(dues) if dues else case.next_due
        if wake is not None:
            out.append(Move("advance", max(wake, case.updated_at).astimezone(_ZONE)))
        return out

    def run(self, case: Case, move: Move) -> Outcome:
        self.steps += 1
        if move.kind == "advance":
            return self.engine.advance(case, at=move.at)
        actor = Actor(id=move.role, roles=frozenset({move.role}))
        return self.engine.fire(case, move.trigger, actor=actor, data=dict(move.data), at=move.at)

    # -- recording ------------------------------------------------------------------------

    def note(self, out: Outcome) -> None:
        for event in out.events:
            if event.role:
                self.roles_used.add(event.role)
            if event.kind in ("started", "fired", "auto_fired", "breach_step"):
                branch = self._branch(
                    event.trigger, event.source, event.target, event.detail.get("branch")
                )
                if branch:
                    self.taken.add(branch)
        for name, timer in out.case.timers.items():
            seen = self.limit_seen.setdefault(name, set())
            seen.add("started")
            # Targets written alike cannot be told apart on a clock: each counts as applied.
            for i in self.target_index.get(name, {}).get((timer.within, timer.calendar), []):
                self.targets_seen.add((name, i))
            for record in timer.history:
                seen.add("breached" if record.breached_at is not None else "met")
            if timer.breached_at is not None:
                seen.add("breached")
            elif timer.status == "stopped":
                seen.add("met")

    def _branch(self, trigger: str, source: str | None, target: str, index: Any) -> str | None:
        if source is None:
            return "start"
        for b in self.cp.table.get((trigger, source), ()):
            if b.index == index or (index is None and b.to == target):
                return _branch_name(self.proc, b)
        return None

    def add(self, case: Case, monitor: Monitor, life: tuple[Move, ...]) -> tuple[int, bool]:
        key = self.key(case, monitor)
        found = self.index.get(key)
        if found is not None:
            return found, False
        node = _Node(len(self.nodes), case, monitor, life)
        self.nodes.append(node)
        self.index[key] = node.id
        return node.id, True

    def step(self, node: _Node, move: Move) -> tuple[int, bool] | Rejected | None:
        """Take ``move`` from ``node``: the node reached (and whether it is new), the
        refusal, or None when the engine could not say (a calendar's published end)."""
        self.failed = False
        try:
            out = self.run(node.case, move)
        except Rejected as exc:
            return exc
        except ServflowError:
            self.failed = True  # e.g. past a calendar's published end: nothing is known
            return None
        if not out.events:
            return None
        self.note(out)
        life = (*node.life, move)
        monitor, broken = node.monitor.step(out.case, out.events, out.effects)
        broken += monitor.finish(out.case)
        for b in broken:
            if b.name not in self.broken_names:
                self.broken_names.add(b.name)
                self.broken.append((b, life))
        return self.add(out.case, monitor, life)

    # -- the search -----------------------------------------------------------------------

    def opening(self) -> list[int]:
        """The cases opened by each role of the start, with each class of opening data."""
        start = self.cp.start
        base = {n: self._plain(n, START) for n in start.requires}
        accepted = set(start.accepts if start.accepts is not None else self.proc.fields)
        datas = [base]
        for name in sorted(accepted & set(self.samples)):
            datas.extend({**base, name: _stored(v)} for v in self.samples[name])
        roots: list[int] = []
        for role in sorted(start.roles):
            for data in (self._as(role, d, base) for d in datas):
                move = Move("start", START, "", role, data)
                try:
                    self.steps += 1
                    out = self.engine.start(
                        self.proc.id,
                        actor=Actor(id=role, roles=frozenset({role})),
                        data=data,
                        at=START,
                        case_id="explored",
                    )
                except (Rejected, ServflowError):
                    continue
                self.note(out)
                monitor, broken = Monitor.of(self.cp).step(out.case, out.events, out.effects)
                for b in broken:
                    if b.name not in self.broken_names:
                        self.broken_names.add(b.name)
                        self.broken.append((b, (move,)))
                node, new = self.add(out.case, monitor, (move,))
                if new:
                    roots.append(node)
        return roots

    def search(self, roots: Sequence[int]) -> bool:
        """Breadth first from ``roots``; False when the budget or the depth cut it short."""
        queue = deque(roots)
        complete = True
        while queue:
            node = self.nodes[queue.popleft()]
            if node.case.state in self.cp.finals:
                continue
            if len(node.life) >= _MAX_DEPTH:
                complete = False
                continue
            moves = self.moves(node.case)
            if self.steps + len(moves) > self.budget:
                return False
            for move in moves:
                result = self.step(node, move)
                if isinstance(result, Rejected):
                    node.refused.append((move, result))
                elif result is not None:
                    child, new = result
                    node.edges.append(child)
                    node.accepted.add(move.trigger)
                    if new:
                        queue.append(child)
                elif self.failed:
                    node.unknown = True
            node.expanded = True
        return complete

    def walk(self, roots: Sequence[int], lives: int, budget: int) -> int:
        """``lives`` random lives, each from a random source hypothesis draws (seeded: the
        same lives for the same seed), until the budget is spent. Inside a hypothesis test
        (which may not nest another), the sources come from ``random.Random(seed)``."""
        from hypothesis import HealthCheck, Phase, currently_in_test_context, given, settings
        from hypothesis import seed as seeded
        from hypothesis import strategies as st

        walked = 0

        def one(source: int) -> None:
            nonlocal walked
            if self.steps >= budget or walked >= lives:
                return
            walked += 1
            rng = random.Random(source)
            node = self.nodes[rng.choice(roots)]
            for _ in range(_MAX_DEPTH * 2):
                if node.case.state in self.cp.finals or self.steps >= budget:
                    break
                moves = self.moves(node.case)
                if not moves:
                    break
                result = self.step(node, rng.choice(moves))
                if isinstance(result, tuple):
                    node = self.nodes[result[0]]

        if lives <= 0:
            return 0
        if currently_in_test_context():
            sources = random.Random(self.seed)
            for _ in range(lives):
                one(sources.getrandbits(32))
            return walked

        # One draw per life (the seed of its moves), whatever the life does: the graph it
        # walks grows as it goes, so drawing move by move would not replay the same way.
        @seeded(self.seed)
        @settings(
            max_examples=lives,
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(st.integers(0, 2**32 - 1))
        def life(source: int) -> None:
            one(source)

        life()
        return walked


def _branch_name(proc: Any, b: CompiledBranch) -> str:
    many = len(proc.transitions.get(b.trigger, ())) > 1
    return f"{b.trigger}[{b.index}]" if many else b.trigger


def _sources(b: CompiledBranch) -> list[str]:
    spec = b.spec
    return list(spec.source) if isinstance(spec, Branch) else []


def _plain_value(spec: FieldSpec) -> Any:
    """A valid value of ``spec`` that reads as plain as possible (the same every run)."""
    if spec.type == "choice":
        return spec.default if spec.default is not None else (spec.choice_values or ("",))[0]
    if spec.type == "boolean":
        return True
    if spec.type == "date":
        return "2026-11-10"
    if spec.type == "list":
        return []
    if spec.type == "table":  # one row of plain cells: its numeric columns add up to 0
        return [{n: _plain_value(c.as_field) for n, c in (spec.columns or {}).items()}]
    if spec.type in ("integer", "decimal"):
        if spec.minimum is not None and spec.minimum > 0:
            return math.ceil(spec.minimum)
        if spec.maximum is not None and spec.maximum < 0:
            return math.floor(spec.maximum)
        return 0
    if spec.pattern is None:
        return "x"
    # The plainest text the pattern takes: one character repeated, tried in order.
    program = compile_pattern(spec.pattern)
    longest = min(spec.max_length or 40, 40)
    for char in "x0aA1 -+.@_":
        for n in range(1, longest + 1):
            if program.fullmatch(char * n) is not None:
                return char * n
    from hypothesis import HealthCheck, Phase, currently_in_test_context, find, settings

    from servflow.testing.strategies import valid_values

    if currently_in_test_context():  # hypothesis may not nest: the field is left plain
        return "x"
    quiet = settings(
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        max_examples=100,
    )
    return _stored(find(valid_values(spec), lambda _: True, settings=quiet))


def _is_figure(value: Any) -> bool:
    return (
        isinstance(value, int | float | Decimal | str)
        and not isinstance(value, bool)
        and (not isinstance(value, str) or _is_decimal_text(value))
    )


def _is_decimal_text(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except ArithmeticError:
        return False


def _fits(spec: FieldSpec, number: Decimal) -> bool:
    low = spec.minimum is None or number >= Decimal(str(spec.minimum))
    return low and (spec.maximum is None or number <= Decimal(str(spec.maximum)))


def _numbers_of(spec: FieldSpec, figures: Sequence[Decimal]) -> list[Any]:
    """The figures a number field takes (whole ones only for an integer field)."""
    whole = spec.type == "integer"
    return [
        int(f) if whole else f
        for f in figures
        if _fits(spec, f) and (not whole or f == f.to_integral_value())
    ]


def _rows_of(spec: FieldSpec, figures: Sequence[Decimal]) -> list[Any]:
    """One-row tables: plain cells, every numeric cell at one figure, for each figure."""
    plain = {n: _plain_value(c.as_field) for n, c in (spec.columns or {}).items()}
    tables = []
    for figure in figures:
        row = dict(plain)
        for name, column in (spec.columns or {}).items():
            if column.type in ("integer", "decimal"):
                numbers = _numbers_of(column.as_field, [figure])
                if not numbers:
                    break
                row[name] = _stored(numbers[0])
        else:
            tables.append([row])
    return tables


def _plain(value: Any) -> Any:
    """``value`` as JSON can hold it (mappings and lists through)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return _stored(value)


def _stored(value: Any) -> Any:
    """A value as a scenario file writes it (and the engine reads it back)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    return value


# -- the analysis ------------------------------------------------------------------------


def _static_reach(cp: CompiledProcedure) -> set[str]:
    reached = {cp.start.to}
    todo = [cp.start.to]
    while todo:
        state = todo.pop()
        for (_, source), branches in cp.table.items():
            if source == state:
                for b in branches:
                    if b.to not in reached:
                        reached.add(b.to)
                        todo.append(b.to)
    return reached


def _refusal_text(exc: Rejected) -> str:
    return f"{exc.reason}: {exc.message}"


def _explain(refusals: Sequence[tuple[Move, Rejected]]) -> str:
    counts = Counter(_refusal_text(exc) for _, exc in refusals)
    return "; ".join(f"{text} ({n}x)" for text, n in counts.most_common(3))


def _pick(refusals: Sequence[tuple[Move, Rejected]]) -> tuple[Move, Rejected]:
    """The refusal that tells most: a failed rule before a missing role or datum."""
    order = {"guard_failed": 0, "beyond_authority": 1, "invalid_data": 2, "forbidden": 3}
    return min(refusals, key=lambda mr: order.get(mr[1].reason, 9))


class _Analysis:
    def __init__(self, x: _Explorer, complete: bool) -> None:
        self.x = x
        self.cp = x.cp
        self.proc = x.proc
        self.complete = complete
        self.findings: list[Finding] = []
        self.reached = {n.case.state for n in x.nodes}

    def finding(
        self, kind: str, subject: str, message: str, life: tuple[Move, ...], **kw: Any
    ) -> None:
        pii = frozenset(n for n, f in self.proc.fields.items() if f.pii)
        self.findings.append(Finding(kind, self.proc.id, subject, message, life, pii=pii, **kw))

    def run(self) -> list[Finding]:
        self.stuck()  # only cases whose every way on was explored can be stuck
        if self.complete:
            # What no life did is a finding only when every reachable case was explored:
            # a search cut by its budget may not have got there (the coverage shows it).
            self.dead()
            self.limits()
        for broken, life in self.x.broken:
            self.finding(
                "property",
                broken.name,
                f"property {broken.name!r} ({broken.pattern}) is broken: {broken.reason}",
                life,
            )
        return self.findings

    def stuck(self) -> None:
        nodes = self.x.nodes
        parents: dict[int, list[int]] = {}
        for n in nodes:
            for child in n.edges:
                parents.setdefault(child, []).append(n.id)
        good = [
            n.id for n in nodes if n.case.state in self.cp.finals or not n.expanded or n.unknown
        ]
        ok = set(good)
        todo = list(good)
        while todo:
            for parent in parents.get(todo.pop(), ()):
                if parent not in ok:
                    ok.add(parent)
                    todo.append(parent)
        stuck = sorted((n for n in nodes if n.id not in ok), key=lambda n: len(n.life))
        covered: set[int] = set()
        told: set[str] = set()
        finals = sorted(self.cp.finals)
        for node in stuck:
            if node.id in covered:
                continue
            # Everything reachable from a stuck case is stuck too: one finding per region,
            # told by its first case and explained by the refusals met anywhere in it.
            region = [node.id]
            seen = {node.id}
            for i in region:
                for child in nodes[i].edges:
                    if child not in seen:
                        seen.add(child)
                        region.append(child)
            covered |= seen
            region_states = {nodes[i].case.state for i in region}
            if region_states <= told:
                continue  # the same states stuck with other data: told already
            told |= region_states
            # A refusal tells only where no other data or role got the trigger through.
            everything = [(nodes[i], m, e) for i in region for m, e in nodes[i].refused]
            refusals = [t for t in everything if t[1].trigger not in t[0].accepted] or everything
            states = sorted({nodes[i].case.state for i in region} - {node.case.state})
            also = f" (and from there {', '.join(states)})" if states else ""
            if refusals:
                reason = _pick([(m, e) for _, m, e in refusals])[1].reason
                best = [(n, m, e) for n, m, e in refusals if e.reason == reason]
                at, move, exc = min(best, key=lambda t: len(t[0].life))
                why = f"the way out is refused: {_refusal_text(exc)}"
                life, last, expect = at.life, move, {}
            else:
                why = "every permitted step leads back to where it was"
                life, last, expect = node.life, None, {"state": finals[0]}
            self.finding(
                "stuck",
                node.case.state,
                f"a case in `{node.case.state}`{also} can never reach a final state "
                f"({', '.join(finals)}): {why}",
                life,
                last=last,
                expect=expect,
            )

    def dead(self) -> None:
        static = _static_reach(self.cp)
        by_source: dict[str, list[_Node]] = {}
        for n in self.x.nodes:
            by_source.setdefault(n.case.state, []).append(n)
        reported_states: set[str] = set()
        for state in self.proc.states:
            if state in self.reached or state not in static:
                continue
            into = [
                b
                for (_, src), bs in self.cp.table.items()
                for b in bs
                if b.to == state and src in self.reached
            ]
            if not into:
                continue  # reached only through another dead state: reported there
            reported_states.add(state)
            branch = into[0]
            life, last, why = self._attempt(branch, by_source)
            self.finding(
                "dead-state",
                state,
                f"no life reached `{state}`: {why}",
                life,
                last=last,
                expect={"state": state},
            )
        seen: set[str] = set()
        for bs in self.cp.table.values():
            for b in bs:
                name = _branch_name(self.proc, b)
                if name in self.x.taken or name in seen or b.to in reported_states:
                    continue
                if not any(s in self.reached for s in _sources(b)):
                    continue
                seen.add(name)
                life, last, why = self._attempt(b, by_source)
                self.finding(
                    "dead-branch",
                    name,
                    f"no life took `{name}` ({', '.join(_sources(b))} -> {b.to}): {why}",
                    life,
                    last=last,
                    expect={"state": b.to},
                )

    def _attempt(
        self, branch: CompiledBranch, by_source: Mapping[str, list[_Node]]
    ) -> tuple[tuple[Move, ...], Move | None, str]:
        refusals: list[tuple[_Node, Move, Rejected]] = []
        firsts: list[_Node] = []
        for src in _sources(branch):
            for node in by_source.get(src, []):
                firsts.append(node)
                refusals.extend(
                    (node, m, exc) for m, exc in node.refused if m.trigger == branch.trigger
                )
        others = sorted(
            {
                _branch_name(self.proc, b)
                for src in _sources(branch)
                for b in self.cp.table.get((branch.trigger, src), ())
                if b is not branch and _branch_name(self.proc, b) in self.x.taken
            }
        )
        took = f"`{branch.trigger}` took only {', '.join(others)}" if others else ""
        if refusals:
            pairs = [(m, exc) for _, m, exc in refusals]
            reason = _pick(pairs)[1].reason
            shortest = [(n, m) for n, m, e in refusals if e.reason == reason]
            node, chosen = min(shortest, key=lambda t: len(t[0].life))
            refused = f"otherwise it was refused: {_explain(pairs)}"
            why = f"{took}; {refused}" if took else f"every `{branch.trigger}` was refused: "
            return node.life, chosen, why + ("" if took else _explain(pairs))
        node = min(firsts, key=lambda n: len(n.life))
        why = f"{took} instead" if took else f"`{branch.trigger}` was never accepted there"
        attempt = next((m for m in self.x.moves(node.case) if m.trigger == branch.trigger), None)
        return node.life, attempt, why

    def limits(self) -> None:
        nodes = sorted(self.x.nodes, key=lambda n: len(n.life))
        for name, limit in self.proc.time_limits.items():
            seen = self.x.limit_seen.get(name, set())
            first = next((n for n in nodes if name in n.case.timers), None)
            if first is None or not self.complete:
                continue
            for i, target in enumerate(limit.within):
                if (name, i) in self.x.targets_seen:
                    continue
                text = target.limit or f"until {target.until}"
                when = f" (`when: {target.when}`)" if target.when else ""
                # The life to show: one whose data meets the condition's constants most
                # (the emergency, for `priority == 'emergency' and ...`), then the shortest.
                wanted = constants(target.when) if target.when else {}
                first = max(
                    (n for n in nodes if name in n.case.timers),
                    key=lambda n: (
                        sum(n.case.data.get(f) in v for f, v in wanted.items()),
                        -len(n.life),
                    ),
                )
                ran = first.case.timers[name].within
                self.finding(
                    "dead-target",
                    f"{name}.within[{i}]",
                    f"target {i + 1} of time limit `{name}`, {text}{when}, never applied: "
                    f"every clock that ran took another target (in this life: {ran})",
                    first.life[:-1],
                    last=first.life[-1],
                    expect={"time_limits": {name: {"target": text}}},
                )
        for name in self.proc.time_limits:
            seen = self.x.limit_seen.get(name, set())
            if "started" not in seen:
                end = next((n for n in nodes if n.case.state in self.cp.finals), None)
                if end is None or not self.complete:
                    continue
                clause = self.proc.time_limits[name].starts
                written = ", ".join(
                    f"{kind}: {', '.join(v) if isinstance(v, list) else v}"
                    for kind, v in clause.written()
                )
                states = set(clause.rule.entered) | set(clause.rule.left)
                unreached = sorted(states - self.reached)
                because = (
                    f"; no life reached {', '.join(unreached)}"
                    if unreached and unreached == sorted(states)
                    else ""
                )
                finals_left = sorted(set(clause.rule.left) & self.cp.finals)
                if finals_left:
                    because += f"; no case leaves {', '.join(finals_left)}, a final state"
                self.finding(
                    "limit-never-started",
                    name,
                    f"time limit `{name}` never started in any life: its `starts` "
                    f"({written}) was never met{because}",
                    end.life[:-1],
                    last=end.life[-1],
                    expect={"time_limits": {name: {"status": "stopped"}}},
                )
                continue
            running = next((n for n in nodes if name in n.case.timers), None)
            assert running is not None
            if not self.complete:
                continue  # what no explored life did may be done by one not explored
            if "breached" not in seen:
                timer = running.case.timers[name]
                late = timer.started_at.astimezone(_ZONE) + timedelta(days=30)
                self.finding(
                    "limit-never-breached",
                    name,
                    f"time limit `{name}` was never breached, even by waiting: it is "
                    f"{timer.status} as soon as it starts",
                    running.life,
                    last=Move("advance", late),
                    expect={"time_limits": {name: {"breached": True}}},
                )
            elif "met" not in seen:
                stopped = next(
                    (
                        n
                        for n in nodes
                        if name in n.case.timers
                        and (n.case.timers[name].status == "stopped" or n.case.timers[name].history)
                    ),
                    None,
                )
                if stopped is None:
                    stopped = next((n for n in nodes if n.case.state in self.cp.finals), running)
                self.finding(
                    "limit-never-met",
                    name,
                    f"time limit `{name}` was breached in every life that ran it: no step "
                    "stops it in time",
                    stopped.life[:-1],
                    last=stopped.life[-1],
                    expect={"time_limits": {name: {"breached": False}}},
                )

    def coverage(self) -> Coverage:
        branches = {}
        for trigger, bs in self.proc.transitions.items():
            for i in range(len(bs)):
                name = f"{trigger}[{i}]" if len(bs) > 1 else trigger
                branches[name] = name in self.x.taken
        roles = {r: r in self.x.roles_used for r in self.proc.roles}
        limits = {
            name: {
                o: o in self.x.limit_seen.get(name, set()) for o in ("started", "met", "breached")
            }
            for name in self.proc.time_limits
        }
        targets = {
            f"{name}.within[{i}]": (name, i) in self.x.targets_seen
            for name, limit in self.proc.time_limits.items()
            for i in range(len(limit.within))
        }
        states = {s: s in self.reached for s in self.proc.states}
        return Coverage(states, branches, roles, limits, targets)


def explore(
    engine: Engine,
    procedure_id: str,
    *,
    lives: int = DEFAULT_LIVES,
    steps: int = DEFAULT_STEPS,
    seed: int = 0,
    file: Path | None = None,
) -> Exploration:
    """Explore the latest version of ``procedure_id`` within ``steps`` engine steps."""
    began = time.perf_counter()
    cp = engine._compiled(procedure_id)
    x = _Explorer(engine, cp, steps, seed)
    roots = x.opening()
    complete = False
    walked = 0
    if roots:
        complete = x.search(roots)
        # The random lives get what the search left, and at least a tenth of the budget.
        walked = x.walk(roots, lives, max(steps, x.steps + steps // 10))
    analysis = _Analysis(x, complete)
    findings = analysis.run() if roots else []
    return Exploration(
        procedure=procedure_id,
        file=file,
        findings=findings,
        coverage=analysis.coverage(),
        engine_steps=x.steps,
        cases=len(x.nodes),
        lives=walked,
        seconds=time.perf_counter() - began,
        complete=complete,
    )


# -- scenario files ----------------------------------------------------------------------


def _time(at: datetime) -> str:
    return at.astimezone(_ZONE).strftime("%Y-%m-%d %H:%M")


def _yaml_step(move: Move, expect: Mapping[str, Any] | None) -> dict[str, Any]:
    step: dict[str, Any]
    if move.kind == "advance":
        step = {"advance": _time(move.at)}
    elif move.kind == "start":
        step = {"start": {"as": move.role, "at": _time(move.at), "data": dict(move.data)}}
    else:
        step = {"fire": move.trigger, "as": move.role, "at": _time(move.at)}
        if move.data:
            step["data"] = dict(move.data)
    if expect:
        step["expect"] = dict(expect)
    return step


def scenario_text(finding: Finding, procedure_file: Path, scenario_dir: Path) -> str:
    """The scenario file that replays ``finding``'s life and fails where it goes wrong."""
    moves = [*finding.life, *([finding.last] if finding.last is not None else [])]
    roles = sorted({m.role for m in moves if m.role})
    try:
        target = os.path.relpath(procedure_file.resolve(), scenario_dir.resolve())
    except ValueError:  # another drive
        target = str(procedure_file.resolve())
    steps = [_yaml_step(m, None) for m in finding.life]
    if finding.last is not None:
        steps.append(_yaml_step(finding.last, finding.expect))
    elif finding.expect and steps:
        steps[-1]["expect"] = dict(finding.expect)
    body = {
        "scenario": f"{finding.kind}: {finding.subject}",
        "description": finding.message,
        "procedure": target.replace(os.sep, "/"),
        "timezone": "Asia/Shanghai",
        "actors": {r: {"roles": [r]} for r in roles},
        "steps": steps,
    }
    head = (
        f"# Found by `servflow explore` in {procedure_file.name}: {finding.kind} "
        f"{finding.subject} (the description says why).\n"
        "# `servflow test` runs it from any folder; it fails on its last step until the\n"
        "# procedure is fixed, and then keeps the fix in place.\n"
    )
    return head + yaml.safe_dump(body, allow_unicode=True, sort_keys=False, width=100)
