"""The pure core: compile procedures, fire events, enforce roles, guards and time limits.

Nothing here reads files, talks to a database, starts a thread or reads the clock: the
host passes the case, the event, the actor and the time in, and gets the new case, the
events that happened and the effects to carry out back.
"""

from servflow.engine.calendar import ALWAYS, Calendar, CalendarSpec, build_calendar
from servflow.engine.case import (
    Actor,
    Availability,
    Case,
    CycleRecord,
    Effect,
    Event,
    EventKind,
    Outcome,
    TimerState,
)
from servflow.engine.core import Engine
from servflow.engine.durations import Duration, parse_duration
from servflow.engine.verify import ReplayReport
from servflow.errors import DefinitionError, EvaluationError, Rejected

__all__ = [
    "ALWAYS",
    "Actor",
    "Availability",
    "Calendar",
    "CalendarSpec",
    "Case",
    "CycleRecord",
    "DefinitionError",
    "Duration",
    "Effect",
    "Engine",
    "EvaluationError",
    "Event",
    "EventKind",
    "Outcome",
    "Rejected",
    "ReplayReport",
    "TimerState",
    "build_calendar",
    "parse_duration",
]
