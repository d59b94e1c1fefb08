"""Static checks of `counts`: the integer fields a step adds one to.

A branch's ``counts`` (see docs/language.md, "Counting attempts") names fields whose value
the engine keeps: each time the step is taken, one more. The engine refuses a count of a
field that is not an integer (:func:`servflow.engine.compiled.count_problem`, the rule
written once); this module reports it at its place in the file, and one more mistake
that only the file shows:

``unknown-field``
    the step counts a field the procedure does not have.
``count-not-integer``
    the step counts a field that is not an ``integer``.
``counted-field-accepted``
    a branch of the trigger accepts the counted field (it lists it in ``accepts``, or has
    no ``accepts`` and so takes every field): a person could type a count in, and the
    engine would refuse the step; the count is the engine's to keep.
"""

from __future__ import annotations

from servflow.engine.compiled import count_problem
from servflow.errors import Diagnostic
from servflow.model import Procedure
from servflow.procedures.source import SourceMap

__all__ = ["COUNT_CODES", "check_counts"]

COUNT_CODES = ("count-not-integer", "counted-field-accepted")


def check_counts(proc: Procedure, smap: SourceMap) -> list[Diagnostic]:
    """Every problem of the ``counts`` of ``proc``'s steps, positioned by ``smap``."""
    out: list[Diagnostic] = []
    for trigger, branches in proc.transitions.items():
        for i, branch in enumerate(branches):
            for j, name in enumerate(branch.counts):
                path = ("transitions", trigger, i, "counts", j)
                problem = count_problem(proc, name)
                if problem is not None:
                    out.append(smap.diagnostic(path, *problem))
                    continue
                for k, other in enumerate(branches):
                    if other.accepts is not None and name not in other.accepts:
                        continue
                    how = (
                        "has no `accepts`, so it takes every field"
                        if other.accepts is None
                        else f"accepts {name!r}"
                    )
                    which = f"branch {k + 1} of {trigger!r}" if len(branches) > 1 else repr(trigger)
                    out.append(
                        smap.diagnostic(
                            path,
                            "counted-field-accepted",
                            f"{trigger!r} counts field {name!r}, but {which} {how}: the count "
                            f"is the engine's to keep; list `accepts` without {name!r}",
                        )
                    )
                    break
    return out
