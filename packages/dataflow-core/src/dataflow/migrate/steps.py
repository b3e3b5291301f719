"""Typed migration steps. Each knows whether it can lose data and asks the editor for its SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ..fields import FieldSchema
from ..schema import ModelSchema
from .live import LiveColumn

if TYPE_CHECKING:
    from .editor import SchemaEditor

Statement = tuple[str, tuple[Any, ...]]
"""One SQL statement and its bound parameters."""


@attrs.frozen
class Step:
    """One change to the live schema."""

    destructive = False

    def describe(self) -> str:
        raise NotImplementedError

    def statements(self, editor: SchemaEditor) -> list[Statement]:
        raise NotImplementedError

    @property
    def table_name(self) -> str:
        """The table this step changes."""
        raise NotImplementedError

    def offending_rows_sql(self, editor: SchemaEditor) -> Statement | None:
        """A query counting rows this step would lose or break, if any can be."""
        return None


@attrs.frozen
class ModelStep(Step):
    """A step on one model's table."""

    schema: ModelSchema

    @property
    def table_name(self) -> str:
        return self.schema.table


@attrs.frozen
class CreateTable(ModelStep):
    def describe(self) -> str:
        return f"create table {self.schema.table} ({self.schema.name})"

    def statements(self, editor: SchemaEditor) -> list[Statement]:
        return editor.create_table(self.schema)


@attrs.frozen
class DropTable(Step):
    table: str
    destructive = True

    @property
    def table_name(self) -> str:
        return self.table

    def describe(self) -> str:
        return f"drop table {self.table}"

    def statements(self, editor: SchemaEditor) -> list[Statement]:
        return [(f"DROP TABLE {editor.quote(self.table)}", ())]


@attrs.frozen
class AddColumn(ModelStep):
    field: FieldSchema

    def describe(self) -> str:
        return f"add column {self.schema.table}.{self.field.name}"

    def statements(self, editor: SchemaEditor) -> list[Statement]:
        return editor.add_column(self.schema, self.field)

    def offending_rows_sql(self, editor: SchemaEditor) -> Statement | None:
        if self.field.required:
            # A required column without a default has no value for the rows already there.
            return (f"SELECT COUNT(*) FROM {editor.quote(self.schema.table)}", ())
        return None


@attrs.frozen
class DropColumn(ModelStep):
    column: str
    destructive = True

    def describe(self) -> str:
        return f"drop column {self.schema.table}.{self.column}"

    def statements(self, editor: SchemaEditor) -> list[Statement]:
        return editor.drop_column(self.schema, self.column)


@attrs.frozen
class RenameColumn(ModelStep):
    old: str
    new: str

    def describe(self) -> str:
        return f"rename column {self.schema.table}.{self.old} to {self.new}"

    def statements(self, editor: SchemaEditor) -> list[Statement]:
        return editor.rename_column(self.schema, self.old, self.new)


@attrs.frozen
class AlterColumn(ModelStep):
    """Change a column's type and/or nullability to the model's."""

    field: FieldSchema
    live: LiveColumn
    type_changed: bool
    narrowing: bool

    @property
    def destructive(self) -> bool:  # type: ignore[override]
        return self.narrowing or (self.live.nullable and not self.field.nullable)

    def describe(self) -> str:
        changes = []
        if self.type_changed:
            changes.append(
                f"type {self.live.type} -> {self.field.type_name}" + (" (narrowing)" if self.narrowing else "")
            )
        if self.live.nullable != self.field.nullable:
            changes.append("nullable" if self.field.nullable else "not null")
        return f"alter column {self.schema.table}.{self.field.name}: {', '.join(changes)}"

    def statements(self, editor: SchemaEditor) -> list[Statement]:
        return editor.alter_column(self.schema, self.field, self.live)

    def offending_rows_sql(self, editor: SchemaEditor) -> Statement | None:
        return editor.offending_rows(self.schema, self.field, self.live)


@attrs.frozen
class AddIndex(ModelStep):
    columns: tuple[str, ...]
    unique: bool

    def describe(self) -> str:
        kind = "unique index" if self.unique else "index"
        return f"add {kind} on {self.schema.table} ({', '.join(self.columns)})"

    def statements(self, editor: SchemaEditor) -> list[Statement]:
        return editor.add_index(self.schema, self.columns, self.unique)

    def offending_rows_sql(self, editor: SchemaEditor) -> Statement | None:
        return editor.duplicate_rows(self.schema, self.columns) if self.unique else None


@attrs.frozen
class DropIndex(ModelStep):
    name: str
    columns: tuple[str, ...]
    unique: bool

    def describe(self) -> str:
        kind = "unique index" if self.unique else "index"
        return f"drop {kind} {self.name} on {self.schema.table} ({', '.join(self.columns)})"

    def statements(self, editor: SchemaEditor) -> list[Statement]:
        return editor.drop_index(self.schema, self.name, self.unique)


@attrs.frozen
class AddForeignKey(ModelStep):
    """A foreign key on a column that already exists (a new column gets its own with ``AddColumn``)."""

    field: FieldSchema

    def describe(self) -> str:
        return f"add foreign key on {self.schema.table} ({self.field.name}) to {self.field.references}"

    def statements(self, editor: SchemaEditor) -> list[Statement]:
        return editor.add_foreign_key(self.schema, self.field)

    def offending_rows_sql(self, editor: SchemaEditor) -> Statement | None:
        return editor.orphan_rows(self.schema, self.field)


@attrs.frozen
class DropForeignKey(ModelStep):
    """Drop a foreign key DataFlow made (the column and its values stay)."""

    name: str | None
    """The constraint's name; None where the database does not name them (SQLite)."""
    columns: tuple[str, ...]

    def describe(self) -> str:
        named = f" {self.name}" if self.name is not None else ""
        return f"drop foreign key{named} on {self.schema.table} ({', '.join(self.columns)})"

    def statements(self, editor: SchemaEditor) -> list[Statement]:
        return editor.drop_foreign_key(self.schema, self.name)


@attrs.frozen
class Plan:
    """Ordered steps that bring the live schema to the models."""

    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.steps

    @property
    def destructive(self) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if step.destructive)

    def statements(self, editor: SchemaEditor) -> list[Statement]:
        return [statement for step in self.steps for statement in step.statements(editor)]

    def render(self, editor: SchemaEditor) -> str:
        """The plan as commented SQL, for review."""
        lines: list[str] = []
        for step in self.steps:
            marker = "  -- DESTRUCTIVE" if step.destructive else ""
            lines.append(f"-- {step.describe()}{marker}")
            lines.extend(_render(sql, params) for sql, params in step.statements(editor))
        lines.extend(f"-- note: {note}" for note in self.notes)
        return "\n".join(lines)


def _render(sql: str, params: Sequence[Any]) -> str:
    return f"{sql};" + (f"  -- parameters: {list(params)!r}" if params else "")
