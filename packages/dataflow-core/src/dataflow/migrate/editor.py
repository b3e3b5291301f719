"""SQL for migration steps. The base speaks PostgreSQL-flavoured ANSI; dialects override what differs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from ..errors import MigrationError
from ..fields import FieldKind, FieldSchema, utcnow
from ..schema import ModelSchema
from .live import LiveColumn, LiveTable
from .steps import Statement

if TYPE_CHECKING:
    from ..dialect import Dialect
    from ..session import Session


class SchemaEditor:
    """Turns migration steps into statements for one dialect."""

    def __init__(self, dialect: Dialect, tables: Mapping[str, ModelSchema]) -> None:
        self.dialect = dialect
        self.tables = tables
        self.quote = dialect.quote
        self.live: Mapping[str, LiveTable] = {}
        """The live tables the plan was made from (set by the migrator)."""

    def placeholder(self) -> str:
        return self.dialect.placeholder(1)

    # -- comparing -------------------------------------------------------------

    def same_type(self, field: FieldSchema, live: LiveColumn) -> bool:
        """Does the live column already have the type the field maps to?"""
        return _normal(self.dialect.column_type(field)) == _normal(live.type)

    def narrowing(self, field: FieldSchema, live: LiveColumn) -> bool:
        """Could changing ``live`` to the field's type lose data? Unknown changes count as narrowing."""
        return not self.widens(_normal(live.type), _normal(self.dialect.column_type(field)))

    def widens(self, old: str, new: str) -> bool:
        widenings = {("integer", "bigint"), ("real", "double precision"), ("varchar", "text")}
        old_base, new_base = old.partition("(")[0], new.partition("(")[0]
        if (old_base, new_base) in widenings:
            return True
        if old_base == new_base == "varchar":
            return _length(new) >= _length(old)
        return False

    def column_type_name(self, schema: ModelSchema, field: FieldSchema) -> str:
        """The column type ``field`` maps to in ``schema``'s table, as the database spells it (for plans)."""
        return self.dialect.column_type(field)

    def adds_in_place(self, field: FieldSchema) -> bool:
        """Does adding ``field``'s column leave the rest of its table alone (no table rebuild)?"""
        return True

    # -- statements ------------------------------------------------------------

    def create_table(self, schema: ModelSchema) -> list[Statement]:
        return [(sql, ()) for sql in self.dialect.create_table_sql(schema, self.tables)]

    def column_definition(self, schema: ModelSchema, field: FieldSchema, *, nullable: bool) -> str:
        sql = f"{self.quote(field.name)} {self.dialect.column_type(field)}"
        if not nullable:
            sql += " NOT NULL"
        if field.references is not None:
            target = self.tables[field.references]
            sql += f" REFERENCES {self.quote(target.table)} ({self.quote(target.primary_key)})"
        return sql

    def add_column(self, schema: ModelSchema, field: FieldSchema) -> list[Statement]:
        table = self.quote(schema.table)
        if field.nullable or field.required:
            definition = self.column_definition(schema, field, nullable=field.nullable)
            return [(f"ALTER TABLE {table} ADD COLUMN {definition}", ())]
        # NOT NULL with a default: add it nullable, fill existing rows (a bound value), then forbid nulls.
        value = utcnow() if field.managed else field.make_default()
        encoded = self.dialect.encoder(field)
        parameter = encoded(value) if encoded is not None and value is not None else value
        return [
            (f"ALTER TABLE {table} ADD COLUMN {self.column_definition(schema, field, nullable=True)}", ()),
            (f"UPDATE {table} SET {self.quote(field.name)} = {self.placeholder()}", (parameter,)),
            *self.set_nullable(schema, field, nullable=False),
        ]

    def rename_column(self, schema: ModelSchema, old: str, new: str) -> list[Statement]:
        q = self.quote
        return [(f"ALTER TABLE {q(schema.table)} RENAME COLUMN {q(old)} TO {q(new)}", ())]

    def drop_column(self, schema: ModelSchema, column: str) -> list[Statement]:
        return [(f"ALTER TABLE {self.quote(schema.table)} DROP COLUMN {self.quote(column)}", ())]

    def alter_column(self, schema: ModelSchema, field: FieldSchema, live: LiveColumn) -> list[Statement]:
        table, column = self.quote(schema.table), self.quote(field.name)
        statements: list[Statement] = []
        if not self.same_type(field, live):
            new_type = self.dialect.column_type(field)
            statements.append(
                (f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {new_type} USING {column}::{new_type}", ())
            )
        if live.nullable != field.nullable:
            statements += self.set_nullable(schema, field, nullable=field.nullable)
        return statements

    def set_nullable(self, schema: ModelSchema, field: FieldSchema, *, nullable: bool) -> list[Statement]:
        action = "DROP NOT NULL" if nullable else "SET NOT NULL"
        return [(f"ALTER TABLE {self.quote(schema.table)} ALTER COLUMN {self.quote(field.name)} {action}", ())]

    def add_index(self, schema: ModelSchema, columns: Sequence[str], unique: bool) -> list[Statement]:
        if unique and self.dialect.live_unique(schema):
            return [(self.dialect.live_unique_index_sql(schema, columns, if_not_exists=False), ())]
        name = self.dialect.constraint_name(schema, "uq" if unique else "ix", columns)
        kind = "UNIQUE INDEX" if unique else "INDEX"
        cols = ", ".join(self.quote(c) for c in columns)
        return [(f"CREATE {kind} {self.quote(name)} ON {self.quote(schema.table)} ({cols})", ())]

    def drop_index(self, schema: ModelSchema, name: str, unique: bool) -> list[Statement]:
        return [(f"DROP INDEX {self.quote(name)}", ())]

    def add_foreign_key(self, schema: ModelSchema, field: FieldSchema) -> list[Statement]:
        """``ALTER TABLE ... ADD CONSTRAINT fk_<table>_<column> FOREIGN KEY``, named as CREATE TABLE names it."""
        q = self.quote
        target = self._target(schema, field)
        name = self.dialect.constraint_name(schema, "fk", (field.name,))
        return [
            (
                f"ALTER TABLE {q(schema.table)} ADD CONSTRAINT {q(name)} FOREIGN KEY ({q(field.name)}) "
                f"REFERENCES {q(target.table)} ({q(target.primary_key)})",
                (),
            )
        ]

    def drop_foreign_key(self, schema: ModelSchema, name: str | None) -> list[Statement]:
        if name is None:
            raise MigrationError(f"cannot drop an unnamed foreign key of {schema.table} on {self.dialect.name}")
        return [(f"ALTER TABLE {self.quote(schema.table)} DROP CONSTRAINT {self.quote(name)}", ())]

    def _target(self, schema: ModelSchema, field: FieldSchema) -> ModelSchema:
        if field.references is None or field.references not in self.tables:
            raise MigrationError(f"{schema.name}.{field.name} does not reference a known model")
        return self.tables[field.references]

    # -- data checks -------------------------------------------------------------

    def offending_rows(self, schema: ModelSchema, field: FieldSchema, live: LiveColumn) -> Statement | None:
        """Rows an AlterColumn would break: nulls for NOT NULL, too-long strings for a shorter VARCHAR."""
        table, column = self.quote(schema.table), self.quote(field.name)
        conditions: list[str] = []
        params: list[object] = []
        if live.nullable and not field.nullable:
            conditions.append(f"{column} IS NULL")
        if field.kind is FieldKind.STR and field.max_length is not None:
            conditions.append(f"LENGTH({column}) > {self.dialect.placeholder(len(params) + 1)}")
            params.append(field.max_length)
        if not conditions:
            return None
        return (f"SELECT COUNT(*) FROM {table} WHERE " + " OR ".join(conditions), tuple(params))

    def duplicate_rows(self, schema: ModelSchema, columns: Sequence[str]) -> Statement:
        """Rows a unique index would refuse: those beyond the first of each group of equal keys.

        NULLs never collide in a unique index. Three rows with one email are
        two rows too many, on every dialect (the compliance suite checks it).
        """
        cols = ", ".join(self.quote(c) for c in columns)
        present = " AND ".join(f"{self.quote(c)} IS NOT NULL" for c in columns)
        if self.dialect.live_unique(schema):
            present += f" AND {self.quote('deleted_at')} IS NULL"  # soft-deleted rows hold no unique values
        return (
            f"SELECT COALESCE(SUM(repeats - 1), 0) FROM (SELECT COUNT(*) AS repeats FROM {self.quote(schema.table)} "
            f"WHERE {present} GROUP BY {cols} HAVING COUNT(*) > 1) duplicates",
            (),
        )

    def orphan_rows(self, schema: ModelSchema, field: FieldSchema) -> Statement:
        """Rows whose non-null value has no matching row in the target table: a foreign key would refuse them."""
        q = self.quote
        target = self._target(schema, field)
        column = q(field.name)
        return (
            f"SELECT COUNT(*) FROM {q(schema.table)} child WHERE child.{column} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {q(target.table)} parent WHERE parent.{q(target.primary_key)} = child.{column})",
            (),
        )

    # -- running -------------------------------------------------------------------

    @asynccontextmanager
    async def lock(self, session: Session) -> AsyncIterator[None]:
        """Hold the database's migration lock: a second migrator waits here."""
        yield


def _normal(type_name: str) -> str:
    return " ".join(type_name.lower().replace(" (", "(").split())


def _length(type_name: str) -> int:
    inside = type_name.partition("(")[2].rstrip(")")
    return int(inside) if inside.isdigit() else 0
