"""Migrations on MySQL and MariaDB: the DDL of each step, and the ``GET_LOCK`` migration lock.

DDL is not transactional here: every ALTER TABLE commits by itself. The core
runner therefore applies a plan step by step and records each step as it
completes; this editor makes each step one ALTER TABLE statement wherever it
can (an index or foreign key that must go with a column goes in the same
statement), so that a step either happened or did not, and a failed run
resumes from the live schema.

A column's type depends on the model around it, not only on the field: a
``str`` in a unique group is ``VARCHAR(255)``, elsewhere ``LONGTEXT``; a
foreign key takes its target key's type. The editor therefore compares and
writes types through :func:`dataflow_mysql.ddl.field_column_type` with the
field's model.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import attrs

from dataflow.enum_checks import enum_members
from dataflow.errors import MigrationError
from dataflow.fields import FieldKind, FieldSchema, utcnow
from dataflow.migrate.editor import SchemaEditor
from dataflow.migrate.live import LiveColumn, LiveIndex
from dataflow.migrate.steps import Statement
from dataflow.schema import ModelSchema
from dataflow.session import Session

from .ddl import LIVE_COLUMN, enum_checks, field_column_type, live_column
from .introspect import MySQLColumn
from .migration_lock import lock_name, migration_lock
from .type_changes import (
    BINARIES,
    BLOBS,
    INTEGERS,
    STRINGS,
    TEXTS,
    ColumnType,
    canonical,
    integer_range,
    prefixed,
    widens,
)
from .types import KEY_STR_LENGTH, column_type, index_bytes

if TYPE_CHECKING:
    from .dialect import MySQLDialect


def _only(schema: ModelSchema, field: FieldSchema) -> ModelSchema:
    """``schema`` with ``field`` as its one field: to make that field's CHECK alone."""
    return attrs.evolve(schema, fields=(field,), indexes=(), unique=())


class MySQLSchemaEditor(SchemaEditor):
    """ALTER TABLE for MySQL 8 and MariaDB 10.5+.

    Type and nullability change together through ``MODIFY COLUMN`` (which
    restates the whole column); a unique constraint is a unique index; indexes
    on unbounded text take a 255-character prefix, as at CREATE TABLE.
    """

    def __init__(self, dialect: MySQLDialect, tables: Mapping[str, ModelSchema]) -> None:
        super().__init__(dialect, tables)
        self.mysql = dialect
        self._gone: set[tuple[str, str]] = set()
        """(table, index) dropped by an earlier step's statement of this plan."""
        self._renamed: dict[str, dict[str, str]] = {}
        self._checks_made: set[tuple[str, str]] = set()
        """(table, column) whose CHECK this plan already made the model's (with a rename)."""
        self._live_columns: set[str] = set()
        """Tables this plan gave the live-row column (``ddl.LIVE_COLUMN``)."""
        self._dropped_keys: set[tuple[str, str]] = set()
        """(table, foreign key) dropped by an earlier step of this plan."""

    # -- the model's column types --------------------------------------------------

    def owner(self, field: FieldSchema, live: LiveColumn | None = None) -> ModelSchema | None:
        """The model ``field`` belongs to: found through its live column's table, or the field itself.

        The core asks ``same_type(field, live)`` without the model, but on MySQL
        the type depends on it (unique groups, foreign keys).
        """
        if live is not None:
            for table in self.live.values():
                if any(column is live for column in table.columns):
                    for schema in self.tables.values():
                        if schema.table == table.name and schema.by_name.get(field.name) == field:
                            return schema
        for schema in self.tables.values():
            if any(candidate is field for candidate in schema.fields):
                return schema
        return next((s for s in self.tables.values() if field in s.fields), None)

    def expected_type(self, schema: ModelSchema | None, field: FieldSchema) -> str:
        """The column type ``field`` has in ``schema``'s CREATE TABLE."""
        if schema is None:
            return column_type(field, keyed=field.primary_key)
        return field_column_type(field, schema, self.tables)

    def same_type(self, field: FieldSchema, live: LiveColumn) -> bool:
        same = canonical(self.expected_type(self.owner(field, live), field)) == canonical(live.type)
        return same and enum_members(field) == live.allowed

    def narrowing(self, field: FieldSchema, live: LiveColumn) -> bool:
        if not widens(live.type, self.expected_type(self.owner(field, live), field)):
            return True
        wanted, allowed = enum_members(field), live.allowed
        return wanted is not None and (allowed is None or not allowed <= wanted)

    def widens(self, old: str, new: str) -> bool:
        return widens(old, new)

    def column_type_name(self, schema: ModelSchema, field: FieldSchema) -> str:
        return self.expected_type(schema, field)

    # -- columns ------------------------------------------------------------------------

    def column_definition(self, schema: ModelSchema, field: FieldSchema, *, nullable: bool) -> str:
        """The column as MODIFY/ADD COLUMN restates it (a foreign key is a separate clause on MySQL)."""
        definition = f"{self.quote(field.name)} {self.expected_type(schema, field)}"
        return definition + (" NULL" if nullable else " NOT NULL")

    def add_column(self, schema: ModelSchema, field: FieldSchema) -> list[Statement]:
        """One statement, so the step happens entirely or not at all.

        A NOT NULL column with a default is added with that default (which
        fills the existing rows), and the default is then dropped: DataFlow
        keeps defaults in the model, not in the table.
        """
        table = self.quote(schema.table)
        definition = self.column_definition(schema, field, nullable=field.nullable)
        params: tuple[Any, ...] = ()
        value = None if field.nullable or field.required else self._default(field)
        if value is not None:
            definition += f" DEFAULT ({self.placeholder()})"
            params = (value,)
        clauses = [f"ADD COLUMN {definition}"]
        if field.references is not None and field.references in self.tables:
            target = self.tables[field.references]
            name = self.dialect.constraint_name(schema, "fk", (field.name,))
            clauses.append(
                f"ADD CONSTRAINT {self.quote(name)} FOREIGN KEY ({self.quote(field.name)}) "
                f"REFERENCES {self.quote(target.table)} ({self.quote(target.primary_key)})"
            )
        # With a parameter bound, the driver formats the text: a % in an enum literal must be doubled.
        clauses += [check.replace("%", "%%") if params else check for check in self._add_checks(schema, field)]
        statements: list[Statement] = [(f"ALTER TABLE {table} " + ", ".join(clauses), params)]
        if value is not None:
            statements.append((f"ALTER TABLE {table} ALTER COLUMN {self.quote(field.name)} DROP DEFAULT", ()))
        return statements

    def _add_checks(self, schema: ModelSchema, field: FieldSchema) -> list[str]:
        """``ADD CONSTRAINT ck_... CHECK (col IN (...))`` for an enum field, as CREATE TABLE has it."""
        checks = enum_checks(_only(schema, field), quote=self.quote, namer=self.dialect.constraint_name)
        return [f"ADD {check}" for check in checks]

    def _default(self, field: FieldSchema) -> Any:
        value = utcnow() if field.managed else field.make_default()
        encoder = self.dialect.encoder(field)
        return encoder(value) if encoder is not None and value is not None else value

    def rename_column(self, schema: ModelSchema, old: str, new: str) -> list[Statement]:
        """``RENAME COLUMN``; a column under an enum CHECK takes the model's CHECK, under its new name, in the
        same statement (MySQL 8 will not rename a column a CHECK uses)."""
        self._renamed.setdefault(schema.table, {})[old] = new
        check = self._check_of(schema.table, old)
        field = schema.by_name.get(new)
        if check is None or field is None:
            return super().rename_column(schema, old, new)
        self._checks_made.add((schema.table, new))
        clauses = [f"DROP CONSTRAINT {self.quote(check)}", f"RENAME COLUMN {self.quote(old)} TO {self.quote(new)}"]
        clauses += self._add_checks(schema, field)
        return [(f"ALTER TABLE {self.quote(schema.table)} " + ", ".join(clauses), ())]

    def _check_of(self, table: str, column: str) -> str | None:
        """The name of the live enum CHECK on ``table.column`` (by its name before this plan), if any."""
        live = self.live.get(table)
        found = live.column(column) if live is not None else None
        return found.check if isinstance(found, MySQLColumn) else None

    def drop_column(self, schema: ModelSchema, column: str) -> list[Statement]:
        """Drops the column's foreign key and every index it is part of in the same statement:
        MySQL refuses to drop a column a foreign key needs, and MariaDB one in a multi-column unique key."""
        clauses = []
        live = self.live.get(schema.table)
        if live is not None:
            for key in live.foreign_keys:
                if column in key.columns and key.name is not None:
                    clauses.append(f"DROP FOREIGN KEY {self.quote(key.name)}")
            for index in self._live_indexes(schema.table):
                if column in index.columns:
                    clauses.append(f"DROP INDEX {self.quote(index.name)}")
                    self._gone.add((schema.table, index.name))
        check = self._check_of(schema.table, column)
        if check is not None:
            clauses.append(f"DROP CONSTRAINT {self.quote(check)}")  # MySQL 8 will not drop a column a CHECK uses
        clauses.append(f"DROP COLUMN {self.quote(column)}")
        return [(f"ALTER TABLE {self.quote(schema.table)} " + ", ".join(clauses), ())]

    def alter_column(self, schema: ModelSchema, field: FieldSchema, live: LiveColumn) -> list[Statement]:
        """``MODIFY COLUMN`` with the model's type and nullability, in one statement.

        When the column moves to or from a type that can only be indexed by a
        prefix (LONGTEXT, LONGBLOB, JSON), its indexes are dropped and those the
        model keeps are made again in the same statement, with or without the
        prefix: MySQL cannot index unbounded text in full.
        """
        clauses: list[str] = []
        new_type = self.expected_type(schema, field)
        readded: list[str] = []
        if not self.same_type(field, live) and (index_bytes(new_type) is None or prefixed(live.type)):
            wanted = {(group, False) for group in schema.indexes} | {(group, True) for group in schema.unique}
            for index in self._live_indexes(schema.table):
                if field.name not in index.columns:
                    continue
                clauses.append(f"DROP INDEX {self.quote(index.name)}")
                if (index.columns, index.unique) in wanted:
                    readded.append(self._index_clause(schema, index.columns, index.unique, index.name))
                else:
                    self._gone.add((schema.table, index.name))
        clauses.append(f"MODIFY COLUMN {self.column_definition(schema, field, nullable=field.nullable)}")
        clauses += readded
        if enum_members(field) != live.allowed and (schema.table, field.name) not in self._checks_made:
            # The members changed (or the column stopped being an enum): replace its CHECK in the same statement.
            check = live.check if isinstance(live, MySQLColumn) else None
            if check is not None:
                clauses.append(f"DROP CONSTRAINT {self.quote(check)}")
            clauses += self._add_checks(schema, field)
        return [(f"ALTER TABLE {self.quote(schema.table)} " + ", ".join(clauses), ())]

    def set_nullable(self, schema: ModelSchema, field: FieldSchema, *, nullable: bool) -> list[Statement]:
        definition = self.column_definition(schema, field, nullable=nullable)
        return [(f"ALTER TABLE {self.quote(schema.table)} MODIFY COLUMN {definition}", ())]

    # -- indexes ----------------------------------------------------------------------------

    def _live_indexes(self, table: str) -> list[LiveIndex]:
        """The table's live indexes still there at this point of the plan, with renamed columns' new names."""
        live = self.live.get(table)
        if live is None:
            return []
        renamed = self._renamed.get(table, {})
        return [
            attrs.evolve(index, columns=tuple(renamed.get(c, c) for c in index.columns))
            for index in live.indexes
            if (table, index.name) not in self._gone
        ]

    def _index_clause(self, schema: ModelSchema, columns: Sequence[str], unique: bool, name: str) -> str:
        parts = []
        for column in columns:
            field = schema.by_name.get(column)
            prefixed = field is not None and index_bytes(self.expected_type(schema, field)) is None
            parts.append(f"{self.quote(column)}({KEY_STR_LENGTH})" if prefixed else self.quote(column))
        if unique and schema.soft_delete:
            parts.append(self.quote(LIVE_COLUMN))
        kind = "UNIQUE INDEX" if unique else "INDEX"
        return f"ADD {kind} {self.quote(name)} ({', '.join(parts)})"

    def add_index(self, schema: ModelSchema, columns: Sequence[str], unique: bool) -> list[Statement]:
        name = self.dialect.constraint_name(schema, "uq" if unique else "ix", columns)
        clauses = [self._index_clause(schema, columns, unique, name)]
        if unique and schema.soft_delete and not self._has_live_column(schema):
            clauses.insert(0, f"ADD COLUMN {live_column(self.quote)}")
            self._live_columns.add(schema.table)
        return [(f"ALTER TABLE {self.quote(schema.table)} " + ", ".join(clauses), ())]

    def _has_live_column(self, schema: ModelSchema) -> bool:
        live = self.live.get(schema.table)
        there = live is not None and live.column(LIVE_COLUMN) is not None
        return there or schema.table in self._live_columns

    def drop_index(self, schema: ModelSchema, name: str, unique: bool) -> list[Statement]:
        """``DROP INDEX``; an index that a foreign key relies on is replaced by one named after the key,
        in the same statement (MySQL refuses to leave a foreign key without an index)."""
        if (schema.table, name) in self._gone:
            return []  # already dropped with its column
        remaining = [index for index in self._live_indexes(schema.table) if index.name != name]
        clauses = []
        live = self.live.get(schema.table)
        dropped = next((index for index in self._live_indexes(schema.table) if index.name == name), None)
        for key in live.foreign_keys if live is not None else ():
            if key.name is None or (schema.table, key.name) in self._dropped_keys:
                continue  # unnamed, or dropped by an earlier step of this plan
            if dropped is None or dropped.columns[: len(key.columns)] != key.columns:
                continue
            if not any(index.columns[: len(key.columns)] == key.columns for index in remaining):
                clauses.append(f"ADD INDEX {self.quote(key.name)} ({', '.join(self.quote(c) for c in key.columns)})")
        clauses.append(f"DROP INDEX {self.quote(name)}")
        self._gone.add((schema.table, name))
        return [(f"ALTER TABLE {self.quote(schema.table)} " + ", ".join(clauses), ())]

    # -- foreign keys ---------------------------------------------------------------------------

    def drop_foreign_key(self, schema: ModelSchema, name: str | None) -> list[Statement]:
        """``DROP FOREIGN KEY``, and in the same statement the index InnoDB made for the key (named
        after it, never one of the model's ``ix_``/``uq_`` indexes): MySQL and MariaDB keep it otherwise."""
        if name is None:
            raise MigrationError(f"cannot drop an unnamed foreign key of {schema.table}")
        clauses = [f"DROP FOREIGN KEY {self.quote(name)}"]
        self._dropped_keys.add((schema.table, name))
        backing = next((index for index in self._live_indexes(schema.table) if index.name == name), None)
        if backing is not None:
            clauses.append(f"DROP INDEX {self.quote(name)}")
            self._gone.add((schema.table, name))
        return [(f"ALTER TABLE {self.quote(schema.table)} " + ", ".join(clauses), ())]

    # -- data checks ------------------------------------------------------------------------

    def offending_rows(self, schema: ModelSchema, field: FieldSchema, live: LiveColumn) -> Statement | None:
        """Rows that a MODIFY COLUMN would break or silently change.

        NULLs for NOT NULL; for a narrowing type: strings longer than the new
        length in characters (``CHAR_LENGTH``: ``LENGTH`` counts bytes),
        binaries longer in bytes, numbers with a fraction (which MySQL rounds
        away without a word) or out of an integer type's range, text that is
        not an integer for an integer type or not JSON for JSON. Strings
        longer than the model's ``MaxLength`` count too.
        """
        # The rows are checked before any step runs: a column renamed by this plan still has its old name.
        column = self.quote(live.name)
        conditions: list[str] = []
        params: list[Any] = []
        if live.nullable and not field.nullable:
            conditions.append(f"{column} IS NULL")
        new_type = self.expected_type(schema, field)
        limit: int | None = None
        if not widens(live.type, new_type):
            new, old = ColumnType.parse(new_type), ColumnType.parse(live.type)
            if new.base in STRINGS:
                limit = new.size
            elif new.base in (*BINARIES, *BLOBS, *TEXTS) and new.base != "json":
                conditions.append(f"LENGTH({column}) > {self.placeholder()}")
                params.append(new.capacity)
            elif new.base in INTEGERS and old.base in ("float", "double", "decimal"):
                low, high = integer_range(new)
                p = self.placeholder()
                conditions.append(f"{column} <> FLOOR({column}) OR {column} < {p} OR {column} > {p}")
                params += [low, high]
            elif new.base in INTEGERS and (old.base in (*STRINGS, *TEXTS)):
                conditions.append(f"{column} NOT REGEXP {self.placeholder()}")
                params.append("^[-+]?[0-9]+$")
            if new.base == "json" and old.base != "json":
                conditions.append(f"JSON_VALID({column}) = 0")
        wanted, allowed = enum_members(field), live.allowed
        if wanted is not None and field.enum_type is not None and (allowed is None or not allowed <= wanted):
            members = [member.value for member in field.enum_type]
            conditions.append(f"{column} NOT IN ({', '.join(self.placeholder() for _ in members)})")
            params += members
        if field.kind is FieldKind.STR and field.max_length is not None:
            limit = min(limit, field.max_length) if limit is not None else field.max_length
        if limit is not None:
            conditions.append(f"CHAR_LENGTH({column}) > {self.placeholder()}")
            params.append(limit)
        if not conditions:
            return None
        return (f"SELECT COUNT(*) FROM {self.quote(schema.table)} WHERE " + " OR ".join(conditions), tuple(params))

    def duplicate_rows(self, schema: ModelSchema, columns: Sequence[str]) -> Statement:
        """Rows beyond the first of each group of equal keys; a key with a NULL is never a duplicate.

        The rows are checked before any step runs, so a key column this plan
        adds is not there yet: a nullable one will be NULL in every row (no
        duplicates), one with a default will hold that one value everywhere
        (the key repeats wherever the rest of it does).
        """
        table = self.quote(schema.table)
        live = self.live.get(schema.table)
        existing = {c.name for c in live.columns} if live is not None else set(columns)
        added = [schema.by_name[c] for c in columns if c not in existing and c in schema.by_name]
        if any(field.nullable or field.required for field in added):
            return ("SELECT 0", ())
        present = [c for c in columns if c in existing]
        live_only = schema.soft_delete and "deleted_at" in existing
        live_rows = f" WHERE {self.quote('deleted_at')} IS NULL" if live_only else ""
        if not present:
            return (f"SELECT GREATEST(COUNT(*) - 1, 0) FROM {table}{live_rows}", ())
        cols = ", ".join(self.quote(c) for c in present)
        not_null = " AND ".join(f"{self.quote(c)} IS NOT NULL" for c in present)
        if live_only:
            not_null += f" AND {self.quote('deleted_at')} IS NULL"  # soft-deleted rows hold no unique values
        return (
            f"SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT COUNT(*) AS n FROM {table} "
            f"WHERE {not_null} GROUP BY {cols} HAVING COUNT(*) > 1) duplicates",
            (),
        )

    # -- the migration lock --------------------------------------------------------------------

    def lock_name(self) -> str:
        return lock_name(self.mysql.options.database)

    @asynccontextmanager
    async def lock(self, session: Session) -> AsyncIterator[None]:
        async with migration_lock(session, self.mysql.options.database, self.mysql.options.migrate_lock_timeout):
            yield
