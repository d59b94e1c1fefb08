"""Storage adapters behind one Protocol, :class:`CaseStore`: in memory and SQL.

``MemoryStore`` keeps cases in dicts (tests, demos, one process). ``SqlStore`` keeps them
in two tables through SQLAlchemy Core: SQLite embedded by default, PostgreSQL for many
workers. Importing this package loads no database library: ``SqlStore`` imports
sqlalchemy when it is first built. See docs/storage.md.
"""

from servflow.store.base import CaseExists, CaseLister, CaseNotFound, CaseStore, Conflict
from servflow.store.memory import MemoryStore
from servflow.store.query import CaseQuery, Page
from servflow.store.sql import SqlStore

__all__ = [
    "CaseExists",
    "CaseLister",
    "CaseNotFound",
    "CaseQuery",
    "CaseStore",
    "Conflict",
    "MemoryStore",
    "Page",
    "SqlStore",
]
