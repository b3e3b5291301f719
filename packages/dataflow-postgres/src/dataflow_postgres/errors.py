"""Translating asyncpg exceptions into DataFlow's errors, by SQLSTATE.

Messages name the model, the constraint and the fields; they never repeat
the offending values (the server's ``detail`` line does, so only the column
names are taken from it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import asyncpg

from dataflow.errors import (
    CheckViolationError,
    ConfigError,
    ConnectionError,
    DatabaseError,
    DataFlowError,
    DeadlockError,
    ForeignKeyViolationError,
    LockTimeoutError,
    NotNullViolationError,
    QueryCancelledError,
    SerializationError,
    TransactionError,
    UniqueViolationError,
    ValidationError,
)
from dataflow.schema import ModelSchema

_KEY_COLUMNS = re.compile(r"^Key \((?P<columns>[^)]*)\)=")
_ARGUMENT_REASON = re.compile(r"\(([^()]*)\)\s*$")
_UNUSABLE = ("connection is closed", "connection was closed", "another operation", "cannot switch to state")

ConstraintFields = Callable[[ModelSchema, str], tuple[str, ...]]
"""Maps a constraint name of ``schema`` to its columns (from the dialect's naming)."""


def _detail_columns(detail: str | None) -> tuple[str, ...]:
    """``("email",)`` from ``'Key (email)=(a@b.c) already exists.'``; the values are dropped."""
    match = _KEY_COLUMNS.match(detail or "")
    if match is None:
        return ()
    return tuple(name.strip().strip('"') for name in match.group("columns").split(","))


def _where(model: str | None) -> str:
    return f"{model}: " if model else ""


def _joined(fields: Sequence[str]) -> str:
    return ", ".join(fields) if fields else "a unique key"


def _integrity(
    error: asyncpg.PostgresError, schema: ModelSchema | None, constraint_fields: ConstraintFields
) -> DataFlowError | None:
    model = schema.name if schema else None
    constraint = error.constraint_name
    fields = _detail_columns(error.detail)
    if not fields and schema is not None and constraint:
        fields = constraint_fields(schema, constraint)
    named = f" (constraint {constraint})" if constraint else ""
    where = _where(model)
    state = error.sqlstate
    if state == "23505":
        return UniqueViolationError(
            f"{where}a record with the same {_joined(fields)} already exists{named}",
            model=model,
            constraint=constraint,
            fields=fields,
        )
    if state == "23503":
        if "still referenced" in (error.detail or ""):
            message = f"{where}the record is still referenced from table {_referencing_table(error.detail)}{named}"
        else:
            what = _joined(fields) if fields else "a foreign key"
            message = f"{where}{what} does not match an existing record{named}"
        return ForeignKeyViolationError(message, model=model, constraint=constraint, fields=fields)
    if state == "23502":
        column = error.column_name
        columns = (column,) if column else fields
        return NotNullViolationError(
            f"{where}{', '.join(columns) or 'a required field'} cannot be null", model=model, fields=columns
        )
    if state == "23514":
        return CheckViolationError(
            f"{where}a value of {_joined(fields) if fields else 'the record'} is not allowed{named}",
            model=model,
            constraint=constraint,
            fields=fields,
        )
    return None


def _referencing_table(detail: str | None) -> str:
    match = re.search(r'from table "([^"]+)"', detail or "")
    return match.group(1) if match else "another table"


def _is_connection_error(error: BaseException) -> bool:
    if isinstance(error, (OSError, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError)):
        return True
    if isinstance(error, asyncpg.PostgresError):
        # 57P01-57P03: admin/crash shutdown, cannot connect now; 53300 too many connections.
        return error.sqlstate in ("57P01", "57P02", "57P03", "53300")
    if isinstance(error, (asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError)):
        # Closed, or a protocol left mid-operation (e.g. the server ended the backend while it was
        # idle): either way the connection cannot be used again.
        return any(sign in str(error) for sign in _UNUSABLE)
    return False


def translate_error(
    error: BaseException, schema: ModelSchema | None, label: str, constraint_fields: ConstraintFields
) -> DataFlowError:
    """DataFlow's error for an asyncpg (or socket) exception raised on ``label``'s database."""
    model = schema.name if schema else None
    if isinstance(error, TimeoutError) and error.errno is None:
        # asyncpg's command_timeout (a socket timeout from the OS carries an errno: that is a lost connection).
        # asyncpg cancels the statement on the server when the timeout runs out.
        return QueryCancelledError(
            f"{_where(model)}the statement ran past command_timeout and was cancelled", model=model
        )
    if str(error).startswith("invalid input for query argument"):
        # asyncpg could not encode a parameter: "invalid input for query argument $1: <value> (<reason>)".
        # The value may be a whole column array, so only the reason is kept.
        reason = _ARGUMENT_REASON.search(str(error))
        why = reason.group(1) if reason else "it does not fit the column's type"
        return ValidationError(f"{_where(model)}a value cannot be sent to PostgreSQL: {why}", model=model)
    if _is_connection_error(error):
        return ConnectionError(f"the connection to {label} failed: {_message(error)}", model=model)
    if isinstance(error, OverflowError):
        return ValidationError(f"{_where(model)}a number is out of the column's range", model=model)
    if not isinstance(error, asyncpg.PostgresError):
        return DatabaseError(f"{_where(model)}PostgreSQL driver error: {_message(error)}", model=model)
    state = error.sqlstate or ""
    if _prepared_elsewhere(error, state):
        return ConfigError(
            f"{_where(model)}{_message(error)}: the statement cache met another server session, as behind "
            "PgBouncer in transaction mode; add pgbouncer=true to the URL (it turns the statement cache off)",
            model=model,
            field="pgbouncer",
        )
    if state.startswith("23"):
        translated = _integrity(error, schema, constraint_fields)
        if translated is not None:
            return translated
    if state == "40001":
        return SerializationError(
            f"{_where(model)}the transaction could not be serialized with a concurrent one; retry it", model=model
        )
    if state == "40P01":
        return DeadlockError(f"{_where(model)}a deadlock was detected and this transaction was aborted", model=model)
    if state == "55P03":
        return LockTimeoutError(f"{_where(model)}a lock could not be obtained in time", model=model)
    if state == "57014":
        return QueryCancelledError(f"{_where(model)}the statement was cancelled ({error.message})", model=model)
    if state in ("22021", "22P05"):
        return ValidationError(
            f"{_where(model)}a text value contains a character PostgreSQL cannot store (such as NUL)", model=model
        )
    if state == "22001":
        column = f" {error.column_name}" if error.column_name else ""
        return ValidationError(f"{_where(model)}a value is too long for column{column}", model=model)
    if state == "42P10":
        return ValidationError(
            f"{_where(model)}conflict_on must name the fields of the primary key or of a unique constraint",
            model=model,
            field="conflict_on",
        )
    if state == "25P02":
        return TransactionError(f"{_where(model)}the transaction was aborted by an earlier error", model=model)
    if state.startswith("22"):
        return ValidationError(f"{_where(model)}a value was refused by PostgreSQL: {_message(error)}", model=model)
    return DatabaseError(f"{_where(model)}PostgreSQL error {state}: {_message(error)}", model=model)


PREPARED_ELSEWHERE = frozenset({"26000", "42P05", "08P01"})
"""A prepared statement missing, already there, or with other parameters: what asyncpg's statement cache
meets when a pooler in transaction mode runs a client's statements on several server sessions."""


def _prepared_elsewhere(error: asyncpg.PostgresError, state: str) -> bool:
    return state in PREPARED_ELSEWHERE and "__asyncpg_" in str(error)


def _message(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
