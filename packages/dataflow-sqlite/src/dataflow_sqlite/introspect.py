"""The live schema of an SQLite database, read through PRAGMAs and the CREATE TABLE text in ``sqlite_master``."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Mapping
from typing import Any

from dataflow.dialect import Connection
from dataflow.enum_checks import read_members
from dataflow.migrate.live import LiveColumn, LiveForeignKey, LiveIndex, LiveTable

from .connection import SQLiteConnection


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_ENUM_CHECK = re.compile(r'CONSTRAINT\s+"(?:[^"]|"")+"\s+CHECK\s*\(\s*"((?:[^"]|"")+)"\s+IN\s*\(')


def enum_checks(create_sql: str) -> dict[str, frozenset[str]]:
    """Column name -> members, from the enum CHECKs of a table's CREATE TABLE text (renames included:
    SQLite rewrites the column's name inside the CHECK)."""
    found: dict[str, frozenset[str]] = {}
    for match in _ENUM_CHECK.finditer(create_sql):
        end, quoted = match.end(), False
        while end < len(create_sql) and (quoted or create_sql[end] != ")"):
            quoted ^= create_sql[end] == "'"
            end += 1
        members = read_members(create_sql[match.end() : end])
        if members is not None:
            found[match[1].replace('""', '"')] = members
    return found


def _read_tables(raw: sqlite3.Connection) -> dict[str, LiveTable]:
    definitions = dict(
        raw.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
    )
    tables = {}
    for name, create_sql in definitions.items():
        quoted = _quote(name)
        info = list(raw.execute(f"PRAGMA table_info({quoted})"))
        # A lone INTEGER PRIMARY KEY is the rowid: SQLite numbers it.
        rowid = [row[1] for row in info if row[5]] if sum(1 for row in info if row[5]) == 1 else []
        checks = enum_checks(create_sql or "")
        columns = tuple(
            LiveColumn(
                name=col,
                type=declared or "",
                nullable=not notnull and not pk,
                primary_key=bool(pk),
                default=default,
                auto_increment=col in rowid and (declared or "").upper() == "INTEGER",
                allowed=checks.get(col),
            )
            for _, col, declared, notnull, default, pk in info
        )
        indexes = []
        for _, index_name, unique, origin, partial in raw.execute(f"PRAGMA index_list({quoted})"):
            if origin == "pk" or (partial and not _live_rows_index(raw, index_name)):
                continue  # a partial index other than a soft-delete model's is nothing a model describes
            index_columns = tuple(r[2] for r in raw.execute(f"PRAGMA index_info({_quote(index_name)})"))
            # A UNIQUE constraint's index is called sqlite_autoindex_*; report it under DataFlow's uq_* name.
            reported = f"uq_{name}_{'_'.join(index_columns)}" if origin == "u" else index_name
            indexes.append(
                LiveIndex(name=reported, columns=index_columns, unique=bool(unique), live_only=bool(partial))
            )
        keys: dict[int, list[Any]] = {}
        for key_id, _, target, source, to, *_ in raw.execute(f"PRAGMA foreign_key_list({quoted})"):
            keys.setdefault(key_id, []).append((source, target, to))
        foreign_keys = tuple(
            LiveForeignKey(
                columns=tuple(p[0] for p in parts), table=parts[0][1], ref_columns=tuple(p[2] for p in parts)
            )
            for parts in keys.values()
        )
        tables[name] = LiveTable(name=name, columns=columns, indexes=tuple(indexes), foreign_keys=foreign_keys)
    return tables


def _live_rows_index(raw: sqlite3.Connection, name: str) -> bool:
    """Is this partial index a soft-delete model's ``... WHERE "deleted_at" IS NULL``?"""
    row = raw.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)).fetchone()
    return row is not None and str(row[0]).endswith('WHERE "deleted_at" IS NULL')


class SQLiteIntrospector:
    async def tables(self, connection: Connection) -> Mapping[str, LiveTable]:
        assert isinstance(connection, SQLiteConnection)
        return await connection.run(_read_tables)
