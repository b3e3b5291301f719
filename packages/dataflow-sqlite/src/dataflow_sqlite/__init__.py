"""dataflow-sqlite: the SQLite dialect for DataFlow, and its zero-configuration default."""

from .dialect import SQLiteDialect

__all__ = ["SQLiteDialect"]
