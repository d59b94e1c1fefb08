"""Questions a host asks its store: "my queue", "everything overdue", "opened last month".

A :class:`CaseQuery` is a conjunction of filters on the columns every store keeps beside
the case's JSON: the procedure, the state, the escalation level, the earliest deadline of a
running time limit, the moment the case was opened, and the value of an *assignee field*
(a field that names the person a case is assigned to, such as ``technician`` or
``callback_officer``). ``store.find(query, limit=..., after=...)`` answers it one
:class:`Page` at a time, in a fixed order, with keyset pagination: the page's ``next``
token resumes exactly after the page's last case, however many cases were saved in
between, and never skips or repeats one that did not move.

Assignee fields are named when a store is made (``SqlStore(..., assignee_fields=...)``):
only those are copied into a column and indexed, so that personal data in other fields
never leaves the case's JSON. Asking for a field the store does not index is a
``ValueError``, on every adapter alike.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from servflow.bounds import ID_LENGTH, id_problem, text_problem
from servflow.engine import Case
from servflow.engine.integrity import check_time

__all__ = [
    "MAX_PAGE",
    "CaseQuery",
    "Order",
    "Page",
    "assignee_values",
    "check_assignee_fields",
    "check_assignee_query",
    "check_page",
    "deadline_of",
    "decode_after",
    "encode_after",
    "sort_key",
    "utc_text",
]

MAX_PAGE = 1_000
"""The most cases one page holds; a larger ``limit`` is refused."""

Order = Literal["opened", "due", "next_due"]
"""``opened``: oldest first (``opened_at``, then id). ``due``: the earliest deadline of a
running time limit first (cases with none are left out of a ``due`` query). ``next_due``:
the earliest moment ``advance`` would change the case first (``case.next_due``; cases with
none are left out): how far behind the workers are."""

_FAR = "9999-12-31T23:59:59.999999Z"


def utc_text(moment: datetime) -> str:
    """``moment`` as fixed-width ISO 8601 UTC text: text order is time order."""
    if moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: pass a timezone-aware datetime")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _names(value: str | Iterable[str] | None, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = (value,) if isinstance(value, str) else tuple(value)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{what} must be text, not {type(item).__name__}")
        problem = text_problem(item)
        if problem is not None or not item or len(item) > 200:
            raise ValueError(f"{what} must be a name of 1 to 200 characters")
    if not items:
        raise ValueError(f"{what} must name at least one value (leave it out to ask for all)")
    return tuple(sorted(set(items)))


@dataclass(frozen=True, kw_only=True)
class CaseQuery:
    """Which cases to find; every filter left at ``None`` matches every case.

    ``states`` takes one state or several (any of them). ``min_escalation`` keeps cases
    escalated to at least that level. ``assignee`` is ``(field, value)``: cases whose
    field holds that value (the field must be one the store indexes). ``due_before`` keeps
    cases with a running time limit due before that moment (overdue cases, with
    ``due_before=now``). ``opened_from`` (inclusive) and ``opened_before`` (exclusive)
    bound when the case was opened. ``order`` is ``"opened"``, ``"due"`` or ``"next_due"``.
    """

    procedure: str | None = None
    states: str | Collection[str] | None = None
    min_escalation: int | None = None
    assignee: tuple[str, str] | None = None
    due_before: datetime | None = None
    opened_from: datetime | None = None
    opened_before: datetime | None = None
    order: Order = "opened"

    def __post_init__(self) -> None:
        if self.procedure is not None:
            (procedure,) = _names(self.procedure, "`procedure`") or ("",)
            object.__setattr__(self, "procedure", procedure)
        object.__setattr__(self, "states", _names(self.states, "`states`"))
        if self.min_escalation is not None and (
            isinstance(self.min_escalation, bool) or not isinstance(self.min_escalation, int)
        ):
            raise TypeError(
                f"`min_escalation` must be an int, not {type(self.min_escalation).__name__}"
            )
        if self.min_escalation is not None and self.min_escalation < 0:
            raise ValueError("`min_escalation` must be 0 or more")
        if self.assignee is not None:
            if not isinstance(self.assignee, tuple) or len(self.assignee) != 2:
                raise TypeError("`assignee` must be a (field, value) pair")
            name, value = self.assignee
            _names(name, "the assignee field")
            if not isinstance(value, str):
                raise TypeError(f"the assignee value must be text, not {type(value).__name__}")
            if text_problem(value) is not None or len(value) > ID_LENGTH:
                raise ValueError(
                    f"the assignee value must be text of at most {ID_LENGTH} characters"
                )
        for label in ("due_before", "opened_from", "opened_before"):
            moment = getattr(self, label)
            if moment is not None:
                try:
                    check_time(moment)
                except (TypeError, ValueError) as exc:
                    raise type(exc)(f"`{label}`: {exc}") from None
        if self.order not in ("opened", "due", "next_due"):
            raise ValueError(f"`order` must be 'opened', 'due' or 'next_due', not {self.order!r}")

    def matches(self, case: Case, assignees: dict[str, str]) -> bool:
        """Whether ``case`` (with its indexed ``assignees``) answers the query."""
        if self.procedure is not None and case.procedure != self.procedure:
            return False
        if self.states is not None and case.state not in self.states:
            return False
        if self.min_escalation is not None and case.escalation_level < self.min_escalation:
            return False
        if self.assignee is not None and assignees.get(self.assignee[0]) != self.assignee[1]:
            return False
        deadline = deadline_of(case)
        if self.due_before is not None and (deadline is None or deadline >= self.due_before):
            return False
        if self.order == "due" and deadline is None:
            return False
        if self.order == "next_due" and case.next_due is None:
            return False
        if self.opened_from is not None and case.opened_at < self.opened_from:
            return False
        return not (self.opened_before is not None and case.opened_at >= self.opened_before)


@dataclass(frozen=True)
class Page:
    """One page of answers, in the query's order; ``next`` resumes after it (None: the end)."""

    cases: list[Case]
    next: str | None


def deadline_of(case: Case) -> datetime | None:
    """The earliest due time of the case's running time limits, or None."""
    due = [t.due_at for t in case.timers.values() if t.status == "running" and t.due_at]
    return min(due, key=lambda moment: moment.astimezone(UTC)) if due else None


def sort_key(case: Case, order: Order) -> tuple[str, str]:
    """The (time text, id) pair pages are ordered and resumed by."""
    if order == "due":
        deadline = deadline_of(case)
        return (utc_text(deadline) if deadline is not None else _FAR, case.id)
    if order == "next_due":
        return (utc_text(case.next_due) if case.next_due is not None else _FAR, case.id)
    return (utc_text(case.opened_at), case.id)


def check_assignee_fields(names: Iterable[str]) -> tuple[str, ...]:
    """The checked, de-duplicated, sorted names a store indexes as assignee fields."""
    if isinstance(names, str):
        raise TypeError("`assignee_fields` must be a collection of field names, not one string")
    given = tuple(names)
    return _names(given, "an assignee field") or () if given else ()


def check_assignee_query(query: CaseQuery, indexed: tuple[str, ...]) -> None:
    """Refuse a query on an assignee field the store does not index."""
    if query.assignee is not None and query.assignee[0] not in indexed:
        known = ", ".join(indexed) or "none"
        raise ValueError(
            f"the store does not index the assignee field {query.assignee[0]!r} "
            f"(it indexes: {known}); name it in the store's `assignee_fields`"
        )


def assignee_values(case: Case, names: tuple[str, ...]) -> dict[str, str]:
    """The indexed fields of ``case`` that hold text an index can keep."""
    found: dict[str, str] = {}
    for name in names:
        value = case.data.get(name)
        if isinstance(value, str) and value and len(value) <= ID_LENGTH and not text_problem(value):
            found[name] = value
    return found


def encode_after(order: Order, key: tuple[str, str]) -> str:
    """The opaque ``next`` token of a page that ended at ``key``."""
    raw = json.dumps([order, key[0], key[1]], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_after(token: str, order: Order) -> tuple[str, str]:
    """The key a ``next`` token resumes after; ``ValueError`` for a token not made here."""
    if not isinstance(token, str):
        raise TypeError(f"`after` must be a token from Page.next, not {type(token).__name__}")
    problem = "`after` is not a token from Page.next"
    if len(token) > 4 * ID_LENGTH:
        raise ValueError(problem)
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        parsed = json.loads(raw.decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError(problem) from None
    if (
        not isinstance(parsed, list)
        or len(parsed) != 3
        or not all(isinstance(part, str) for part in parsed)
    ):
        raise ValueError(problem)
    made_for, moment, case_id = parsed
    if made_for != order:
        raise ValueError(f"`after` is a token of an {made_for!r} query, not of this {order!r} one")
    if len(moment) != len(_FAR) or id_problem(case_id) is not None or not _is_time_text(moment):
        raise ValueError(problem)
    return (moment, case_id)


def _is_time_text(text: str) -> bool:
    if text == _FAR:
        return True
    try:
        datetime.fromisoformat(text[:-1])
    except ValueError:
        return False
    return text.endswith("Z")


def check_page(limit: object) -> int:
    """The checked ``limit`` of a page: an int from 1 to :data:`MAX_PAGE`."""
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f"`limit` must be an int, not {type(limit).__name__}")
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"`limit` must be from 1 to {MAX_PAGE}, not {limit}")
    return limit
