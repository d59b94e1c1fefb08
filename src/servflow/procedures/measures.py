"""Static checks of a procedure's ``measures:`` key (how the KPI report reads its cases).

The key changes nothing in how cases run, so a mistake in it would show only as a wrong
figure in a report months later. These checks make it a load error instead: every name
must exist, ``cancelled`` must name final states, ``satisfied`` a boolean field and
``breakdown`` fields with few values (choice or boolean).
"""

from __future__ import annotations

from servflow._hints import did_you_mean
from servflow.errors import Diagnostic
from servflow.model import Clause, Procedure
from servflow.procedures.source import SourceMap

__all__ = ["BREAKDOWN_TYPES", "check_measures"]

#: The field types a report can break cases down by: a handful of known values.
BREAKDOWN_TYPES = frozenset({"choice", "boolean"})

Path = tuple[str | int, ...]


def _each(path: Path, value: str | list[str]) -> list[tuple[Path, str]]:
    if isinstance(value, str):
        return [(path, value)]
    return [((*path, j), item) for j, item in enumerate(value)]


def check_measures(proc: Procedure, smap: SourceMap) -> list[Diagnostic]:
    """Every problem of ``proc.measures`` (none when the procedure has no such key)."""
    measures = proc.measures
    if measures is None:
        return []
    out: list[Diagnostic] = []
    states, fields = set(proc.states), set(proc.fields)
    triggers = set(proc.transitions) | {"start"}

    def ref(path: Path, kind: str, name: str, valid: set[str]) -> bool:
        if name in valid:
            return True
        message = f"unknown {kind} {name!r}" + did_you_mean(name, valid)
        out.append(smap.diagnostic(path, f"unknown-{kind}", message))
        return False

    for path, name in _each(("measures", "cancelled"), measures.cancelled):
        if ref(path, "state", name, states) and not proc.states[name].final:
            out.append(
                smap.diagnostic(
                    path,
                    "measure-not-final",
                    f"`cancelled` names {name!r}, which is not a final state: a case there is "
                    "still open, so it cannot count as cancelled",
                )
            )
    callback = measures.callback
    if callback is not None:
        parts: list[tuple[str, Clause | None]] = [
            ("due", callback.due),
            ("reached", callback.reached),
            ("unreachable", callback.unreachable),
        ]
        for part, clause in parts:
            if clause is None:
                continue
            for kind, names in clause.written():
                base: Path = ("measures", "callback", part, kind)
                for path, name in _each(base, names):
                    if kind == "event":
                        ref(path, "trigger", name, triggers)
                    else:
                        ref(path, "state", name, states)
    if measures.satisfied is not None:
        path = ("measures", "satisfied")
        name = measures.satisfied
        if ref(path, "field", name, fields) and proc.fields[name].type != "boolean":
            out.append(
                smap.diagnostic(
                    path,
                    "measure-field-type",
                    f"`satisfied` needs a boolean field, not {proc.fields[name].type!r} "
                    f"({name!r}): each answer is true (satisfied) or false",
                )
            )
    for j, name in enumerate(measures.breakdown):
        path = ("measures", "breakdown", j)
        if not ref(path, "field", name, fields):
            continue
        if proc.fields[name].pii:
            message = f"`breakdown` may not show {name!r}: it is personal data (pii)"
            out.append(smap.diagnostic(path, "measure-field-type", message))
        elif proc.fields[name].type not in BREAKDOWN_TYPES:
            out.append(
                smap.diagnostic(
                    path,
                    "measure-field-type",
                    f"`breakdown` counts cases by a choice or boolean field, not "
                    f"{proc.fields[name].type!r} ({name!r}): free values would give one row "
                    "per case",
                )
            )
    return out
