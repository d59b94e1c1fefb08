"""Advice that ``servflow check --strict`` adds: what a procedure ready to publish says.

The lint of :mod:`servflow.procedures.lint` warns of what is probably a slip; this module
warns of what a procedure that runs correctly still lacks before people work with it,
so only a strict check (the one a catalogue passes before it is published) asks for it:

``guard-without-message``
    in a procedure that gives its conditions messages, a branch's ``when`` or an invariant
    without one: a person it refuses is shown the expression (``satisfied == false``)
    instead of words, and the SOP prints it too. A procedure with no ``message`` at all is
    left alone, so that a catalogue adopts messages one file at a time: a procedure's
    content is pinned by the digest its stored cases name, so giving an existing one its
    messages takes a new version.
"""

from __future__ import annotations

from servflow.errors import Diagnostic
from servflow.model import Branch, Procedure, Start
from servflow.procedures.source import SourceMap

__all__ = ["STRICT_CODES", "strict_advice"]

STRICT_CODES = ("guard-without-message",)


def strict_advice(proc: Procedure, smap: SourceMap) -> list[Diagnostic]:
    """The warnings only ``--strict`` reports (see the module's docstring)."""
    out: list[Diagnostic] = []
    branches: list[tuple[tuple[str | int, ...], str, Start | Branch]] = [
        (("start",), "the start", proc.start)
    ]
    for trigger, listed in proc.transitions.items():
        for i, branch in enumerate(listed):
            label = repr(trigger) if len(listed) == 1 else f"branch {i + 1} of {trigger!r}"
            branches.append((("transitions", trigger, i), label, branch))
    if not any(spec.message for _, _, spec in branches) and not any(
        invariant.message for invariant in proc.invariants
    ):
        return out
    for path, label, spec in branches:
        if spec.when is not None and not spec.message:
            out.append(
                smap.diagnostic(
                    (*path, "when"),
                    "guard-without-message",
                    f"the condition of {label} has no `message`: a person it refuses is shown "
                    "the expression; add message: {zh-Hant: ..., zh-Hans: ..., en: ...}",
                    severity="warning",
                )
            )
    for i, invariant in enumerate(proc.invariants):
        if not invariant.message:
            out.append(
                smap.diagnostic(
                    ("invariants", i, "check"),
                    "guard-without-message",
                    f"the rule {invariant.name!r} has no `message`: a person it refuses is "
                    "shown the expression; add message: {zh-Hant: ..., zh-Hans: ..., en: ...}",
                    severity="warning",
                )
            )
    return out
