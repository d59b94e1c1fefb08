"""Linked cases: a step that opens a case of another procedure, and the child's closing.

A branch's ``opens`` (:class:`servflow.model.Link`) asks for a child case. The engine
stays pure: the step's event records the child's id (``detail["opens"]``), derived from
the parent's id, the event's ``seq`` and the link's index (:func:`child_id`), and the step
returns an ``open`` effect with everything the desk needs to open the child in the same
transaction (the procedure, the role it is opened as, its start data mapped from the
parent's fields, and the parent to tell when it closes). The child's opening event
records its parent (``detail["parent"]``) and the child case keeps it
(:class:`~servflow.engine.case.CaseParent`), so each log replays on its own.

When a child case with a parent trigger enters a final state, that step returns a
``resume`` effect: the parent's id, the trigger and its data (the child's named fields
and its final state). The desk fires it on the parent, exactly once (see
:mod:`servflow.desk`).

:func:`link_problems` is the cross-procedure check of links, which the loader's catalogue
check and the engine's construction both apply.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from servflow._hints import did_you_mean
from servflow.bounds import ID_LENGTH
from servflow.engine.case import Case, CaseParent, Effect, Event, _effect
from servflow.model import Branch, FieldSpec, Link, Procedure

if TYPE_CHECKING:
    from servflow.engine.compiled import CompiledBranch, CompiledProcedure

__all__ = [
    "OPENS",
    "PARENT",
    "child_id",
    "closing_effects",
    "link_problems",
    "opened_ids",
    "opening_effects",
    "parent_of",
]

#: The event detail key listing the ids of the cases a step opened.
OPENS = "opens"
#: The opening event's detail key naming the parent case, trigger and returns.
PARENT = "parent"

#: The name in `returns` that stands for the child's final state.
STATE = "state"


def child_id(parent_id: str, seq: int, index: int) -> str:
    """The id of the case the ``index``-th link of the step ``seq`` of a case opens.

    ``<parent id>-<seq>-<index>`` while that fits a case id; else the parent id's first
    characters and a digest of the whole (still the same for the same parent and step).
    """
    plain = f"{parent_id}-{seq}-{index}"
    if len(plain) <= ID_LENGTH:
        return plain
    digest = hashlib.sha256(plain.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{parent_id[: ID_LENGTH - 1 - len(digest)]}-{digest}"


def opened_ids(case_id: str, seq: int, links: tuple[Link, ...] | list[Link]) -> list[str]:
    """The ids of the cases a step (``seq``) of ``case_id`` opens with ``links``."""
    return [child_id(case_id, seq, i) for i in range(len(links))]


def parent_of(raw: object) -> CaseParent:
    """The parent recorded in an opening event (``ValueError`` if it is not one)."""
    if isinstance(raw, CaseParent):
        return raw
    if not isinstance(raw, Mapping):
        raise ValueError(f"a parent is a mapping, not {type(raw).__name__}")
    try:
        return CaseParent.model_validate(dict(raw))
    except Exception:
        raise ValueError("the recorded parent does not validate") from None


def opening_effects(branch: CompiledBranch, event: Event, case: Case) -> tuple[Effect, ...]:
    """The ``open`` effects of a step that took ``branch``; ``case`` is the case after it."""
    links = _links(branch)
    if not links:
        return ()
    out: list[Effect] = []
    for i, link in enumerate(links):
        parent: dict[str, Any] = {"case": case.id}
        if link.resume is not None:
            parent["trigger"] = link.resume
            parent["returns"] = dict(link.returns)
        data = {
            child: case.data.get(source)
            for child, source in link.data.items()
            if case.data.get(source) is not None
        }
        out.append(
            _effect(
                "open",
                case.id,
                event.at,
                event.trigger,
                child_id(case.id, event.seq, i),
                detail={
                    "procedure": link.procedure,
                    "role": link.role,
                    "actor": event.actor,
                    "data": data,
                    PARENT: parent,
                },
            )
        )
    return tuple(out)


def closing_effects(cp: CompiledProcedure, before: Case, after: Case) -> tuple[Effect, ...]:
    """The ``resume`` effect of a linked case's closing step, if it tells its parent."""
    parent = after.parent
    if (
        parent is None
        or parent.trigger is None
        or after.state not in cp.finals
        or before.state in cp.finals
    ):
        return ()
    data = {
        field: after.state if source == STATE else after.data.get(source)
        for field, source in parent.returns.items()
    }
    return (
        _effect(
            "resume",
            after.id,
            after.updated_at,
            parent.trigger,
            parent.case,
            detail={"trigger": parent.trigger, "data": data, "state": after.state},
        ),
    )


def _links(branch: CompiledBranch) -> list[Link]:
    return branch.spec.opens if isinstance(branch.spec, Branch) else []


# -- the cross-procedure check -----------------------------------------------------------

#: A problem: where (a path in the procedure), its code, its message, and whether it is
#: the key at that path that is wrong (else its value).
Problem = tuple[tuple[str | int, ...], str, str, bool]


def link_problems(proc: Procedure, procedures: Mapping[str, Procedure]) -> list[Problem]:
    """Every problem of ``proc``'s links, against ``procedures`` (the latest of each id).

    A link to a procedure that is not there (``unknown-procedure``); a role that may not
    open the child (``link-role``); a child field that does not exist
    (``link-unknown-field``) or a value of another type (``link-type-mismatch``), in
    `data` and `returns`; a `resume` trigger that does not leave the state the step
    enters (``resume-not-waiting``) or does not accept a field `returns` sets
    (``resume-not-accepted``); a field of ``proc`` itself that does not exist
    (``unknown-field``, as everywhere in a procedure).
    """
    found: list[Problem] = []
    for trigger, branches in proc.transitions.items():
        for b, branch in enumerate(branches):
            for i, link in enumerate(branch.opens):
                at: tuple[str | int, ...] = ("transitions", trigger, b, "opens", i)
                found.extend(_link_problems(proc, branch.to, link, at, procedures))
    return found


def _link_problems(
    proc: Procedure,
    waiting: str,
    link: Link,
    at: tuple[str | int, ...],
    procedures: Mapping[str, Procedure],
) -> Iterator[Problem]:
    for name, source in link.data.items():
        if source not in proc.fields:
            yield (
                (*at, "data", name),
                "unknown-field",
                f"unknown field {source!r}" + did_you_mean(source, proc.fields),
                False,
            )
    for name in link.returns:
        if name not in proc.fields:
            yield (
                (*at, "returns", name),
                "unknown-field",
                f"unknown field {name!r}" + did_you_mean(name, proc.fields),
                True,
            )
    child = procedures.get(link.procedure)
    if child is None:
        yield (
            (*at, "procedure"),
            "unknown-procedure",
            f"no procedure {link.procedure!r} in the catalogue"
            + did_you_mean(link.procedure, procedures),
            False,
        )
    else:
        if link.role not in child.start.roles:
            yield (
                (*at, "role"),
                "link-role",
                f"{link.procedure} is opened by {', '.join(child.start.roles)}, not "
                f"{link.role!r}" + did_you_mean(link.role, child.start.roles),
                False,
            )
        for name, source in link.data.items():
            spec, given = child.fields.get(name), proc.fields.get(source)
            if spec is None:
                yield (
                    (*at, "data", name),
                    "link-unknown-field",
                    f"{link.procedure} has no field {name!r}" + did_you_mean(name, child.fields),
                    True,
                )
            elif given is not None and not _fits(given, spec):
                yield (
                    (*at, "data", name),
                    "link-type-mismatch",
                    f"{link.procedure}'s field {name!r} is {_kind(spec)}; "
                    f"{proc.id}'s {source!r} is {_kind(given)}",
                    False,
                )
        for name, source in link.returns.items():
            target = proc.fields.get(name)
            if source == STATE:
                finals = [s for s, st in child.states.items() if st.final]
                if target is not None and not _holds_states(target, finals):
                    yield (
                        (*at, "returns", name),
                        "link-type-mismatch",
                        f"{proc.id}'s field {name!r} is {_kind(target)}; it cannot hold "
                        f"{link.procedure}'s final states ({', '.join(finals)})",
                        False,
                    )
                continue
            spec = child.fields.get(source)
            if spec is None:
                yield (
                    (*at, "returns", name),
                    "link-unknown-field",
                    f"{link.procedure} has no field {source!r}"
                    + did_you_mean(source, [*child.fields, STATE]),
                    False,
                )
            elif target is not None and not _fits(spec, target):
                yield (
                    (*at, "returns", name),
                    "link-type-mismatch",
                    f"{proc.id}'s field {name!r} is {_kind(target)}; "
                    f"{link.procedure}'s {source!r} is {_kind(spec)}",
                    False,
                )
    if link.resume is not None:
        leaves = [b for b in proc.transitions.get(link.resume, ()) if waiting in b.source]
        if not leaves:
            known = link.resume in proc.transitions
            yield (
                (*at, "resume"),
                "resume-not-waiting",
                (
                    f"{link.resume!r} does not leave {waiting!r}, the state this step enters "
                    "and the case waits in"
                    if known
                    else f"unknown trigger {link.resume!r}"
                    + did_you_mean(link.resume, proc.transitions)
                ),
                False,
            )
        for name in link.returns:
            refusing = [b for b in leaves if b.accepts is not None and name not in b.accepts]
            if name in proc.fields and refusing:
                yield (
                    (*at, "returns", name),
                    "resume-not-accepted",
                    f"{link.resume!r} does not accept field {name!r}, which `returns` sets; "
                    f"add it to the `accepts` of {link.resume!r}",
                    True,
                )


_TEXT = ("string", "text")


def _fits(value: FieldSpec, into: FieldSpec) -> bool:
    """Whether every value of a field ``value`` is a value of type ``into``'s type."""
    if into.type in _TEXT:
        return value.type in (*_TEXT, "choice")
    if into.type == "choice":
        return value.type == "choice" and set(value.choices or ()) <= set(into.choices or ())
    return value.type == into.type


def _holds_states(field: FieldSpec, finals: list[str]) -> bool:
    if field.type in _TEXT:
        return True
    return field.type == "choice" and set(finals) <= set(field.choices or ())


def _kind(spec: FieldSpec) -> str:
    if spec.type == "choice":
        return f"a choice of {', '.join(spec.choices or ())}"
    article = "an" if spec.type[0] in "aeiou" else "a"
    return f"{article} {spec.type}"
