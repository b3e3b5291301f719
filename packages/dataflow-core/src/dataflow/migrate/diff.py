"""Comparing the models with the live schema: the plan of steps between them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..errors import ConfigError
from ..fields import FieldSchema
from ..schema import ModelSchema
from .editor import SchemaEditor
from .live import LiveForeignKey, LiveTable
from .steps import (
    AddColumn,
    AddForeignKey,
    AddIndex,
    AlterColumn,
    CreateTable,
    DropColumn,
    DropForeignKey,
    DropIndex,
    Plan,
    RenameColumn,
    Step,
)

HISTORY_TABLE = "dataflow_migrations"
DATAFLOW_COLUMN_PREFIX = "_dataflow_"
"""Columns a dialect keeps for itself; model fields cannot start with ``_``."""


def parse_renames(hints: Iterable[str]) -> dict[tuple[str, str], str]:
    """``["User.fullname=name"]`` → ``{("User", "fullname"): "name"}``."""
    renames = {}
    for hint in hints:
        left, sep, new = hint.partition("=")
        model, dot, old = left.partition(".")
        if not (sep and dot and model and old and new):
            raise ConfigError(f"rename hint {hint!r} must look like Model.old_field=new_field")
        renames[(model, old)] = new
    return renames


def plan_changes(
    models: Iterable[ModelSchema],
    live: Mapping[str, LiveTable],
    editor: SchemaEditor,
    renames: Mapping[tuple[str, str], str] | None = None,
) -> Plan:
    """The steps that make ``live`` match ``models``. Nothing is guessed: a column that
    disappeared is a destructive drop unless a rename hint says where it went."""
    renames = dict(renames or {})
    steps: list[Step] = []
    notes: list[str] = []
    new_keys: list[Step] = []
    for schema in models:
        table = live.get(schema.table)
        if table is None:
            steps.append(CreateTable(schema))
            continue
        column_steps = _column_steps(schema, table, editor, renames, notes)
        renamed = [step for step in column_steps if isinstance(step, RenameColumn)]
        dropped_keys, added_keys = _foreign_key_steps(schema, table, editor, column_steps)
        # A key goes before its column changes (MySQL will not retype a column a key holds) and
        # after the renames (so a rebuild sees the new names).
        steps += renamed
        steps += dropped_keys
        steps += [step for step in column_steps if not isinstance(step, RenameColumn)]
        steps += _index_steps(schema, table, editor)
        new_keys += added_keys
    # New keys last: their target tables and columns (created, retyped above) are in place by then.
    steps += new_keys
    for (model, old), new in renames.items():
        notes.append(f"rename hint {model}.{old}={new} did not match a column that changed")
    return Plan(steps=tuple(steps), notes=tuple(notes))


def _column_steps(
    schema: ModelSchema,
    table: LiveTable,
    editor: SchemaEditor,
    renames: dict[tuple[str, str], str],
    notes: list[str],
) -> list[Step]:
    steps: list[Step] = []
    live_names = {c.name for c in table.columns}
    renamed_to = {}
    for column in table.columns:
        new = renames.get((schema.name, column.name))
        if new is not None and new in schema.by_name and new not in live_names:
            renamed_to[new] = column.name
            del renames[(schema.name, column.name)]
            steps.append(RenameColumn(schema, column.name, new))
    for field in schema.fields:
        live = table.column(renamed_to.get(field.name, field.name))
        if live is None:
            steps.append(AddColumn(schema, field))
            continue
        type_changed = not editor.same_type(field, live)
        if type_changed or live.nullable != field.nullable:
            if field.primary_key:
                notes.append(f"{schema.table}.{field.name} is the primary key; change it with a hand-written migration")
                continue
            narrowing = type_changed and editor.narrowing(field, live)
            new_type = editor.column_type_name(schema, field)
            steps.append(
                AlterColumn(schema, field, live, type_changed=type_changed, narrowing=narrowing, new_type=new_type)
            )
    added = [s.field.name for s in steps if isinstance(s, AddColumn)]
    for column in table.columns:
        if column.name.startswith(DATAFLOW_COLUMN_PREFIX):
            continue  # a dialect's own bookkeeping (MySQL's live-row column), never a model's field
        if column.name not in schema.by_name and column.name not in renamed_to.values():
            steps.append(DropColumn(schema, column.name))
            if added:
                notes.append(
                    f"{schema.table}.{column.name} disappears while {', '.join(added)} appear: if it was renamed, "
                    f"pass a rename hint such as {schema.name}.{column.name}={added[0]} instead of dropping it"
                )
    return steps


def _index_steps(schema: ModelSchema, table: LiveTable, editor: SchemaEditor) -> list[Step]:
    live_only = editor.dialect.live_unique(schema)
    wanted = {(group, False, False) for group in schema.indexes} | {(group, True, live_only) for group in schema.unique}
    have = {(index.columns, index.unique, index.live_only): index for index in table.indexes}
    # A unique index that changes between all rows and live rows keeps its name: drop it first.
    replaced = {(cols, unique) for cols, unique, _ in wanted} & {(cols, unique) for cols, unique, _ in have}
    steps: list[Step] = []
    later: list[Step] = []
    for key, index in sorted(have.items()):
        # Only indexes DataFlow made are DataFlow's to drop; primary keys are never listed.
        ours = index.name.startswith((f"ix_{schema.table}_", f"uq_{schema.table}_"))
        if key not in wanted and ours:
            drop = DropIndex(schema, index.name, index.columns, index.unique)
            (steps if key[:2] in replaced else later).append(drop)
    steps += [AddIndex(schema, cols, unique) for cols, unique, _ in sorted(wanted - set(have))]
    return steps + later


def _foreign_key_steps(
    schema: ModelSchema, table: LiveTable, editor: SchemaEditor, column_steps: list[Step]
) -> tuple[list[Step], list[Step]]:
    """Keys to drop and keys to add on existing columns, compared by (columns, target table).

    A key on a column this plan adds comes with its ``AddColumn``, and one on a
    column it drops goes with the column. Only keys DataFlow made
    (``fk_<table>_...``) are dropped, or unnamed ones (SQLite names none).
    """
    renamed = {step.old: step.new for step in column_steps if isinstance(step, RenameColumn)}
    added = {step.field.name for step in column_steps if isinstance(step, AddColumn)}
    dropped = {step.column for step in column_steps if isinstance(step, DropColumn)}
    wanted: dict[tuple[tuple[str, ...], str], FieldSchema] = {}
    for field in schema.fields:
        if field.references is not None and field.references in editor.tables:
            wanted[((field.name,), editor.tables[field.references].table)] = field
    have: dict[tuple[tuple[str, ...], str], LiveForeignKey] = {}
    for key in table.foreign_keys:
        columns = tuple(renamed.get(c, c) for c in key.columns)
        have.setdefault((columns, key.table), key)
    drops: list[Step] = []
    for (columns, target), key in have.items():
        ours = key.name is None or key.name.startswith(f"fk_{schema.table}_")
        if (columns, target) not in wanted and ours and not dropped & set(key.columns):
            drops.append(DropForeignKey(schema, key.name, columns))
    adds: list[Step] = [
        AddForeignKey(schema, field) for key, field in wanted.items() if key not in have and field.name not in added
    ]
    return drops, adds
