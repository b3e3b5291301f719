"""Migration SQL for PostgreSQL: type comparison, conversions, row checks and the migration lock.

PostgreSQL's DDL is transactional: the editor's lock makes the whole apply
(reading the schema, checking the rows, the plan, its history row) one
transaction, so this module only has to say what each step's SQL is, which
type changes can lose data, and which rows they would lose.

Types are compared in one canonical spelling (``character varying(100)``
and ``VARCHAR(100)`` are both ``varchar(100)``). A change is *widening*
when every old value converts without loss (``integer`` to ``bigint``,
``varchar(n)`` to a longer one or to ``text``, ``real`` to ``double
precision``, a ``numeric`` to a wider or unconstrained one, anything to
``text``); anything else is narrowing, so destructive, and checked against the rows
where the loss can be counted in SQL:

- to ``varchar(n)``: values longer than ``n``;
- to ``bigint``: text that is not an integer, numbers with a fraction or out
  of range;
- to ``double precision`` or ``numeric``: text that is not a number, values
  that do not survive the conversion;
- to ``boolean`` from integers: values other than 0 and 1;
- to ``date`` from a timestamp: values with a time of day (in UTC);
- to an enum: values outside it.

Other conversions (text to ``uuid``, ``jsonb``, ``timestamptz``, ...) cannot be
counted in advance; they need ``allow_destructive``, and a value that does
not convert fails the plan's transaction, which leaves the schema and data
as they were.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from dataflow.fields import FieldSchema
from dataflow.migrate.editor import SchemaEditor
from dataflow.migrate.live import LiveColumn
from dataflow.migrate.steps import Statement
from dataflow.schema import ModelSchema
from dataflow.session import Session

from .introspect import PostgresColumn, PostgresIndex
from .types import check_name, enum_check, enum_values, plain_type

if TYPE_CHECKING:
    from dataflow.dialect import Dialect

LOCK_KEY = int.from_bytes(hashlib.sha256(b"dataflow_migrate").digest()[:4], "big", signed=True)
"""The first half of the advisory lock key; the second is the hash of the current schema's name."""

_ALIASES = {
    "character varying": "varchar",
    "character": "char",
    "bpchar": "char",
    "int8": "bigint",
    "int4": "integer",
    "int": "integer",
    "int2": "smallint",
    "float8": "double precision",
    "float4": "real",
    "bool": "boolean",
    "decimal": "numeric",
    "timestamp with time zone": "timestamptz",
    "timestamp without time zone": "timestamp",
    "time with time zone": "timetz",
    "time without time zone": "time",
}
_TYPE = re.compile(r"^(?P<base>[a-z ]+?)\s*(?:\((?P<modifier>[\d,\s]+)\))?(?P<rest>(?: with(?:out)? time zone)?)$")

_INTEGER_RANGES = {
    "smallint": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "bigint": (-(2**63), 2**63 - 1),
}
_FLOATS = ("real", "double precision")
_TEXTS = ("text", "varchar", "char")
_NUMBER_PATTERN = r"^\s*([-+]?([0-9]+\.?[0-9]*|\.[0-9]+)(e[-+]?[0-9]+)?|nan|[-+]?inf(inity)?)\s*$"


def canonical(type_name: str) -> str:
    """One spelling per type: ``"character varying(100)"`` and ``"VARCHAR(100)"`` are ``"varchar(100)"``.

    An enum's ``CHECK (...)`` is not part of the type; user-defined and array
    types are kept as written (lower-cased).
    """
    text = " ".join(type_name.lower().split())
    text = text.partition(" check ")[0]
    match = _TYPE.match(text)
    if match is None:
        return text
    base, modifier, rest = match["base"], match["modifier"], match["rest"]
    # "timestamp(3) with time zone" is timestamptz(3).
    base = _ALIASES.get(base + rest, _ALIASES.get(base, base + rest))
    return f"{base}({modifier.replace(' ', '')})" if modifier else base


def _split(type_name: str) -> tuple[str, list[int]]:
    base, _, modifier = type_name.partition("(")
    return base, [int(part) for part in modifier.rstrip(")").split(",") if part]


def widens(old: str, new: str) -> bool:
    """Does every value of canonical type ``old`` convert to ``new`` without loss?"""
    if old == new:
        return True
    (old_base, old_mod), (new_base, new_mod) = _split(old), _split(new)
    if new_base == "text" or (new_base == "varchar" and not new_mod):
        return True  # every value has a text form
    if old_base == new_base:
        if not new_mod:
            return True  # varchar(n) -> varchar, numeric(p,s) -> numeric, timestamptz(3) -> timestamptz
        if not old_mod:
            return False
        if new_base == "numeric":
            old_scale = old_mod[1] if len(old_mod) > 1 else 0
            new_scale = new_mod[1] if len(new_mod) > 1 else 0
            return new_mod[0] - new_scale >= old_mod[0] - old_scale and new_scale >= old_scale
        return new_mod[0] >= old_mod[0]
    if old_base in _INTEGER_RANGES and new_base in _INTEGER_RANGES:
        return _INTEGER_RANGES[new_base][1] >= _INTEGER_RANGES[old_base][1]
    if old_base in _INTEGER_RANGES and new_base == "numeric":
        return not new_mod
    return (old_base, new_base) in {
        ("smallint", "double precision"),
        ("integer", "double precision"),
        ("smallint", "real"),
        ("real", "double precision"),
        ("boolean", "smallint"),
        ("boolean", "integer"),
        ("boolean", "bigint"),
        # Stored as UTC, DataFlow's reading of a naive timestamp (see conversion()).
        ("timestamp", "timestamptz"),
        ("date", "timestamptz"),
        # JSONB keeps the last of duplicate keys and normalises spacing: the document itself survives.
        ("json", "jsonb"),
    }


def conversion(old: str, new: str, column: str, new_type: str) -> str:
    """The ``USING`` expression that turns ``column`` of canonical type ``old`` into ``new_type``."""
    old_base, new_base = _split(old)[0], _split(new)[0]
    if new_base in ("varchar", "char"):
        # An explicit ::varchar(n) would truncate silently; assigning text raises on a value too long.
        return f"{column}::text"
    if old_base == "timestamp" and new_base == "timestamptz":
        return f"{column} AT TIME ZONE 'UTC'"
    if old_base == "date" and new_base == "timestamptz":
        return f"{column}::timestamp AT TIME ZONE 'UTC'"
    if old_base == "timestamptz" and new_base in ("date", "time", "timestamp"):
        return f"({column} AT TIME ZONE 'UTC')::{new_type}"
    if old_base in _INTEGER_RANGES and new_base == "boolean":
        return f"{column} <> 0"
    if old_base == "boolean" and new_base in _INTEGER_RANGES:
        return f"{column}::integer"
    return f"{column}::{new_type}"


def lossy_rows(old: str, new: str, column: str) -> str | None:
    """A condition true for the rows that converting ``old`` to ``new`` would lose or refuse; None if unknown."""
    (old_base, _), (new_base, new_mod) = _split(old), _split(new)
    if new_base in ("varchar", "char") and new_mod:
        return f"length({column}::text) > {new_mod[0]}"
    if new_base in _INTEGER_RANGES:
        low, high = _INTEGER_RANGES[new_base]
        if old_base in _INTEGER_RANGES:
            return f"{column} NOT BETWEEN {low} AND {high}"
        if old_base == "numeric":
            return f"NOT ({column} BETWEEN {low} AND {high}) OR {column} <> trunc({column})"
        if old_base in _FLOATS:
            # Compared as floats: the bounds are exact powers of two there.
            return (
                f"NOT ({column} >= {low}::double precision AND {column} < {high + 1}::double precision) "
                f"OR {column} <> trunc({column})"
            )
        if old_base in _TEXTS:
            return (
                f"CASE WHEN btrim({column}) ~ '^[-+]?[0-9]+$' "
                f"THEN btrim({column})::numeric NOT BETWEEN {low} AND {high} ELSE true END"
            )
        return None
    if new_base in ("double precision", "numeric") and not new_mod:
        if old_base in _TEXTS:
            return f"{column} !~* '{_NUMBER_PATTERN}'"
        if new_base == "numeric" and old_base in _FLOATS:
            return f"{column}::numeric::{old_base} <> {column}"
        if new_base == "double precision" and (old_base in _INTEGER_RANGES or old_base == "numeric"):
            fits = f"abs({column}) < 1e308" if old_base == "numeric" else "true"
            return f"CASE WHEN {fits} THEN {column}::double precision::numeric <> {column}::numeric ELSE true END"
        return None
    if new_base == "boolean" and old_base in _INTEGER_RANGES:
        return f"{column} NOT IN (0, 1)"
    if new_base == "date" and old_base == "timestamptz":
        return f"({column} AT TIME ZONE 'UTC')::time <> '00:00'"
    if new_base == "date" and old_base == "timestamp":
        return f"{column}::time <> '00:00'"
    return None


def _allowed(live: LiveColumn) -> frozenset[str] | None:
    return live.allowed if isinstance(live, PostgresColumn) else None


def _check(live: LiveColumn) -> str | None:
    return live.check if isinstance(live, PostgresColumn) else None


class PostgresSchemaEditor(SchemaEditor):
    """The core's editor, with PostgreSQL's type names, conversions, enum CHECKs and advisory lock.

    Unique groups are ``UNIQUE`` constraints (as CREATE TABLE makes them),
    named ``uq_<table>_<columns>``; foreign keys added by a migration are
    named ``fk_<table>_<column>`` as in CREATE TABLE.
    """

    def __init__(self, dialect: Dialect, tables: Mapping[str, ModelSchema]) -> None:
        super().__init__(dialect, tables)
        self._renamed_checks: dict[tuple[str, str], str] = {}

    # -- comparing ----------------------------------------------------------------

    def same_type(self, field: FieldSchema, live: LiveColumn) -> bool:
        if canonical(live.type) != canonical(plain_type(field)):
            return False
        return enum_values(field) == _allowed(live)

    def narrowing(self, field: FieldSchema, live: LiveColumn) -> bool:
        if not widens(canonical(live.type), canonical(plain_type(field))):
            return True
        wanted, allowed = enum_values(field), _allowed(live)
        return wanted is not None and (allowed is None or not allowed <= wanted)

    def widens(self, old: str, new: str) -> bool:
        return widens(canonical(old), canonical(new))

    def column_type_name(self, schema: ModelSchema, field: FieldSchema) -> str:
        return plain_type(field)  # without an enum's CHECK: the plan lists its members apart

    # -- statements ---------------------------------------------------------------

    def column_definition(self, schema: ModelSchema, field: FieldSchema, *, nullable: bool) -> str:
        q = self.quote
        sql = f"{q(field.name)} {self.dialect.column_type(field)}"
        if not nullable:
            sql += " NOT NULL"
        if field.references is not None:
            target = self.tables[field.references]
            name = self.dialect.constraint_name(schema, "fk", (field.name,))
            sql += f" CONSTRAINT {q(name)} REFERENCES {q(target.table)} ({q(target.primary_key)})"
        return sql

    def rename_column(self, schema: ModelSchema, old: str, new: str) -> list[Statement]:
        statements = super().rename_column(schema, old, new)
        table = self.live.get(schema.table)
        live = table.column(old) if table is not None else None
        check = _check(live) if live is not None else None
        if check is not None and check != check_name(schema.table, new):
            # Keep the enum CHECK recognisable under the column's new name.
            renamed = check_name(schema.table, new)
            self._renamed_checks[(schema.table, check)] = renamed
            q = self.quote
            statements.append((f"ALTER TABLE {q(schema.table)} RENAME CONSTRAINT {q(check)} TO {q(renamed)}", ()))
        return statements

    def alter_column(self, schema: ModelSchema, field: FieldSchema, live: LiveColumn) -> list[Statement]:
        table, column = self.quote(schema.table), self.quote(field.name)
        statements: list[Statement] = []
        if not self.same_type(field, live):
            check = _check(live)
            if check is not None:
                check = self._renamed_checks.get((schema.table, check), check)
                statements.append((f"ALTER TABLE {table} DROP CONSTRAINT {self.quote(check)}", ()))
            old, new_type = canonical(live.type), plain_type(field)
            new = canonical(new_type)
            if old != new:
                using = conversion(old, new, column, new_type)
                statements.append((f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {new_type} USING {using}", ()))
            if enum_values(field) is not None:
                name = self.quote(check_name(schema.table, field.name))
                statements.append((f"ALTER TABLE {table} ADD CONSTRAINT {name} {enum_check(field, column)}", ()))
        if live.nullable != field.nullable:
            statements += self.set_nullable(schema, field, nullable=field.nullable)
        return statements

    def add_index(self, schema: ModelSchema, columns: Sequence[str], unique: bool) -> list[Statement]:
        if not unique or self.dialect.live_unique(schema):
            return super().add_index(schema, columns, unique)
        name = self.dialect.constraint_name(schema, "uq", columns)
        cols = ", ".join(self.quote(c) for c in columns)
        return [(f"ALTER TABLE {self.quote(schema.table)} ADD CONSTRAINT {self.quote(name)} UNIQUE ({cols})", ())]

    def drop_index(self, schema: ModelSchema, name: str, unique: bool) -> list[Statement]:
        table = self.live.get(schema.table)
        index = next((i for i in table.indexes if i.name == name), None) if table is not None else None
        if isinstance(index, PostgresIndex) and index.constraint:
            return [(f"ALTER TABLE {self.quote(schema.table)} DROP CONSTRAINT {self.quote(name)}", ())]
        return [(f"DROP INDEX {self.quote(name)}", ())]

    # -- data checks ----------------------------------------------------------------

    def offending_rows(self, schema: ModelSchema, field: FieldSchema, live: LiveColumn) -> Statement | None:
        """Rows the change would break: nulls for NOT NULL, values the new type or enum cannot hold.

        The migrator runs the check inside the plan's transaction just before the step, so the
        column already has the name the model gives it (after a rename in the same plan).
        """
        column = self.quote(field.name)
        conditions: list[str] = []
        params: list[Any] = []
        if live.nullable and not field.nullable:
            conditions.append(f"{column} IS NULL")
        if not self.same_type(field, live) and self.narrowing(field, live):
            lost = lossy_rows(canonical(live.type), canonical(plain_type(field)), column)
            if lost is not None:
                conditions.append(f"({column} IS NOT NULL AND ({lost}))")
            wanted = enum_values(field)
            if wanted is not None:
                params.append(sorted(wanted))
                conditions.append(f"{column}::text <> ALL ({self.dialect.placeholder(len(params))}::text[])")
        if not conditions:
            return None
        return (f"SELECT COUNT(*) FROM {self.quote(schema.table)} WHERE " + " OR ".join(conditions), tuple(params))

    # -- running ------------------------------------------------------------------------

    @asynccontextmanager
    async def lock(self, session: Session) -> AsyncIterator[None]:
        """One transaction holding an advisory lock of the database and schema: a second migrator waits.

        Reading the schema, checking the rows, applying the plan and recording
        it all happen inside (the plan itself on a savepoint), so a failure
        anywhere leaves nothing behind. The lock is transaction-scoped: it ends
        with the transaction, so it cannot outlive a failed or cancelled run on
        a pooled connection, and it holds behind PgBouncer in transaction mode,
        where a session-level lock and its unlock could reach different servers.
        """
        async with session.atomic():
            await session.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext(COALESCE(current_schema(), '')))",
                (LOCK_KEY,),
                operation="migrate_lock",
            )
            yield
