"""The errors servflow raises, grouped by who caused them.

Every error derives from :class:`ServflowError`. A :class:`DefinitionError` is the
analyst's (a procedure or calendar file is wrong); a :class:`Rejected` is the caller's
(an event that is not allowed now, with a stable reason code); an :class:`EvaluationError`
is a guard or expression that failed while running. Errors carry structured attributes,
not only a message, and after any of them nothing has changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "CalendarError",
    "DefinitionError",
    "Diagnostic",
    "EvaluationError",
    "IntegrityError",
    "Rejected",
    "RejectionReason",
    "ReplayError",
    "ServflowError",
]

Severity = Literal["error", "warning"]

RejectionReason = Literal[
    "unknown_trigger",
    "not_in_state",
    "forbidden",
    "beyond_authority",
    "guard_failed",
    "invalid_data",
    "stale_version",
    "final_state",
]


class ServflowError(Exception):
    """Base class of every error servflow raises on purpose."""


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem found in a definition file, at a position an editor can jump to.

    ``line`` and ``column`` are 1-based; 0 means the position is unknown.
    """

    file: str
    line: int
    column: int
    severity: Severity
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity} {self.code} {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
        }


class DefinitionError(ServflowError):
    """A procedure or calendar definition is invalid; ``diagnostics`` lists every problem."""

    def __init__(self, diagnostics: list[Diagnostic] | tuple[Diagnostic, ...]) -> None:
        self.diagnostics: tuple[Diagnostic, ...] = tuple(sorted(diagnostics))
        errors = [d for d in self.diagnostics if d.severity == "error"]
        shown = errors or list(self.diagnostics)
        lines = [str(d) for d in shown[:20]]
        if len(shown) > 20:
            lines.append(f"... and {len(shown) - 20} more")
        super().__init__("\n".join(lines) if lines else "invalid definition")

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "error")

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "warning")


class Rejected(ServflowError):
    """An event was refused. ``reason`` is a stable code; ``details`` says why.

    ``details`` may name a ``field``, a ``role``, an ``expression``, the ``state`` the
    case is in, and so on. Values of fields marked ``pii`` never appear in it.
    """

    def __init__(self, reason: RejectionReason, message: str, **details: Any) -> None:
        self.reason: RejectionReason = reason
        self.details: dict[str, Any] = details
        super().__init__(f"{reason}: {message}")
        self.message = message
        #: The analyst's words for the condition that failed (a branch's or invariant's
        #: ``message``), per language as the procedure writes them; empty when none.
        self.messages: dict[str, str] = {}

    def message_in(self, lang: str) -> str:
        """The analyst's message in ``lang`` (or the nearest language written), else
        ``message``: what a host shows a person, in the language it chose."""
        for candidate in (lang, *_MESSAGE_FALLBACK.get(lang, ()), *_MESSAGE_LANGUAGES):
            text = self.messages.get(candidate)
            if text:
                return text
        return self.message

    def worded(self, messages: Mapping[Any, str], english: str) -> Rejected:
        """This rejection in the analyst's words: ``messages`` kept, and ``message``
        set to ``english``, the engine's own language (the expression stays in
        ``details``)."""
        self.messages = dict(messages)
        self.message = english
        self.args = (f"{self.reason}: {english}",)
        return self


# The languages of a procedure's texts, and which to try when one is missing: Chinese
# in the other script before English (as the SOP and the diagrams fall back).
_MESSAGE_LANGUAGES = ("en", "zh-Hant", "zh-Hans")
_MESSAGE_FALLBACK = {"zh-Hant": ("zh-Hans",), "zh-Hans": ("zh-Hant",)}


class EvaluationError(ServflowError):
    """An expression failed while it was evaluated (a type error in a guard, say)."""

    def __init__(self, expression: str, message: str) -> None:
        self.expression = expression
        # What failed, in words that never repeat a value (the expression is the analyst's).
        self.problem = message
        super().__init__(f"{message} in expression {expression!r}")


class CalendarError(ServflowError):
    """A time computation cannot be answered exactly (beyond a calendar's published dates)."""

    def __init__(self, calendar: str, message: str) -> None:
        self.calendar = calendar
        super().__init__(f"calendar {calendar!r}: {message}")


class IntegrityError(ServflowError):
    """A case or an audit log is not one the engine could have produced.

    Raised for a stored case that was tampered with or truncated (a state the procedure
    does not have, a value of the wrong type, timers that contradict each other) before
    anything is computed from it. ``case_id`` names the case when it is known and
    ``problem`` says what is inconsistent, in words (never a value of a ``pii`` field).
    """

    def __init__(self, problem: str, *, case_id: str | None = None) -> None:
        self.problem = problem
        self.case_id = case_id
        where = f"case {case_id!r}: " if case_id else ""
        super().__init__(f"{where}{problem}")


class ReplayError(IntegrityError):
    """An audit log does not replay: ``seq`` is the first event that the procedure refutes."""

    def __init__(self, problem: str, *, seq: int | None, case_id: str | None = None) -> None:
        self.seq = seq
        at = f"event {seq}: " if seq is not None else ""
        super().__init__(f"{at}{problem}", case_id=case_id)
        self.problem = problem
