"""Storage adapters behind one Protocol, :class:`CaseStore`: in memory and SQL.

``MemoryStore`` keeps cases in dicts (tests, demos, one process). ``SqlStore`` keeps them
in tables through SQLAlchemy Core: SQLite embedded by default, PostgreSQL for many
workers. Both keep an outbox of the effects of each step (:class:`OutboxStore`).
Importing this package loads no database library: ``SqlStore`` imports sqlalchemy when it
is first built. See docs/storage.md.
"""

from servflow.store.base import (
    AlreadyDelivered,
    BatchStore,
    CaseExists,
    CaseLister,
    CaseNotFound,
    CaseStore,
    Conflict,
    NewCase,
    OutboxEntry,
    OutboxStore,
    Write,
    effect_id,
)
from servflow.store.memory import MemoryStore
from servflow.store.query import CaseQuery, Page
from servflow.store.sql import SqlStore

__all__ = [
    "AlreadyDelivered",
    "BatchStore",
    "CaseExists",
    "CaseLister",
    "CaseNotFound",
    "CaseQuery",
    "CaseStore",
    "Conflict",
    "MemoryStore",
    "NewCase",
    "OutboxEntry",
    "OutboxStore",
    "Page",
    "SqlStore",
    "Write",
    "effect_id",
]
