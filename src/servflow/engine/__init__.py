"""The pure core: compile procedures, fire events, enforce roles, guards and time limits.

Nothing here reads files, talks to a database, starts a thread or reads the clock: the
host passes the case, the event, the actor and the time in, and gets the new case, the
events that happened and the effects to carry out back. Nothing here imports the layers
above it either (the loader, storage, rendering): :class:`Engine` is the core, which takes
procedures as validated models and runs the language's static checks only when it is
given them as a ``checker``; :class:`servflow.Engine` is this class with the checks
supplied and folders of files loaded (see :mod:`servflow.catalogue`).
"""

from servflow.calendar_spec import CalendarSpec
from servflow.engine.calendar import ALWAYS, Calendar, build_calendar
from servflow.engine.case import (
    Actor,
    Availability,
    Case,
    CaseParent,
    CycleRecord,
    Effect,
    Event,
    EventKind,
    Outcome,
    TimerState,
)
from servflow.engine.core import Checker, Engine
from servflow.engine.durations import Duration, parse_duration
from servflow.engine.native import native_modules
from servflow.engine.schedule import Opening
from servflow.engine.verify import ReplayReport
from servflow.errors import DefinitionError, EvaluationError, Rejected

__all__ = [
    "ALWAYS",
    "Actor",
    "Availability",
    "Calendar",
    "CalendarSpec",
    "Case",
    "CaseParent",
    "Checker",
    "CycleRecord",
    "DefinitionError",
    "Duration",
    "Effect",
    "Engine",
    "EvaluationError",
    "Event",
    "EventKind",
    "Opening",
    "Outcome",
    "Rejected",
    "ReplayReport",
    "TimerState",
    "build_calendar",
    "native_modules",
    "parse_duration",
]
