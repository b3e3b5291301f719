"""Translating ``sqlite3`` exceptions into DataFlow's errors."""

from __future__ import annotations

from dataflow.errors import (
    CheckViolationError,
    ConnectionError,
    DatabaseError,
    DataFlowError,
    ForeignKeyViolationError,
    LockTimeoutError,
    NotNullViolationError,
    QueryCancelledError,
    UniqueViolationError,
    ValidationError,
)
from dataflow.schema import ModelSchema


def _columns(message: str) -> list[str]:
    """``["email"]`` from ``"UNIQUE constraint failed: user.email"``."""
    _, _, names = message.partition(":")
    return [name.strip().rpartition(".")[2] for name in names.split(",") if name.strip()]


def translate_error(error: BaseException, schema: ModelSchema | None, path: str) -> DataFlowError:
    import sqlite3  # noqa: PLC0415 - the driver: loaded already when one of its errors is translated

    model = schema.name if schema else None
    message = str(error)
    if isinstance(error, sqlite3.IntegrityError):
        fields = _columns(message)
        where = f"{model}: " if model else ""
        if message.startswith("UNIQUE constraint failed") or "PRIMARY KEY" in message:
            return UniqueViolationError(
                f"{where}a record with the same {', '.join(fields)} already exists", model=model, fields=fields
            )
        if message.startswith("FOREIGN KEY constraint failed"):
            return ForeignKeyViolationError(f"{where}a foreign key does not match a record", model=model)
        if message.startswith("NOT NULL constraint failed"):
            return NotNullViolationError(f"{where}{', '.join(fields)} cannot be null", model=model, fields=fields)
        if message.startswith("CHECK constraint failed"):
            return CheckViolationError(f"{where}{message}", model=model)
    if isinstance(error, sqlite3.OperationalError):
        if "locked" in message or "busy" in message:
            return LockTimeoutError(f"SQLite database {path!r} is locked by another writer: {message}", model=model)
        if "unable to open" in message or "readonly" in message or "disk I/O" in message:
            return ConnectionError(f"SQLite database {path!r} cannot be written: {message}", model=model)
        if "interrupted" in message:
            return QueryCancelledError(f"the statement was interrupted: {message}", model=model)
        if "ON CONFLICT clause does not match" in message:  # as PostgreSQL's 42P10 is translated
            where = f"{model}: " if model else ""
            return ValidationError(
                f"{where}conflict_on must name the fields of the primary key or of a unique constraint",
                model=model,
                field="conflict_on",
            )
    return DatabaseError(f"SQLite error: {message}", model=model)
