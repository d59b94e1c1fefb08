"""The rules a step must pass, each raising :class:`Rejected` with its reason.

Applied by :func:`servflow.engine.step.decide`, the one place a step is decided, in the
order the docstring of :mod:`servflow.engine.core` gives (the data and role checks that
precede a decision are the callers'). Each function reads the compiled procedure and
the case's data and changes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from servflow._hints import did_you_mean
from servflow.engine.case import Actor, Case
from servflow.engine.compiled import CompiledBranch, CompiledProcedure, Step
from servflow.engine.values import CellValueError, FieldValueError, normalise
from servflow.errors import EvaluationError, Rejected

__all__ = [
    "authorise",
    "branches_from",
    "check_invariants",
    "check_requires",
    "choose_branch",
    "holds",
    "in_english",
    "joined",
    "validate_data",
]


def branches_from(cp: CompiledProcedure, case: Case, trigger: str) -> tuple[CompiledBranch, ...]:
    if case.state in cp.finals:
        raise Rejected(
            "final_state",
            f"case {case.id} is closed ({case.state})",
            state=case.state,
            trigger=trigger,
        )
    branches = cp.table.get((trigger, case.state))
    if branches is None:
        if trigger not in cp.procedure.transitions:
            raise Rejected(
                "unknown_trigger",
                f"procedure {cp.procedure.id!r} has no trigger {trigger!r}"
                + did_you_mean(trigger, cp.procedure.transitions),
                trigger=trigger,
            )
        raise Rejected(
            "not_in_state",
            f"{trigger!r} can only be taken from "
            + " or ".join(repr(s) for s in cp.sources.get(trigger, ()))
            + f"; the case is in {case.state!r}",
            trigger=trigger,
            state=case.state,
            allowed_from=list(cp.sources.get(trigger, ())),
        )
    return branches


def validate_data(
    cp: CompiledProcedure,
    branch: CompiledBranch,
    given: Mapping[str, Any],
    current: Mapping[str, Any],
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    fields = cp.fields
    for name, value in given.items():
        spec = fields.get(name)
        if spec is None:
            raise Rejected(
                "invalid_data",
                f"unknown field {name!r}" + did_you_mean(name, fields),
                field=name,
                trigger=branch.trigger,
            )
        if branch.accepts is not None and name not in branch.accepts:
            raise Rejected(
                "invalid_data",
                f"{branch.trigger!r} does not accept field {name!r}; it accepts {', '.join(sorted(branch.accepts)) or 'none'}",
                field=name,
                trigger=branch.trigger,
            )
        try:
            stored = normalise(spec, value)
        except CellValueError as exc:  # a row or cell of a table: say which, items[2].amount
            raise Rejected(
                "invalid_data",
                f"field {name!r}: {exc}",
                field=name,
                cell=exc.where(name),
                trigger=branch.trigger,
            ) from None
        except FieldValueError as problem:  # named apart: each `as` name has one type
            raise Rejected(
                "invalid_data", f"field {name!r}: {problem}", field=name, trigger=branch.trigger
            ) from None
        if stored != current.get(name):
            changes[name] = stored
    return changes


def choose_branch(
    cp: CompiledProcedure,
    branches: tuple[CompiledBranch, ...],
    data: Mapping[str, Any],
    state: str,
    trigger: str,
    level: int,
    step: Step | None = None,
    given: Collection[str] = (),
) -> CompiledBranch:
    failure: Rejected | None = None
    for branch in branches:
        if branch.guard is None:
            return branch
        try:
            seen = branch.fresh_view(data, given)  # a new round's fields are empty
            if holds(cp, branch.guard, seen, state, trigger, level, step):
                return branch
        except Rejected as exc:  # a guard that cannot be evaluated does not hold
            failure = failure or exc
    worded = [b.spec.message for b in branches if b.guard is not None and b.spec.message]
    if failure is not None and len(branches) == 1:
        if worded:
            messages = joined(worded)
            failure.worded(
                messages, f"{trigger!r}: {in_english(messages)} (the condition cannot be evaluated)"
            )
        raise failure
    guards = [s.guard.source for s in branches if s.guard is not None]
    refused = Rejected(
        "guard_failed",
        f"{trigger!r}: the condition {' / '.join(repr(g) for g in guards)} does not hold",
        trigger=trigger,
        expression=guards[0] if len(guards) == 1 else guards,
    )
    if worded:
        messages = joined(worded)
        refused.worded(messages, f"{trigger!r}: {in_english(messages)}")
    raise refused


def joined(messages: Sequence[Mapping[Any, str]]) -> dict[str, str]:
    """Several branches' messages as one per language (each filled in from its nearest
    language), joined by " / " as their expressions are."""
    languages = [lang for lang in _LANGUAGES if any(lang in m for m in messages)]
    return {lang: " / ".join(_nearest(m, lang) for m in messages) for lang in languages}


def in_english(messages: Mapping[Any, str]) -> str:
    """The message in English, the language of the engine's own messages, or the nearest."""
    return _nearest(messages, "en")


_LANGUAGES = ("zh-Hant", "zh-Hans", "en")
_NEAREST = {
    "zh-Hant": ("zh-Hant", "zh-Hans", "en"),
    "zh-Hans": ("zh-Hans", "zh-Hant", "en"),
    "en": ("en", "zh-Hant", "zh-Hans"),
}


def _nearest(message: Mapping[Any, str], lang: str) -> str:
    for candidate in _NEAREST[lang]:
        if message.get(candidate):
            return message[candidate]
    return ""


def holds(
    cp: CompiledProcedure,
    expr: Any,
    data: Mapping[str, Any],
    state: str,
    trigger: str,
    level: int,
    step: Step | None = None,
) -> bool:
    scope = cp.scope(expr.names, data, state, trigger, level, step)
    try:
        return bool(expr.evaluate(scope))
    except EvaluationError as exc:
        raise Rejected(
            "guard_failed",
            f"the condition {expr.source!r} cannot be evaluated: {exc.problem}",
            expression=expr.source,
            trigger=trigger,
        ) from None


def authorise(
    cp: CompiledProcedure,
    branches: Sequence[CompiledBranch],
    branch: CompiledBranch,
    actor: Actor,
    data: Mapping[str, Any],
    state: str,
    trigger: str,
    level: int,
    step: Step | None = None,
) -> str:
    held = actor.roles & branch.roles
    if not held:
        raise Rejected(
            "forbidden",
            f"{trigger!r} needs one of the roles {', '.join(branch.roles_by_rank)}",
            trigger=trigger,
            roles=list(branch.roles_by_rank),
            actor=actor.id,
        )
    if branch.spec.follows_escalation and cp.procedure.escalation:
        ladder = cp.procedure.escalation
        needed = cp.ranks[ladder[min(level, len(ladder) - 1)]]
        held = frozenset(r for r in held if cp.ranks.get(r, 0) >= needed)
        if not held:
            raise Rejected(
                "forbidden",
                f"the case is escalated to level {level} ({ladder[min(level, len(ladder) - 1)]}); "
                f"{trigger!r} now needs rank {needed} or above",
                trigger=trigger,
                roles=[r for r in branch.roles_by_rank if cp.ranks.get(r, 0) >= needed],
                actor=actor.id,
                escalation_level=level,
            )
    assignee = branch.spec.assignee
    if assignee is not None and data.get(assignee) != actor.id:
        # The field's value is never shown: it may be a pii field.
        raise Rejected(
            "forbidden",
            f"{trigger!r} is assigned to the person named in {assignee!r}"
            + ("" if data.get(assignee) is not None else ", which is empty")
            + "; the actor is not that person",
            trigger=trigger,
            field=assignee,
            actor=actor.id,
        )
    failed: list[str] = []
    for role in branch.roles_by_rank:
        if role not in held:
            continue
        limit = branch.authority.get(role)
        if limit is None or holds(cp, limit, data, state, trigger, level, step):
            return role
        failed.append(limit.source)
    could = [
        r
        for r in branch.roles_by_rank
        if r not in held
        and cp.ranks.get(r, 0) > max(cp.ranks.get(h, 0) for h in held)
        and (
            r not in branch.authority
            or holds(cp, branch.authority[r], data, state, trigger, level, step)
        )
    ]
    raise Rejected(
        "beyond_authority",
        f"{trigger!r} is beyond the authority of {', '.join(sorted(held))} ({'; '.join(failed)})"
        + (f"; {', '.join(could)} could decide" if could else ""),
        trigger=trigger,
        roles=sorted(held),
        expression=failed[0] if len(failed) == 1 else failed,
        could_decide=could,
    )


def check_requires(cp: CompiledProcedure, branch: CompiledBranch, data: Mapping[str, Any]) -> None:
    missing = [n for n in branch.requires if data.get(n) is None or data.get(n) == ""]
    if missing:
        raise Rejected(
            "invalid_data",
            f"{branch.trigger!r} requires {', '.join(missing)}",
            field=missing[0],
            missing=missing,
            trigger=branch.trigger,
        )


def check_invariants(
    cp: CompiledProcedure, data: Mapping[str, Any], state: str, trigger: str, level: int
) -> None:
    for index, (name, expr) in enumerate(cp.invariants):
        if not holds(cp, expr, data, state, trigger, level):
            exc = Rejected(
                "guard_failed",
                f"{trigger!r} would break the rule {name!r} ({expr.source})",
                trigger=trigger,
                invariant=name,
                expression=expr.source,
            )
            message = cp.procedure.invariants[index].message
            if message:
                exc.worded(
                    dict(message),
                    f"{trigger!r} would break the rule {name!r}: {in_english(message)}",
                )
            raise exc
