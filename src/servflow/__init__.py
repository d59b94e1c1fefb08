"""servflow: a property-management service desk's procedures as enforceable state machines.

Analysts write procedures as YAML (:mod:`servflow.procedures`); a pure engine
(:mod:`servflow.engine`) runs them; the host keeps the cases wherever it likes.
:class:`Engine` is the engine with the language (:mod:`servflow.catalogue`): it checks
procedures built in Python and loads folders of files, importing the loader only when it
does. See docs/architecture.md for the layers.
"""

from servflow.catalogue import Engine
from servflow.desk import Desk
from servflow.engine import (
    Actor,
    Availability,
    Case,
    Effect,
    Event,
    Opening,
    Outcome,
    ReplayReport,
)
from servflow.errors import (
    CalendarError,
    DefinitionError,
    Diagnostic,
    EvaluationError,
    IntegrityError,
    Rejected,
    ReplayError,
    ServflowError,
)

__all__ = [
    "Actor",
    "Availability",
    "CalendarError",
    "Case",
    "DefinitionError",
    "Desk",
    "Diagnostic",
    "Effect",
    "Engine",
    "EvaluationError",
    "Event",
    "IntegrityError",
    "Opening",
    "Outcome",
    "Rejected",
    "ReplayError",
    "ReplayReport",
    "ServflowError",
    "__version__",
]

__version__ = "0.1.0"
