"""KPI reports of a service desk, computed from audit logs alone.

:func:`compute` turns the cases' audit logs into :class:`ProcedureFigures`, one per
procedure; :mod:`servflow.kpi.output` prints them as a table, CSV, or an HTML page with
charts. See docs/kpi.md for the definition of every figure.
"""

from servflow.kpi.figures import (
    CallbackFigures,
    Count,
    LimitFigures,
    ProcedureFigures,
    SatisfactionFigures,
    StepFigures,
    compute,
    nearest_rank,
    ratio,
)

__all__ = [
    "CallbackFigures",
    "Count",
    "LimitFigures",
    "ProcedureFigures",
    "SatisfactionFigures",
    "StepFigures",
    "compute",
    "nearest_rank",
    "ratio",
]
