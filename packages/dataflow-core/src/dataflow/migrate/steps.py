"""Typed migration steps. Each knows whether it can lose data and asks the editor for its SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ..enum_checks import enum_members
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

    def remedy(self) -> str:
        """What to do about the rows that make ``apply`` refuse this step."""
        return "update or delete those rows first"


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

    def remedy(self) -> str:
        name = f"{self.schema.name}.{self.field.name}"
        return (
            f"they have no value for {name}: give it a default in the model, or backfill it "
            f"(declare it `| None`, apply, fill the column, then make it required)"
        )


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
    new_type: str = ""
    """The column type the field maps to, in the database's words (``VARCHAR(5)``)."""

    @property
    def destructive(self) -> bool:  # type: ignore[override]
        return self.narrowing or (self.live.nullable and not self.field.nullable)

    @property
    def retyped(self) -> bool:
        """Does the column's type itself change (not only an enum's members)?"""
        spelled = " ".join(self.live.type.lower().split()), " ".join(self.new_type.lower().split())
        return self.type_changed and (spelled[0] != spelled[1] or not self.members_changed)

    @property
    def members_changed(self) -> bool:
        return self.type_changed and enum_members(self.field) != self.live.allowed

    def describe(self) -> str:
        changes = []
        narrowing = " (narrowing)" if self.narrowing else ""
        if self.retyped:
            changes.append(f"type {self.live.type} -> {self.new_type or self.field.type_name}{narrowing}")
            narrowing = ""
        if self.members_changed:
            changes.append(_members_change(self.live.allowed, enum_members(self.field)) + narrowing)
        if self.live.nullable != self.field.nullable:
            changes.append("nullable" if self.field.nullable else "not null")
        return f"alter column {self.schema.table}.{self.field.name}: {', '.join(changes)}"

    def remedy(self) -> str:
        column = f"{self.schema.table}.{self.field.name}"
        problems = []
        if self.live.nullable and not self.field.nullable:
            problems.append("is NULL")
        if self.narrowing and self.retyped:
            problems.append(f"does not fit {self.new_type or self.field.type_name}")
        if self.narrowing and self.members_changed:
            problems.append(f"is not a value of {self.field.type_name}")
        return (
            f"backfill or update the rows whose {column} {' or '.join(problems)} "
            "(or keep the field as the database has it)"
        )

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

    def remedy(self) -> str:
        return f"they repeat values of ({', '.join(self.columns)}): remove or change the duplicates first"


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

    def remedy(self) -> str:
        return (
            f"their {self.field.name} matches no {self.field.references}: point them at existing rows "
            "or set them to NULL first"
        )


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


def _members_change(old: frozenset[str] | None, new: frozenset[str] | None) -> str:
    if new is None:
        return "no longer an enum (its CHECK goes)"
    if old is None:
        return "members checked: " + _listed(new)
    parts = []
    if new - old:
        parts.append("adds " + _listed(new - old))
    if old - new:
        parts.append("drops " + _listed(old - new))
    return "enum members: " + ", ".join(parts)


def _listed(members: frozenset[str]) -> str:
    return ", ".join(repr(member) for member in sorted(members))


@attrs.frozen
class Review:
    """What ``apply`` will make of one step, found when the plan was made."""

    statements: tuple[Statement, ...]
    checked: bool = False
    """Were the rows counted? (False when the step checks none, or the count needs earlier steps applied.)"""
    offending: int = 0
    """Rows that make ``apply`` refuse the step."""


@attrs.frozen
class Plan:
    """Ordered steps that bring the live schema to the models.

    ``print(plan)`` shows the numbered steps with their SQL, marks the
    destructive ones, and says which steps ``apply`` would refuse and what to
    do about them (``reviews`` holds what that needs: made by ``Migrator.plan()``).
    """

    steps: tuple[Step, ...]
    notes: tuple[str, ...] = ()
    reviews: tuple[Review, ...] = attrs.field(default=(), eq=False, repr=False)

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

    def __str__(self) -> str:
        if self.empty:
            return "Nothing to migrate: the database matches the models."
        count = len(self.steps)
        destructive = len(self.destructive)
        lines = [f"Migration plan: {count} step{'s' if count != 1 else ''}, {destructive} destructive", ""]
        reviews = self.reviews if len(self.reviews) == count else (None,) * count
        for number, (step, review) in enumerate(zip(self.steps, reviews, strict=True), 1):
            marker = "  [DESTRUCTIVE]" if step.destructive else ""
            lines.append(f"{number:>2}. {step.describe()}{marker}")
            if review is not None and not review.statements:
                lines.append(
                    "      -- done by an earlier statement of this plan (a table rebuild makes the whole table)"
                )
            for sql, params in review.statements if review is not None else ():
                lines.append("      " + _render(sql, params).replace("\n", "\n      "))
        lines += ["", *self._refusals(reviews)]
        if self.notes:
            lines += ["", "Notes:", *(f"  - {note}" for note in self.notes)]
        return "\n".join(lines)

    def _refusals(self, reviews: Sequence[Review | None]) -> list[str]:
        found = []
        for number, (step, review) in enumerate(zip(self.steps, reviews, strict=True), 1):
            if step.destructive:
                found.append(
                    f"  - step {number} is destructive: review it, then apply with allow_destructive=True "
                    "(--allow-destructive)"
                )
            if review is not None and review.offending:
                found.append(
                    f"  - step {number} is refused while {review.offending} existing row(s) would be lost or "
                    f"break the new schema: {step.remedy()}"
                )
        if not found:
            return ["apply will run every step."]
        return ["apply will refuse:", *found]


def _render(sql: str, params: Sequence[Any]) -> str:
    return f"{sql};" + (f"  -- parameters: {list(params)!r}" if params else "")
