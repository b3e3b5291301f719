"""Translating PyMySQL/aiomysql exceptions into DataFlow's errors, by MySQL error code."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

from dataflow.errors import (
    CheckViolationError,
    ConnectionError,
    DatabaseError,
    DataFlowError,
    DeadlockError,
    ForeignKeyViolationError,
    LockTimeoutError,
    NotNullViolationError,
    QueryCancelledError,
    UniqueViolationError,
    ValidationError,
)
from dataflow.schema import ModelSchema

ConstraintNamer = Callable[[ModelSchema, str, tuple[str, ...]], str]

DUPLICATE_KEY = 1062
FOREIGN_KEY_PARENT = 1451  # a delete or update would orphan a child row
FOREIGN_KEY_CHILD = 1452  # a child row references a missing parent
FOREIGN_KEY_NO_PARENT = 1216
FOREIGN_KEY_HAS_CHILD = 1217
NOT_NULL = 1048
NO_DEFAULT = 1364
DATA_TOO_LONG = 1406
OUT_OF_RANGE = 1264
BAD_VALUE = (1292, 1366, 1367, 1265, 4078)
CHECK_FAILED = (3819, 4025)
JSON_INVALID = (3140, 4038)
DEADLOCK = 1213
LOCK_WAIT_TIMEOUT = 1205
LOCK_NOWAIT = 3572
CANCELLED = (1317, 3024, 1969, 1028)
CONNECTION_LOST = (2003, 2006, 2013, 2055, 1040, 1045, 1049, 1053, 1152, 1158, 1159, 1160, 1161, 4031)

_KEY = re.compile(r"for key '(?:[^']*\.)?([^'.]+)'\s*$")
_COLUMN = re.compile(r"column '([^']+)'", re.IGNORECASE)
_FIELD = re.compile(r"Field '([^']+)'")
_FK = re.compile(r"CONSTRAINT `([^`]+)` FOREIGN KEY \(`([^`]+)`\)")
_CHECK = re.compile(r"CONSTRAINT `?([^`' ]+)`? failed|Check constraint '([^']+)'")


def error_code(error: BaseException) -> int | None:
    """The MySQL error number of a PyMySQL error (whose ``args`` are ``(number, message)``)."""
    from pymysql.err import MySQLError  # noqa: PLC0415 - the driver, imported only when an error is translated

    if isinstance(error, MySQLError) and error.args and isinstance(error.args[0], int):
        return error.args[0]
    return None


def error_message(error: BaseException) -> str:
    from pymysql.err import MySQLError  # noqa: PLC0415 - the driver, imported only when an error is translated

    if isinstance(error, MySQLError) and len(error.args) > 1:
        return str(error.args[1])
    return str(error) or type(error).__name__


def unique_key_fields(schema: ModelSchema, key: str, namer: ConstraintNamer) -> tuple[str, ...]:
    """The fields of the unique key MySQL reports as ``key`` (``PRIMARY`` or a name DataFlow gave)."""
    if key == "PRIMARY":
        return (schema.primary_key,)
    for group in schema.unique:
        if namer(schema, "uq", group) == key:
            return group
    return ()


def translate_error(
    error: BaseException, schema: ModelSchema | None, namer: ConstraintNamer, label: str
) -> DataFlowError:
    """DataFlow's error for ``error``; ``label`` names the database (its URL without password)."""
    model = schema.name if schema else None
    where = f"{model}: " if model else ""
    code = error_code(error)
    message = error_message(error)
    if code == DUPLICATE_KEY:
        found = _KEY.search(message)
        key = found[1] if found else None
        fields = unique_key_fields(schema, key, namer) if schema is not None and key else ()
        what = ", ".join(fields) if fields else (key or "a unique key")
        return UniqueViolationError(
            f"{where}a record with the same {what} already exists", model=model, constraint=key, fields=fields
        )
    if code in (FOREIGN_KEY_PARENT, FOREIGN_KEY_CHILD, FOREIGN_KEY_NO_PARENT, FOREIGN_KEY_HAS_CHILD):
        found = _FK.search(message)
        constraint, fields = (found[1], (found[2],)) if found else (None, ())
        if code in (FOREIGN_KEY_PARENT, FOREIGN_KEY_HAS_CHILD):
            text = f"{where}the record is still referenced by another table's records"
            fields = ()
        else:
            text = f"{where}{fields[0] if fields else 'a foreign key'} does not match an existing record"
        return ForeignKeyViolationError(text, model=model, constraint=constraint, fields=fields)
    if code in (NOT_NULL, NO_DEFAULT):
        found = _COLUMN.search(message) or _FIELD.search(message)
        fields = (found[1],) if found else ()
        return NotNullViolationError(
            f"{where}{', '.join(fields) or 'a column'} cannot be null", model=model, fields=fields
        )
    if code in CHECK_FAILED or code in JSON_INVALID:
        found = _CHECK.search(message)
        constraint = (found[1] or found[2]) if found else None
        return CheckViolationError(f"{where}{message}", model=model, constraint=constraint)
    if code in (DATA_TOO_LONG, OUT_OF_RANGE, *BAD_VALUE):
        found = _COLUMN.search(message)
        field = found[1] if found else None
        return ValidationError(
            f"{where}{field or 'a value'} does not fit its column: {message}", model=model, field=field
        )
    if code == DEADLOCK:
        return DeadlockError(f"{where}MySQL broke a deadlock by rolling back this transaction; retry it", model=model)
    if code in (LOCK_WAIT_TIMEOUT, LOCK_NOWAIT):
        return LockTimeoutError(f"{where}a lock was not granted in time: {message}", model=model)
    if code in CANCELLED:
        return QueryCancelledError(f"{where}the statement was cancelled: {message}", model=model)
    if is_connection_error(error):
        return ConnectionError(f"the connection to {label} failed: {message}", model=model)
    return DatabaseError(f"{where}MySQL error {code}: {message}" if code else f"{where}{message}", model=model)


def is_connection_error(error: BaseException) -> bool:
    """Did ``error`` break (or prevent) the connection, so that it must not be reused?"""
    from pymysql.err import InterfaceError, InternalError  # noqa: PLC0415 - the driver, imported only when an error is translated

    if isinstance(error, (OSError, asyncio.TimeoutError, EOFError, InterfaceError)):
        return True
    if isinstance(error, InternalError) and error_code(error) is None:  # "Packet sequence number wrong"
        return True
    code = error_code(error)
    return code in CONNECTION_LOST or (code is not None and 2000 <= code < 3000)
