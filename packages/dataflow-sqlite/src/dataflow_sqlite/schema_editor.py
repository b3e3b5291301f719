"""Migrations on SQLite: ALTER TABLE where it can go, table rebuilds where it cannot."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from dataflow.enum_checks import enum_members
from dataflow.errors import MigrationError
from dataflow.fields import FieldKind, FieldSchema, utcnow
from dataflow.migrate.editor import SchemaEditor
from dataflow.migrate.live import LiveColumn
from dataflow.migrate.steps import Statement
from dataflow.schema import ModelSchema
from dataflow.session import Session


class SQLiteSchemaEditor(SchemaEditor):
    """ALTER TABLE on SQLite adds and renames columns; anything else rebuilds the table.

    A rebuild creates the model's table under a temporary name, copies the
    columns both share, drops the old table and renames the new one, with
    foreign-key enforcement paused (and checked) around the transaction, as
    SQLite's documentation prescribes.
    """

    def __init__(self, dialect: Any, tables: Mapping[str, ModelSchema]) -> None:
        super().__init__(dialect, tables)
        self._rebuilt: set[str] = set()
        self._renamed: dict[str, dict[str, str]] = {}

    def adds_in_place(self, field: FieldSchema) -> bool:
        # NOT NULL columns and foreign keys come by a rebuild, which makes the whole table the model's.
        return field.nullable and field.references is None

    def same_type(self, field: FieldSchema, live: LiveColumn) -> bool:
        return super().same_type(field, live) and enum_members(field) == live.allowed

    def narrowing(self, field: FieldSchema, live: LiveColumn) -> bool:
        if super().narrowing(field, live):
            return True
        wanted, allowed = enum_members(field), live.allowed
        return wanted is not None and (allowed is None or not allowed <= wanted)

    def widens(self, old: str, new: str) -> bool:
        return old == new or (old, new) in {("integer", "real"), ("integer", "text"), ("real", "text")}

    def offending_rows(self, schema: ModelSchema, field: FieldSchema, live: LiveColumn) -> Statement | None:
        """The core's checks, and the values a narrowing type change would keep unconverted.

        SQLite converts a value to a column's type only where it can (``'7'`` to 7)
        and keeps any other as it is (``'x7'`` stays text in an INTEGER column),
        so a narrowing change is refused while rows hold values it cannot convert.
        """
        checks = super().offending_rows(schema, field, live)
        kept = self._unconverted(field, live)
        if kept is None:
            return checks
        if checks is None:
            return (f"SELECT COUNT(*) FROM {self.quote(schema.table)} WHERE {kept[0]}", kept[1])
        return (f"{checks[0]} OR {kept[0]}", checks[1] + kept[1])

    def _unconverted(self, field: FieldSchema, live: LiveColumn) -> Statement | None:
        """A condition (and its parameters) true for the rows the new column would not hold as the
        field's values: unconvertible ones, and members no longer in an enum."""
        new = self.dialect.column_type(field).upper()
        if self.same_type(field, live) or not self.narrowing(field, live):
            return None
        column = self.quote(field.name)
        if field.kind is FieldKind.ENUM:
            assert field.enum_type is not None
            encode = self.dialect.encoder(field)
            members = [encode(m) if encode is not None else m for m in field.enum_type]
            return (f"{column} NOT IN ({', '.join('?' for _ in members)})", tuple(members))
        condition = self._unconvertible(new, column)
        return (condition, ()) if condition is not None else None

    def _unconvertible(self, new: str, column: str) -> str | None:
        if new in ("INTEGER", "REAL"):
            # Comparing with CAST(... AS INTEGER) applies numeric affinity to the old value, as the new
            # column would: '07' and 7.0 compare equal to 7, 'x7' and 7.5 do not.
            return f"({column} IS NOT NULL AND NOT ({column} = CAST({column} AS {new})))"
        if new == "TEXT":
            return f"typeof({column}) = 'blob'"
        if new == "BLOB":
            return f"typeof({column}) NOT IN ('blob', 'null')"
        return None

    def rename_column(self, schema: ModelSchema, old: str, new: str) -> list[Statement]:
        self._renamed.setdefault(schema.table, {})[old] = new
        return super().rename_column(schema, old, new)

    def set_nullable(self, schema: ModelSchema, field: FieldSchema, *, nullable: bool) -> list[Statement]:
        return self.rebuild(schema)

    def alter_column(self, schema: ModelSchema, field: FieldSchema, live: LiveColumn) -> list[Statement]:
        return self.rebuild(schema)

    def drop_column(self, schema: ModelSchema, column: str) -> list[Statement]:
        return self.rebuild(schema)

    def drop_index(self, schema: ModelSchema, name: str, unique: bool) -> list[Statement]:
        # A rebuild earlier in the plan dropped the old table's indexes and made only the model's.
        if unique or schema.table in self._rebuilt:  # a UNIQUE constraint lives in the table definition
            return self.rebuild(schema)
        return [(f"DROP INDEX {self.quote(name)}", ())]

    def add_foreign_key(self, schema: ModelSchema, field: FieldSchema) -> list[Statement]:
        # SQLite's ALTER TABLE cannot add a constraint: the rebuilt table has the model's keys.
        return self.rebuild(schema)

    def drop_foreign_key(self, schema: ModelSchema, name: str | None) -> list[Statement]:
        return self.rebuild(schema)

    def add_index(self, schema: ModelSchema, columns: Sequence[str], unique: bool) -> list[Statement]:
        # A rebuild earlier in the plan already made the model's indexes.
        if schema.table in self._rebuilt:
            return []
        return super().add_index(schema, columns, unique)

    def add_column(self, schema: ModelSchema, field: FieldSchema) -> list[Statement]:
        if schema.table in self._rebuilt:
            return []  # a rebuild earlier in the plan made the model's columns
        if field.nullable and field.references is None:
            return super().add_column(schema, field)
        # NOT NULL (or a new foreign key) cannot be added in place: rebuild, filling the default.
        return self.rebuild(schema)

    def rebuild(self, schema: ModelSchema) -> list[Statement]:
        """Statements that rebuild ``schema``'s table to the model, once per table per plan."""
        if schema.table in self._rebuilt:
            return []
        self._rebuilt.add(schema.table)
        live = self.live.get(schema.table)
        if live is None:
            raise MigrationError(f"cannot rebuild {schema.table}: it does not exist")
        temporary = f"__dataflow_rebuild_{schema.table}"
        # The model's own CREATE TABLE (so constraint names are the real table's), under the temporary name.
        create = self.dialect.create_table_sql(schema, self.tables)[0]
        header = f"CREATE TABLE IF NOT EXISTS {self.quote(schema.table)} ("
        assert create.startswith(header)
        create = f"CREATE TABLE {self.quote(temporary)} (" + create[len(header) :]
        # Renames run before the rebuild, so the old table already has the new names.
        renamed = self._renamed.get(schema.table, {})
        live_names = {renamed.get(c.name, c.name) for c in live.columns}
        targets, sources, params = [], [], []
        for field in schema.fields:
            if field.name in live_names:
                targets.append(self.quote(field.name))
                sources.append(self.quote(field.name))
            elif not field.nullable and not field.auto_increment:
                if field.required:
                    continue  # refused earlier by the row check when the table has rows
                targets.append(self.quote(field.name))
                sources.append(self.placeholder())
                encoder = self.dialect.encoder(field)
                # A managed timestamp (timestamps turned on) has no default: the rows get now, as elsewhere.
                value = utcnow() if field.managed else field.make_default()
                params.append(encoder(value) if encoder is not None and value is not None else value)
        table = self.quote(schema.table)
        statements: list[Statement] = [(create, ())]
        statements.append(
            (f"INSERT INTO {self.quote(temporary)} ({', '.join(targets)}) SELECT {', '.join(sources)} FROM {table}",
             tuple(params))
        )  # fmt: skip
        statements.append((f"DROP TABLE {table}", ()))
        statements.append((f"ALTER TABLE {self.quote(temporary)} RENAME TO {table}", ()))
        statements += [(sql, ()) for sql in self.dialect.create_table_sql(schema, self.tables)[1:]]
        return statements

    @asynccontextmanager
    async def lock(self, session: Session) -> AsyncIterator[None]:
        """One exclusive write transaction: a second migrator waits for it on the busy timeout."""
        await session.execute("PRAGMA foreign_keys = OFF")
        try:
            await session.execute("BEGIN EXCLUSIVE")
            try:
                yield
                violations = await session.fetch("PRAGMA foreign_key_check")
                if violations:
                    raise MigrationError(f"the migration would leave {len(violations)} broken foreign key(s)")
            except BaseException:
                if session.in_transaction:
                    await session.execute("ROLLBACK")
                raise
            await session.execute("COMMIT")
        finally:
            await session.execute("PRAGMA foreign_keys = ON")
