"""The SQL store's schema, versioned with Alembic: one revision per change, frozen.

``servflow db upgrade URL`` (and ``SqlStore(url, create=True)``) runs them. Each revision
describes the tables as they were at that revision, not as the store defines them today,
so that a database of any earlier release upgrades the same way; a test checks that the
head revision builds exactly the tables :class:`~servflow.store.SqlStore` declares.
Table names take the store's ``prefix``, passed to every revision as ``prefix``; the
revision table is ``<prefix>alembic_version``.
"""
