"""Static checks of a procedure: references, expressions, the shape of its graph.

Runs after the model validated, over the whole procedure, and returns every problem as a
positioned diagnostic. Errors make a procedure unusable; warnings (``ambiguous-transition``,
the lint advice) do not, unless a caller asks for strictness.

The graph checks ignore guards: a state counts as reachable when some transition leads to
it, whatever its ``when``. That errs towards silence, never towards a false alarm.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any

from servflow._hints import did_you_mean
from servflow.engine.durations import parse_duration
from servflow.engine.expr import (
    Expression,
    ExpressionSyntaxError,
    compile_expression,
    constants_of,
)
from servflow.engine.grammar import STEP_NAMES
from servflow.engine.limits import Percent, parse_until
from servflow.engine.values import FieldValueError, normalise, typed_value
from servflow.errors import Diagnostic, EvaluationError
from servflow.model import (
    HAPPENING_PREFIXES,
    LANGUAGES,
    RESERVED_NAMES,
    FieldSpec,
    Procedure,
    happening_parts,
)
from servflow.procedures.measures import check_measures
from servflow.procedures.schedules import check_schedules
from servflow.procedures.source import SourceMap

__all__ = ["check_procedure", "compiled", "constants", "expressions_of", "sample_values"]

Path = tuple[str | int, ...]

# Names every expression may read besides the procedure's fields.
CONTEXT_NAMES = frozenset({"state", "trigger", "escalation_level"})
# The ambiguity search tries every combination of a few values per field. One pair of
# guards may try at most _MAX_DOMAIN combinations; the whole search over a procedure at
# most AMBIGUITY_PAIRS pairs and AMBIGUITY_BUDGET units of work, a combination costing
# one unit plus one per AMBIGUITY_UNIT_CHARS characters of the two guards (a long guard
# takes longer to evaluate; the language bounds its length and operators). So loading or
# checking a procedure with hundreds of branches of one trigger stays a matter of
# seconds (the search is quadratic in the branches). Past either bound the search stops
# and says so (``ambiguity-search-cut``) rather than pretending the guards are disjoint.
_MAX_DOMAIN = 4096
AMBIGUITY_BUDGET = 100_000
AMBIGUITY_PAIRS = 2_000
AMBIGUITY_UNIT_CHARS = 50


@functools.lru_cache(maxsize=4096)
def compiled(source: str) -> Expression:
    """``compile_expression(source)``, once per source: the ambiguity search and the lint
    read each guard many times, and parsing a long guard costs more than evaluating it."""
    return compile_expression(source)


@functools.lru_cache(maxsize=4096)
def constants(source: str) -> Mapping[str, frozenset[Any]]:
    """The constants each name of ``source`` is compared with, once per source."""
    return MappingProxyType({k: frozenset(v) for k, v in constants_of(source).items()})


def expressions_of(proc: Procedure) -> Iterator[tuple[Path, str]]:
    """Every expression in the procedure, with its path."""
    if proc.start.when:
        yield ("start", "when"), proc.start.when
    for role, expr in proc.start.authority.items():
        yield ("start", "authority", role), expr
    for trigger, branches in proc.transitions.items():
        for i, branch in enumerate(branches):
            if branch.when:
                yield ("transitions", trigger, i, "when"), branch.when
            for role, expr in branch.authority.items():
                yield ("transitions", trigger, i, "authority", role), expr
    for i, inv in enumerate(proc.invariants):
        yield ("invariants", i, "check"), inv.check
    for i, prop in enumerate(proc.properties):
        for pattern in ("never", "always", "eventually"):
            source = getattr(prop, pattern)
            if source is not None:
                yield ("properties", i, pattern), source
    for name, limit in proc.time_limits.items():
        for i, target in enumerate(limit.within):
            if target.when:
                yield ("time_limits", name, "within", i, "when"), target.when


# `field|sum(attribute='column')` (and min, max, join): a table field and the column read.
_ATTRIBUTE_OF = re.compile(
    r"\b(?P<field>[a-z][a-z0-9_]*)\s*\|\s*(?P<filter>sum|min|max|join)\s*\("
    r"[^()]*?\battribute\s*=\s*(?P<quote>['\"])(?P<column>[^'\"]*)(?P=quote)"
)


# Values the ambiguity search tries besides the constants a guard names, per field type.
_SAMPLES: dict[str, list[Any]] = {
    "string": [""],
    "text": [""],
    "integer": [0],
    "decimal": [0],
    "date": [date(2026, 1, 1)],
    "datetime": [datetime(2026, 1, 1, tzinfo=UTC)],
    "list": [[]],
    "table": [[]],
}


def _domain(spec: FieldSpec, consts: set[Any]) -> list[Any]:
    """The values the ambiguity search tries for one field: none, then some of its type.

    Every candidate passes through ``normalise`` first, so the search only ever tries
    values a case could hold (an empty text is no date, a constant may break a pattern).
    """
    raw: list[Any] = []
    if spec.type == "boolean":
        raw = [True, False]
    elif spec.type == "choice":
        raw = list(spec.choices or [])
    elif spec.type in ("integer", "decimal"):
        for c in sorted((c for c in consts if _is_number(c)), key=float):
            raw += [c - 1, c, c + 1]
    else:
        texts = sorted(c for c in consts if isinstance(c, str))
        raw = [[c] for c in texts] if spec.type == "list" else texts
    values: list[Any] = [None]
    for candidate in [*raw, *_SAMPLES.get(spec.type, [])]:
        try:
            stored = normalise(spec, candidate)
        except FieldValueError:
            continue
        typed = typed_value(spec, stored)
        if not any(type(v) is type(typed) and v == typed for v in values):
            values.append(typed)
    return values


class _Budget:
    """What is left of the ambiguity search's allowance for one procedure."""

    def __init__(self, combinations: int, pairs: int) -> None:
        self.combinations = combinations
        self.pairs = pairs
        self.spent = False

    def take_pair(self) -> bool:
        """Count one more pair of guards; False (and spent) when there are too many."""
        self.pairs -= 1
        if self.pairs < 0:
            self.spent = True
        return not self.spent

    def take(self, cost: int) -> bool:
        """Count one more combination of values; False (and spent) past the budget."""
        self.combinations -= cost
        if self.combinations < 0:
            self.spent = True
        return not self.spent


def sample_values(spec: FieldSpec, consts: set[Any]) -> list[Any]:
    """Values a case could hold in a field, none first: the ambiguity search's domain."""
    return _domain(spec, consts)


def _clip(source: str, width: int = 100) -> str:
    """An expression as a message quotes it: whole, unless it is longer than a line."""
    return source if len(source) <= width else source[: width - 1] + "…"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Checker:
    def __init__(self, proc: Procedure, smap: SourceMap) -> None:
        self.proc = proc
        self.smap = smap
        self.out: list[Diagnostic] = []

    def error(
        self, path: Path, code: str, message: str, *, key: bool = False, offset: int = 0
    ) -> None:
        self.out.append(self.smap.diagnostic(path, code, message, key=key, offset=offset))

    def warn(self, path: Path, code: str, message: str, *, key: bool = False) -> None:
        self.out.append(self.smap.diagnostic(path, code, message, severity="warning", key=key))

    # -- references ---------------------------------------------------------------------

    def ref(self, path: Path, kind: str, name: str, valid: set[str]) -> None:
        if name not in valid:
            self.error(
                path, f"unknown-{kind}", f"unknown {kind} {name!r}" + did_you_mean(name, valid)
            )

    def references(self) -> None:
        p = self.proc
        states, roles, fields = set(p.states), set(p.roles), set(p.fields)
        rounds = {spec.round for spec in p.fields.values() if spec.round is not None}
        for name in p.fields:
            if name in RESERVED_NAMES:
                self.error(
                    ("fields", name),
                    "reserved-name",
                    f"field name {name!r} is reserved by the expression language",
                    key=True,
                )
        # The start and every branch of every trigger, each with its path.
        branches_at: list[tuple[Path, Any]] = [(("start",), p.start)]
        for trigger, branches in p.transitions.items():
            if trigger == "start":
                self.error(
                    ("transitions", trigger),
                    "reserved-name",
                    "'start' is how a case opens; name the trigger otherwise",
                    key=True,
                )
            for i, branch in enumerate(branches):
                base: Path = ("transitions", trigger, i)
                branches_at.append((base, branch))
                for j, src in enumerate(branch.source):
                    self.ref((*base, "from", j), "state", src, states)
        for base, branch in branches_at:
            self.ref((*base, "to"), "state", branch.to, states)
            for j, role in enumerate(branch.roles):
                self.ref((*base, "roles", j), "role", role, roles)
            for attr in ("requires", "clear"):
                for j, name in enumerate(getattr(branch, attr)):
                    self.ref((*base, attr, j), "field", name, fields)
            for j, name in enumerate(branch.accepts or ()):
                self.ref((*base, "accepts", j), "field", name, fields)
            if branch.accepts is not None:
                for j, name in enumerate(branch.requires):
                    if name not in branch.accepts and name in fields and base == ("start",):
                        self.error(
                            (*base, "requires", j),
                            "requires-not-accepted",
                            f"start requires {name!r} but does not accept it",
                        )
            if branch.assignee is not None:
                self.assignee((*base, "assignee"), branch.assignee)
            for role in branch.authority:
                if role not in branch.roles:
                    self.error(
                        (*base, "authority", role),
                        "authority-role",
                        f"authority for {role!r}, which may not take this step"
                        + did_you_mean(role, set(branch.roles)),
                        key=True,
                    )
            for j, effect in enumerate(branch.effects):
                if effect.notify is not None:
                    self.ref((*base, "effects", j, "notify"), "role", effect.notify, roles)
            if branch.deescalates not in (None, False):
                self.deescalates((*base, "deescalates"), branch)
            if branch.round is not None and base != ("start",):
                self.ref((*base, "round"), "round", branch.round, rounds)
            if branch.follows_escalation and not p.escalation:
                self.error(
                    (*base, "follows_escalation"),
                    "no-escalation",
                    "follows_escalation needs the procedure's `escalation` list of roles",
                )
        for key in ("clear", "escalates", "follows_escalation", "deescalates", "round"):
            if key in p.start.model_fields_set:
                self.error(
                    ("start", key),
                    "not-for-start",
                    f"`{key}` has no meaning when a case opens; remove it from `start`",
                    key=True,
                )
        for j, role in enumerate(p.escalation):
            self.ref(("escalation", j), "role", role, roles)
        for name, spec in p.fields.items():
            for j, role in enumerate(spec.visible_to or ()):
                self.ref(("fields", name, "visible_to", j), "role", role, roles)
        if p.escalation:
            ranks = [p.roles[r].rank for r in p.escalation if r in p.roles]
            if ranks != sorted(ranks):
                self.error(
                    ("escalation",),
                    "escalation-order",
                    "escalation roles must be listed lowest rank first",
                )
        self.field_defaults()

    def deescalates(self, path: Path, branch: Any) -> None:
        """`deescalates` goes down the procedure's own ladder, and only down."""
        ladder, target = self.proc.escalation, branch.deescalates
        if not ladder:
            self.error(
                path,
                "no-escalation",
                "deescalates needs the procedure's `escalation` list of roles",
            )
        elif isinstance(target, str) and target not in ladder:
            self.error(
                path,
                "deescalates-not-a-rung",
                f"deescalates to {target!r}, which is not a rung of `escalation` "
                f"({', '.join(ladder)})" + did_you_mean(target, ladder),
            )
        if branch.escalates:
            self.error(
                path,
                "escalates-and-deescalates",
                "a step either raises the escalation level (`escalates`) or brings it down "
                "(`deescalates`), not both",
            )

    def assignee(self, path: Path, name: str) -> None:
        """`assignee` names a text field that holds an actor's id."""
        spec = self.proc.fields.get(name)
        if spec is None:
            self.ref(path, "field", name, set(self.proc.fields))
        elif spec.type != "string":
            self.error(
                path,
                "assignee-type",
                f"`assignee` names field {name!r} of type {spec.type}; it must be a `string` "
                "field that holds the id of the person who may take the step",
            )

    def field_defaults(self) -> None:
        for name, spec in self.proc.fields.items():
            if spec.default is not None:
                try:
                    normalise(spec, spec.default)
                except FieldValueError as exc:
                    self.error(
                        ("fields", name, "default"),
                        "invalid-default",
                        f"default of {name!r}: {exc}",
                    )

    # -- expressions --------------------------------------------------------------------

    def expressions(self) -> None:
        valid = set(self.proc.fields) | CONTEXT_NAMES
        for path, source in expressions_of(self.proc):
            # Guards and authorities decide a step, so they may read who takes it and
            # when; invariants and time-limit targets are about the case.
            about_step = path[0] in ("start", "transitions")
            names = valid | STEP_NAMES if about_step else valid
            quote = self._quote_offset(path)
            try:
                expr = compiled(source)
            except ExpressionSyntaxError as exc:
                self.error(
                    path,
                    exc.code,
                    f"expression {_clip(source)!r}: {exc}",
                    offset=quote + (exc.offset or 0),
                )
                continue
            for name in sorted(expr.names - names):
                if name in STEP_NAMES:
                    what = "an invariant" if path[0] == "invariants" else "a time-limit target"
                    self.error(
                        path,
                        "step-name-outside-guard",
                        f"{name!r} describes the step being taken, which {what} cannot read "
                        f"(it is about the case); only `when` and `authority` read it",
                        offset=quote + expr.positions.get(name, 0),
                    )
                    continue
                self.error(
                    path,
                    "unknown-name",
                    f"unknown name {name!r} in expression {_clip(source)!r}"
                    + did_you_mean(name, names),
                    offset=quote + expr.positions.get(name, 0),
                )
            self.table_columns(path, source, quote)
            # A part that reads no field gives the same answer on every case: if it fails
            # (a bound exceeded, text compared with a number), every evaluation will.
            for offset, problem in expr.constant_failures():
                self.error(
                    path,
                    "expression-fails",
                    f"expression {_clip(source)!r}: {problem}; this part reads no field, so it "
                    "fails on every case",
                    offset=quote + offset,
                )

    def table_columns(self, path: Path, source: str, quote: int) -> None:
        """`items|sum(attribute='amout')`: a column the table does not have, at its column.

        The expression compiles (the grammar does not know the field's columns); every
        evaluation would fail with "an item has no 'amout'", so it is an error here.
        """
        for match in _ATTRIBUTE_OF.finditer(source):
            spec = self.proc.fields.get(match["field"])
            if spec is None or spec.columns is None:
                continue
            column = spec.columns.get(match["column"])
            if column is not None:
                if match["filter"] == "sum" and column.type not in ("integer", "decimal"):
                    self.error(
                        path,
                        "column-not-a-number",
                        f"`sum` adds numbers, and column {match['column']!r} of table "
                        f"{match['field']!r} holds {column.type} values: the sum would fail "
                        "on every row; sum an `integer` or `decimal` column, or count rows "
                        "with `length`",
                        offset=quote + match.start("column"),
                    )
                continue
            self.error(
                path,
                "unknown-column",
                f"table {match['field']!r} has no column {match['column']!r} (its columns: "
                f"{', '.join(spec.columns)})" + did_you_mean(match["column"], spec.columns),
                offset=quote + match.start("column"),
            )

    def _quote_offset(self, path: Path) -> int:
        line, column = self.smap.position(path)
        text = self.smap.line_text(line)
        return 1 if 0 < column <= len(text) and text[column - 1] in "'\"" else 0

    # -- the graph ----------------------------------------------------------------------

    def graph(self) -> None:
        p = self.proc
        edges: dict[str, set[str]] = {s: set() for s in p.states}
        for trigger, branches in p.transitions.items():
            for i, branch in enumerate(branches):
                for j, src in enumerate(branch.source):
                    if src in p.states and p.states[src].final:
                        self.error(
                            ("transitions", trigger, i, "from", j),
                            "final-has-exit",
                            f"{trigger!r} leaves final state {src!r}; final states absorb",
                        )
                    if src in edges:
                        # A target with a typo still counts as a way out: the typo is
                        # reported once, as unknown-state, not again as a dead end.
                        edges[src].add(branch.to)
        if not any(s.final for s in p.states.values()):
            self.error(
                ("states",),
                "no-final-state",
                "no state is final: cases could never close",
                key=True,
            )
        reach: set[str] = set()
        todo = [p.start.to] if p.start.to in p.states else []
        while todo:
            s = todo.pop()
            if s not in reach:
                reach.add(s)
                todo.extend(d for d in edges[s] if d in edges)
        for name, state in p.states.items():
            if name not in reach:
                self.error(
                    ("states", name),
                    "unreachable-state",
                    f"state {name!r} cannot be reached from the start",
                    key=True,
                )
            elif not state.final and not edges[name]:
                self.error(
                    ("states", name),
                    "dead-end",
                    f"state {name!r} is not final and no transition leaves it",
                    key=True,
                )
        finals = {n for n, s in p.states.items() if s.final}
        # Unknown targets were reported already; they must not also make states look stuck.
        closing = set(finals) | {d for dests in edges.values() for d in dests if d not in edges}
        changed = True
        while changed:
            changed = False
            for src, dests in edges.items():
                if src not in closing and dests & closing:
                    closing.add(src)
                    changed = True
        for name in p.states:
            if name in reach and edges[name] and name not in closing:
                self.error(
                    ("states", name),
                    "no-way-to-final",
                    f"no final state can be reached from {name!r}",
                    key=True,
                )

    # -- ambiguity ----------------------------------------------------------------------

    def ambiguity(self) -> None:
        budget = _Budget(AMBIGUITY_BUDGET, AMBIGUITY_PAIRS)
        for trigger, branches in self.proc.transitions.items():
            by_source: dict[str, list[int]] = {}
            for i, branch in enumerate(branches):
                for src in branch.source:
                    by_source.setdefault(src, []).append(i)
            for src, idx in by_source.items():
                for a, b in itertools.combinations(idx, 2):
                    first, second = branches[a], branches[b]
                    if first.when is None:
                        self.warn(
                            ("transitions", trigger, b),
                            "shadowed-branch",
                            f"branch {b + 1} of {trigger!r} from {src!r} is never taken: branch {a + 1} has no `when`",
                        )
                        continue
                    if second.when is None:
                        continue  # the usual "otherwise" branch
                    witness = self._overlap(first.when, second.when, budget)
                    if budget.spent:
                        self.warn(
                            ("transitions", trigger),
                            "ambiguity-search-cut",
                            f"the search for overlapping guards stopped at branches {a + 1} "
                            f"and {b + 1} of {trigger!r} from {src!r}: the procedure has too "
                            "many guarded branches to compare them all; the pairs after "
                            "these were not compared",
                            key=True,
                        )
                        return
                    if witness is not None:
                        shown = ", ".join(f"{k}={v!r}" for k, v in sorted(witness.items()))
                        self.warn(
                            ("transitions", trigger, b, "when"),
                            "ambiguous-transition",
                            f"guards of branches {a + 1} and {b + 1} of {trigger!r} from {src!r} can both hold (e.g. {shown}); the first wins",
                        )

    def _overlap(self, left: str, right: str, budget: _Budget) -> dict[str, Any] | None:
        """A small assignment of the fields that satisfies both guards, if one is found.

        Every combination tried is taken from ``budget``; when it runs out (or this is
        one pair too many) the search returns None and ``budget.spent`` is set.
        """
        if not budget.take_pair():
            return None
        try:
            a, b = compiled(left), compiled(right)
        except ExpressionSyntaxError:
            return None
        names = sorted(a.names | b.names)
        consts: dict[str, set[Any]] = {}
        for src in (left, right):
            for k, v in constants(src).items():
                consts.setdefault(k, set()).update(v)
        domains: list[list[Any]] = []
        for name in names:
            spec = self.proc.fields.get(name)
            if spec is None:
                domains.append([self.proc.start.to] if name == "state" else [0])
            else:
                domains.append(_domain(spec, consts.get(name, set())))
        total = 1
        for d in domains:
            total *= len(d)
        if total > _MAX_DOMAIN:
            return None
        cost = 1 + (len(left) + len(right)) // AMBIGUITY_UNIT_CHARS
        for combo in itertools.product(*domains):
            if not budget.take(cost):
                return None
            scope = dict(zip(names, combo, strict=True))
            try:
                if a.holds(scope) and b.holds(scope):
                    return scope
            except EvaluationError:
                continue
        return None

    # -- time limits --------------------------------------------------------------------

    def time_limits(self) -> None:
        p = self.proc
        states, triggers, roles = set(p.states), set(p.transitions), set(p.roles)
        for name, limit in p.time_limits.items():
            base: Path = ("time_limits", name)
            if name in p.transitions or name == "start":
                # Events of a limit carry its name as their trigger; a clash would make
                # the audit log ambiguous.
                self.error(
                    base,
                    "name-clash",
                    f"time limit {name!r} has the name of a trigger; rename one of them (e.g. {name}_in_time)",
                    key=True,
                )
            # The clauses' shape was checked by the model; here, what their names mean.
            for clause, spec in (("starts", limit.starts), ("stops", limit.stops)):
                for kind, names in spec.written():
                    valid = triggers | {"start"} if kind == "event" else states
                    what = "trigger" if kind == "event" else "state"
                    for at, item in _each((*base, clause, kind), names):
                        self.ref(at, what, item, valid)
            for pause, paused in limit.pauses.written():
                for at, item in _each((*base, "pauses", pause), paused):
                    self.ref(at, "state", item, states)
            if not limit.within:
                self.error(
                    (*base, "within"),
                    "missing-key",
                    "a time limit needs at least one target in `within`",
                )
            for i, target in enumerate(limit.within):
                if target.until is not None:
                    at = (*base, "within", i, "until")
                    try:
                        until = parse_until(target.until)
                    except ValueError as exc:
                        self.error(at, "bad-until", str(exc))
                        continue
                    field = p.fields.get(until.field)
                    if field is None:
                        self.ref(at, "field", until.field, set(p.fields))
                    elif field.type not in ("date", "datetime"):
                        why = "" if until.offset is None else ": an offset moves a date or a time"
                        self.error(
                            at,
                            "until-not-a-date",
                            f"`until: {target.until}` needs a date or datetime field, not "
                            f"{field.type!r}{why}",
                        )
                    continue
                try:
                    parse_duration(target.limit or "")
                except ValueError as exc:
                    self.error((*base, "within", i, "limit"), "bad-duration", str(exc))
            for i, pct in enumerate(limit.warn_at):
                try:
                    Percent.parse(pct)
                except ValueError as exc:
                    self.error((*base, "warn_at", i), "bad-percentage", str(exc))
            for j, role in enumerate(limit.warn_notify):
                self.ref((*base, "warn_notify", j), "role", role, roles)
            for i, action in enumerate(limit.on_breach):
                path = (*base, "on_breach", i)
                if action.notify is not None:
                    self.ref((*path, "notify"), "role", action.notify, roles)
                if action.fire is not None:
                    self.ref((*path, "fire"), "trigger", action.fire, triggers)
                if action.after is not None:
                    try:
                        parse_duration(action.after)
                    except ValueError as exc:
                        self.error((*path, "after"), "bad-duration", str(exc))

    # -- advice -------------------------------------------------------------------------

    def translations(self) -> None:
        """Titles missing in a language that other titles of the procedure have."""
        used: set[str] = set(self.proc.title)
        titled: list[tuple[Path, Mapping[Any, str]]] = [(("title",), self.proc.title)]
        for group in ("roles", "fields", "states"):
            for name, item in getattr(self.proc, group).items():
                titled.append(((group, name, "title"), item.title))
                used |= set(item.title)
        for path, title in titled:
            missing = [lang for lang in LANGUAGES if lang in used and lang not in title]
            if missing:
                self.warn(
                    path,
                    "missing-translation",
                    f"{'.'.join(map(str, path))} has no {', '.join(missing)} title, which other titles have",
                )

    # -- properties ----------------------------------------------------------------------

    def properties(self) -> None:
        """What each property's happenings name exists; property names are distinct."""
        p = self.proc
        forms = {
            e.record
            for b in [p.start, *(x for bs in p.transitions.values() for x in bs)]
            for e in b.effects
            if e.record is not None
        }
        valid = {
            "notify": set(p.roles),
            "record": forms,
            "breached": set(p.time_limits),
        }
        bare = set(p.transitions) | set(p.states)
        seen: set[str] = set()
        for i, prop in enumerate(p.properties):
            if prop.name in seen:
                self.error(
                    ("properties", i, "name"),
                    "duplicate-property",
                    f"property {prop.name!r} is named twice; give each its own name",
                )
            seen.add(prop.name)
            keys: list[tuple[Path, str]] = []
            pair = None
            if prop.precedes is not None:
                pair = ("precedes", prop.precedes.first, prop.precedes.then)
            elif prop.responds is not None:
                pair = ("responds", prop.responds.to, prop.responds.with_)
            if pair is not None and happening_parts(pair[1]) == happening_parts(pair[2]):
                self.warn(
                    ("properties", i, pair[0]),
                    "vacuous-property",
                    f"property {prop.name!r} names {pair[1]!r} on both sides: it holds of every "
                    "life and checks nothing; name two different happenings",
                )
            if prop.precedes is not None:
                keys += [(("precedes", "first"), prop.precedes.first)]
                keys += [(("precedes", "then"), prop.precedes.then)]
            if prop.responds is not None:
                keys += [(("responds", "to"), prop.responds.to)]
                keys += [(("responds", "with"), prop.responds.with_)]
            for sub, text in keys:
                prefix, name = happening_parts(text)
                choices = valid[prefix] if prefix else bare
                if name in choices:
                    continue
                what = HAPPENING_PREFIXES[prefix] if prefix else "trigger or state"
                hint = did_you_mean(name, choices)
                if not hint and not prefix:
                    hint = "; write a trigger, a state, or notify:ROLE, record:FORM, breached:LIMIT"
                self.error(
                    ("properties", i, *sub),
                    "unknown-happening",
                    f"property {prop.name!r}: {text!r} names no {what} of this procedure{hint}",
                )


def _each(path: Path, value: str | list[str]) -> Iterator[tuple[Path, str]]:
    """Each name of a clause with its path: the key itself for one name, else each item."""
    if isinstance(value, str):
        yield path, value
    else:
        for j, item in enumerate(value):
            yield (*path, j), item


def check_procedure(proc: Procedure, smap: SourceMap) -> list[Diagnostic]:
    """Every static problem of ``proc``; positions come from ``smap``."""
    checker = _Checker(proc, smap)
    checker.references()
    checker.expressions()
    checker.graph()
    checker.time_limits()
    checker.out.extend(check_schedules(proc, smap))
    checker.properties()
    if not any(d.severity == "error" for d in checker.out):
        checker.ambiguity()
    checker.translations()
    checker.out.extend(check_measures(proc, smap))
    return checker.out
