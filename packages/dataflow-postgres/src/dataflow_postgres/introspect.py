"""Reading the live schema from PostgreSQL's catalogs, for migrations.

Only the connection's current schema (the first existing one on its
``search_path``, which the URL's ``schema`` option sets) is read. Column
types are reported as ``format_type`` spells them (``character varying(100)``,
``timestamp with time zone``); the schema editor compares them with the
models' types. Besides the core's facts, two PostgreSQL ones ride along:
which unique indexes are constraints (they are dropped differently), and the
values an enum column's CHECK admits (so that a changed enum is migrated).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from dataflow.dialect import Connection
from dataflow.migrate.live import LiveColumn, LiveForeignKey, LiveIndex, LiveTable

from .connection import driver
from .types import check_name


@attrs.frozen
class PostgresColumn(LiveColumn):
    """A live column, with DataFlow's enum CHECK on it, if any."""

    check: str | None = None
    """The name of the CHECK DataFlow made for an enum (``<table>_<column>_check``)."""


@attrs.frozen
class PostgresIndex(LiveIndex):
    constraint: bool = False
    """A UNIQUE constraint's index (dropped with ``ALTER TABLE ... DROP CONSTRAINT``), not a bare index."""


_TABLES = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       COALESCE(a.attnum = ANY (p.indkey), false), pg_get_expr(d.adbin, d.adrelid), a.attidentity
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_index p ON p.indrelid = c.oid AND p.indisprimary
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY c.relname, a.attnum
"""

# Plain column indexes only: an expression or partial index is not something a model describes,
# except the live-rows unique index of a soft-delete model (WHERE deleted_at IS NULL).
_INDEXES = """
SELECT t.relname, x.relname, i.indisunique, con.oid IS NOT NULL,
       ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
             WHERE k.position <= i.indnkeyatts ORDER BY k.position),
       i.indpred IS NOT NULL
FROM pg_index i
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_class x ON x.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = t.oid AND con.contype = 'u'
WHERE n.nspname = current_schema() AND NOT i.indisprimary AND i.indexprs IS NULL
  AND (i.indpred IS NULL OR pg_get_expr(i.indpred, i.indrelid) = '(deleted_at IS NULL)')
ORDER BY t.relname, x.relname
"""

_FOREIGN_KEYS = """
SELECT t.relname, con.conname, r.relname,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, position)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.position),
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, position)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.position)
FROM pg_constraint con
JOIN pg_class t ON t.oid = con.conrelid
JOIN pg_class r ON r.oid = con.confrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE con.contype = 'f' AND n.nspname = current_schema()
ORDER BY t.relname, con.conname
"""

_CHECKS = """
SELECT t.relname, a.attname, quote_ident(a.attname), con.conname, pg_get_constraintdef(con.oid)
FROM pg_constraint con
JOIN pg_class t ON t.oid = con.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = con.conkey[1]
WHERE con.contype = 'c' AND cardinality(con.conkey) = 1 AND n.nspname = current_schema()
"""

# A literal in a deparsed CHECK: 'text' (quotes doubled inside) or a bare integer, e.g. (1)::bigint.
_LITERAL = re.compile(r"'((?:[^']|'')*)'|(?<![\w'])(-?\d+)(?![\w'])")


def allowed_values(definition: str, quoted_column: str) -> frozenset[str] | None:
    """The values of ``CHECK ((col = ANY (ARRAY[...])))`` or ``CHECK ((col = value))``, as text.

    That is how the server deparses DataFlow's ``CHECK (col IN (...))``; any
    other shape is None.
    """
    prefix, suffix = f"CHECK (({quoted_column} = ", "))"
    if not (definition.startswith(prefix) and definition.endswith(suffix)):
        return None
    body = definition[len(prefix) : -len(suffix)]
    if body.startswith("ANY (ARRAY[") and body.endswith("])"):
        body = body[len("ANY (ARRAY[") : -len("])")]
        parts = _split_top_level(body)
    else:
        parts = [body]
    values = set()
    for part in parts:
        literals = _LITERAL.findall(part)
        if len(literals) != 1:
            return None
        quoted, number = literals[0]
        values.add(number if number else quoted.replace("''", "'"))
    return frozenset(values)


def _split_top_level(text: str) -> list[str]:
    """``text`` split at commas outside quotes and parentheses."""
    parts, depth, quoted, start = [], 0, False, 0
    for position, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == ",":
            parts.append(text[start:position])
            start = position + 1
    parts.append(text[start:])
    return parts


def _numbered(identity: bytes | str | None, default: str | None) -> bool:
    """Identity columns say so in ``attidentity`` (``a``/``d``, a ``"char"`` asyncpg reads as bytes);
    serial ones have a ``nextval()`` default."""
    return identity in (b"a", b"d", "a", "d") or (default or "").startswith("nextval(")


class PostgresIntrospector:
    """Reads tables, columns, indexes, unique constraints, foreign keys and enum CHECKs in four queries."""

    async def tables(self, connection: Connection) -> Mapping[str, LiveTable]:
        conn = driver(connection)
        rows = await conn.fetch(_TABLES)
        index_rows = await conn.fetch(_INDEXES)
        key_rows = await conn.fetch(_FOREIGN_KEYS)
        check_rows = await conn.fetch(_CHECKS)
        return assemble(rows, index_rows, key_rows, check_rows)


def assemble(
    rows: Sequence[Sequence[Any]],
    index_rows: Sequence[Sequence[Any]],
    key_rows: Sequence[Sequence[Any]],
    check_rows: Sequence[Sequence[Any]],
) -> dict[str, LiveTable]:
    checks: dict[tuple[str, str], tuple[str, frozenset[str] | None]] = {}
    for table, column, quoted, name, definition in check_rows:
        if name == check_name(table, column):
            checks[(table, column)] = (name, allowed_values(definition, quoted))
    columns: dict[str, list[LiveColumn]] = {}
    for table, column, type_name, not_null, primary_key, default, identity in rows:
        listed = columns.setdefault(table, [])
        if column is None:  # a table without columns
            continue
        check, allowed = checks.get((table, column), (None, None))
        listed.append(
            PostgresColumn(
                name=column,
                type=type_name,
                nullable=not not_null,
                primary_key=primary_key,
                check=check,
                allowed=allowed,
                enum_values=None if allowed is None else tuple(sorted(allowed)),
                auto_increment=_numbered(identity, default),
                default=None if _numbered(identity, default) else default,
            )
        )
    indexes: dict[str, list[LiveIndex]] = {}
    for table, name, unique, constraint, index_columns, live_only in index_rows:
        indexes.setdefault(table, []).append(
            PostgresIndex(
                name=name, columns=tuple(index_columns), unique=unique, constraint=constraint, live_only=live_only
            )
        )
    keys: dict[str, list[LiveForeignKey]] = {}
    for table, name, target, source_columns, target_columns in key_rows:
        keys.setdefault(table, []).append(
            LiveForeignKey(columns=tuple(source_columns), table=target, ref_columns=tuple(target_columns), name=name)
        )
    return {
        table: LiveTable(
            name=table,
            columns=tuple(listed),
            indexes=tuple(indexes.get(table, ())),
            foreign_keys=tuple(keys.get(table, ())),
        )
        for table, listed in columns.items()
    }
