"""The live schema of a MySQL or MariaDB database, read from information_schema.

Tables, columns (``COLUMN_TYPE``, ``IS_NULLABLE``, ``COLUMN_KEY``), indexes
(``STATISTICS``) and foreign keys (``KEY_COLUMN_USAGE``) of the connection's
current database. Types are reported in one spelling (:func:`.type_changes.canonical`,
upper case): MariaDB's ``bigint(20)`` and MySQL 8's ``bigint`` are both
``BIGINT``, and MariaDB's JSON, a LONGTEXT with a ``json_valid`` check, is
``JSON`` as on MySQL 8.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from dataflow.dialect import Connection
from dataflow.enum_checks import read_members
from dataflow.migrate.live import LiveColumn, LiveForeignKey, LiveIndex, LiveTable

from .ddl import LIVE_COLUMN
from .type_changes import canonical, display_type

if TYPE_CHECKING:
    from .dialect import MySQLDialect

# Each query reads one information_schema table: MariaDB answers joins of them many times slower.
TABLES_SQL = (
    "SELECT TABLE_NAME FROM information_schema.TABLES "
    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')"
)
COLUMNS_SQL = (
    "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_KEY, CHARACTER_SET_NAME, COLUMN_DEFAULT, EXTRA "
    "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION"
)
INDEXES_SQL = (
    "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS "
    "WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME <> 'PRIMARY' "
    "ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
)
FOREIGN_KEYS_SQL = (
    "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME "
    "FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL "
    "ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION"
)
CHECK_TABLES_SQL = (
    "SELECT CONSTRAINT_NAME, TABLE_NAME FROM information_schema.TABLE_CONSTRAINTS "
    "WHERE TABLE_SCHEMA = DATABASE() AND CONSTRAINT_TYPE = 'CHECK'"
)
CHECK_CLAUSES_SQL = (
    "SELECT CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
    "WHERE CONSTRAINT_SCHEMA = DATABASE()"
)
"""MySQL 8's CHECK_CONSTRAINTS does not name the table: TABLE_CONSTRAINTS does, on both servers."""
_ENUM_CHECK = re.compile(r"\(?`((?:[^`]|``)+)`\s*(?:in\s*\((.*)\)|=\s*(.*?))\)?", re.IGNORECASE | re.DOTALL)
"""``col IN (...)``, or ``col = value``: MariaDB stores a one-member IN so."""
MARIADB_CHECKS_SQL = (
    "SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()"
)
"""MariaDB's JSON is LONGTEXT with a ``CHECK (json_valid(col))``; MariaDB's CHECK_CONSTRAINTS names the table."""
_JSON_CHECK = re.compile(r"json_valid\(`((?:[^`]|``)+)`\)", re.IGNORECASE)
_IN_CHECK = re.compile(r"`((?:[^`]|``)+)` in \((.*)\)", re.IGNORECASE)
_IN_VALUE = re.compile(r"\s*(?:'((?:[^'\\]|\\.|'')*)'|(-?\d+))\s*(?:,|$)")


def _in_values(text: str) -> tuple[str, ...] | None:
    """The literals of ``'a','it\\'s'`` or ``1,2`` (as MariaDB writes a CHECK's IN list), as text; None otherwise."""
    values, position = [], 0
    while position < len(text):
        match = _IN_VALUE.match(text, position)
        if match is None or match.end() == position:
            return None
        quoted, number = match[1], match[2]
        values.append(number if number is not None else re.sub(r"\\(.)", r"\1", quoted).replace("''", "'"))
        position = match.end()
    return tuple(sorted(values)) if values else None


def _text(value: Any) -> Any:
    """information_schema returns some columns as bytes on MySQL 8."""
    return value.decode() if isinstance(value, bytes | bytearray) else value


def _default(value: str | None) -> str | None:
    """COLUMN_DEFAULT as SQL text. MariaDB quotes string literals and writes NULL for none; MySQL 8 does neither."""
    if value is None or value == "NULL":
        return None
    if value.startswith("'") or value.replace(".", "", 1).lstrip("-").isdigit() or value.endswith(")"):
        return value
    if value.upper() in ("CURRENT_TIMESTAMP", "CURRENT_DATE", "CURRENT_TIME"):
        return value
    return "'" + value.replace("'", "''") + "'"


@attrs.frozen
class MySQLColumn(LiveColumn):
    """A column with the name of its enum CHECK (whose members are ``allowed``)."""

    check: str | None = None


class MySQLIntrospector:
    """Reads the tables of the connection's current database (``DATABASE()``) from information_schema."""

    def __init__(self, dialect: MySQLDialect) -> None:
        self.dialect = dialect

    async def tables(self, connection: Connection) -> Mapping[str, LiveTable]:
        base_tables = {_text(row[0]) for row in await connection.fetch(TABLES_SQL)}
        columns: dict[str, list[LiveColumn]] = {}
        json_columns, enum_checks = await self._checks(connection)
        checks = await self._enum_checks(connection)
        for row in await connection.fetch(COLUMNS_SQL):
            table, name, declared, nullable, key, charset, default, extra = map(_text, row)
            if table not in base_tables:
                continue  # a view
            if (table, name) in json_columns and canonical(declared) == "longtext":
                declared = "JSON"
            check, allowed = checks.get((table, name), (None, None))
            columns.setdefault(table, []).append(
                MySQLColumn(
                    name=name,
                    type=display_type(declared, charset),
                    nullable=nullable == "YES",
                    primary_key=key == "PRI",
                    default=_default(default),
                    auto_increment="auto_increment" in (extra or "").lower(),
                    enum_values=enum_checks.get((table, name)),
                    check=check,
                    allowed=allowed,
                )
            )
        foreign_keys = await self._foreign_keys(connection)
        indexes = await self._indexes(connection)
        return {
            name: LiveTable(
                name=name,
                columns=tuple(table_columns),
                indexes=tuple(indexes.get(name, ())),
                foreign_keys=tuple(foreign_keys.get(name, ())),
            )
            for name, table_columns in columns.items()
        }

    async def _enum_checks(self, connection: Connection) -> dict[tuple[str, str], tuple[str, frozenset[str]]]:
        """(table, column) -> (constraint, members) of every ``CHECK (col IN (...))``; the server keeps
        the clause in step with a renamed column, and drops it with a dropped one."""
        tables = {_text(name): _text(table) for name, table in await connection.fetch(CHECK_TABLES_SQL)}
        found = {}
        for row in await connection.fetch(CHECK_CLAUSES_SQL):
            name, clause = map(_text, row)
            match = _ENUM_CHECK.fullmatch(clause.strip())
            if match is None or name not in tables:
                continue
            members = read_members(match[2] if match[2] is not None else match[3], backslash_escapes=True)
            if members is not None:
                found[(tables[name], match[1].replace("``", "`"))] = (name, members)
        return found

    async def _checks(
        self, connection: Connection
    ) -> tuple[set[tuple[str, str]], dict[tuple[str, str], tuple[str, ...]]]:
        """MariaDB's JSON columns (``json_valid`` checks) and the values of ``col IN (...)`` checks, by column."""
        server = self.dialect.server
        if server is None or not server.mariadb:
            return set(), {}  # MySQL 8 reports its native JSON type as json, and its checks without a table
        found, enums = set(), {}
        for row in await connection.fetch(MARIADB_CHECKS_SQL):
            table, clause = map(_text, row)
            match = _JSON_CHECK.fullmatch(clause.strip())
            if match is not None:
                found.add((table, match[1].replace("``", "`")))
            listed = _IN_CHECK.fullmatch(clause.strip())
            if listed is not None:
                values = _in_values(listed[2])
                if values is not None:
                    enums[(table, listed[1].replace("``", "`"))] = values
        return found, enums

    async def _foreign_keys(self, connection: Connection) -> dict[str, list[LiveForeignKey]]:
        parts: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
        for row in await connection.fetch(FOREIGN_KEYS_SQL):
            table, name, column, target, target_column = map(_text, row)
            parts.setdefault((table, name), []).append((column, target, target_column))
        keys: dict[str, list[LiveForeignKey]] = {}
        for (table, name), columns in parts.items():
            keys.setdefault(table, []).append(
                LiveForeignKey(
                    columns=tuple(c[0] for c in columns),
                    table=columns[0][1],
                    ref_columns=tuple(c[2] for c in columns),
                    name=name,
                )
            )
        return keys

    async def _indexes(self, connection: Connection) -> dict[str, list[LiveIndex]]:
        """Every index but PRIMARY, under its own name. The index InnoDB adds to back a foreign key
        (named after the key) is listed too: it is real, and a DROP INDEX must know it is there."""
        found: dict[tuple[str, str], tuple[bool, list[str | None]]] = {}
        for row in await connection.fetch(INDEXES_SQL):
            table, name, non_unique, column = map(_text, row)
            found.setdefault((table, name), (not int(non_unique), []))[1].append(column)
        indexes: dict[str, list[LiveIndex]] = {}
        for (table, name), (unique, columns) in found.items():
            if None in columns:
                continue  # a functional index (MySQL 8): not something a model declares
            # A unique key that ends with the live-row column is unique among live rows (see ddl.LIVE_COLUMN).
            live_only = unique and columns[-1] == LIVE_COLUMN
            names = tuple(map(str, columns[:-1] if live_only else columns))
            indexes.setdefault(table, []).append(
                LiveIndex(name=name, columns=names, unique=unique, live_only=live_only)
            )
        return indexes
