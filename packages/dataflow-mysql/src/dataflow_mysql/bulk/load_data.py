"""``LOAD DATA LOCAL INFILE``: the fastest way in, opt-in by name (``strategy="load_data"``).

It needs ``local_infile`` on the server and ``?local_infile=true`` in the URL
(off by default: a client that accepts LOCAL INFILE sends the server any file
it asks for). The rows go to a private temporary file in the server's
default text format (tab-separated, backslash escapes, ``\\N`` for NULL;
bytes as hex through ``UNHEX``), which aiomysql streams to the server.

With LOCAL the server cannot stop reading the file half way, so it turns
duplicate keys and bad values into warnings and skips those rows; this
strategy turns the first warning back into the error it stands for, and the
node's transaction undoes the rows already loaded.
"""

from __future__ import annotations

import datetime as dt
import decimal
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from dataflow.bulk.generic import RETURNS_NO_IDS
from dataflow.bulk.strategy import BulkRequest, BulkResult, Operation
from dataflow.dialect import Dialect
from dataflow.fields import FieldKind
from dataflow.session import Session

from ..literals import literal
from .common import mysql_dialect

_ESCAPES = {0: "\\0", ord("\\"): "\\\\", ord("\t"): "\\t", ord("\n"): "\\n", ord("\r"): "\\r"}

_SPECIAL = re.compile("[\\0\\\\\t\n\r]").search


def _text(value: str) -> str:
    return value if _SPECIAL(value) is None else value.translate(_ESCAPES)


_TEXT: dict[type, Callable[[Any], str]] = {
    str: _text,
    int: int.__repr__,
    bool: lambda value: "1" if value else "0",
    float: float.__repr__,
    type(None): lambda value: "\\N",
    bytes: bytes.hex,
    decimal.Decimal: lambda value: format(value, "f"),
    dt.datetime: lambda value: value.isoformat(" ", "microseconds")[:26],
    dt.date: dt.date.isoformat,
    dt.time: lambda value: value.replace(tzinfo=None).isoformat("microseconds"),
}


def field_text(value: Any) -> str:
    convert = _TEXT.get(type(value))
    if convert is None:
        convert = next(f for base, f in _TEXT.items() if isinstance(value, base) and base is not bool)
    return convert(value)


def tsv(rows: Sequence[Sequence[Any]]) -> bytes:
    get = _TEXT.get
    lines = ["\t".join([f(v) if (f := get(type(v))) is not None else field_text(v) for v in row]) for row in rows]
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")


def warning_error(warnings: Sequence[Sequence[Any]], expected: int, loaded: int) -> Exception:
    """The driver error a LOAD DATA warning stands for (so that it is translated like any other)."""
    from pymysql.err import OperationalError, error_map  # noqa: PLC0415 - the driver, imported only when a strategy runs

    for level, code, message in warnings:
        if level in ("Error", "Warning"):
            error_class: type[Exception] = error_map.get(int(code), OperationalError)
            return error_class(int(code), str(message))
    error: Exception = OperationalError(0, f"LOAD DATA loaded {loaded} of {expected} rows")
    return error


@attrs.frozen
class LoadDataInsert:
    """BulkCreate through ``LOAD DATA LOCAL INFILE``; no ids."""

    name: str = "load_data"
    operation: Operation = "create"
    priority: int = 1
    """Below every other create strategy: it runs only when named."""

    def cannot_run(self, dialect: Dialect, request: BulkRequest) -> str | None:
        mysql = mysql_dialect(dialect)
        if request.return_ids:
            return RETURNS_NO_IDS
        if not mysql.options.local_infile:
            return "the database URL does not turn on local_infile=true"
        if mysql.server is None or not mysql.server.local_infile:
            return "the server does not allow LOAD DATA LOCAL INFILE (local_infile is OFF)"
        return None

    async def run(self, session: Session, request: BulkRequest) -> BulkResult:
        table = request.table
        targets, assignments = [], []
        for index, column in enumerate(request.columns):
            if table.schema.by_name[column].kind is FieldKind.BYTES:
                targets.append(f"@dataflow_{index}")
                assignments.append(f"{table.quoted[column]} = UNHEX(@dataflow_{index})")
            else:
                targets.append(table.quoted[column])
        descriptor, path = tempfile.mkstemp(prefix="dataflow-", suffix=".tsv")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(tsv(request.rows))
            # Monitors see the statement with %s for the file: a new temporary name each time
            # would make every load a statement of its own.
            template = (
                f"LOAD DATA LOCAL INFILE %s INTO TABLE {table.table} CHARACTER SET utf8mb4 "
                "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' "
                f"({', '.join(targets)})" + (f" SET {', '.join(assignments)}" if assignments else "")
            )
            sql = template.replace("%s", literal(path), 1)
            expected = len(request.rows)

            async def load(connection: Any) -> int:
                result = await connection.query(sql)
                loaded = int(result.affected_rows)
                if loaded != expected or result.warning_count:
                    raise warning_error(await connection.fetch("SHOW WARNINGS"), expected, loaded)
                return loaded

            inserted = await session.call(load, sql=template, schema=table.schema, operation="bulk_create")
        finally:
            os.unlink(path)
        return BulkResult(inserted=inserted)
