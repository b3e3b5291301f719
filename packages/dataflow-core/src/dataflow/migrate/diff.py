"""Comparing the models with the live schema: the plan of steps between them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..errors import ConfigError
from ..schema import ModelSchema
from .editor import SchemaEditor
from .live import LiveTable
from .steps import AddColumn, AddIndex, AlterColumn, CreateTable, DropColumn, DropIndex, Plan, RenameColumn, Step

HISTORY_TABLE = "dataflow_migrations"


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
    for schema in models:
        table = live.get(schema.table)
        if table is None:
            steps.append(CreateTable(schema))
            continue
        steps += _column_steps(schema, table, editor, renames, notes)
        steps += _index_steps(schema, table, editor)
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
            steps.append(AlterColumn(schema, field, live, type_changed=type_changed, narrowing=narrowing))
    added = [s.field.name for s in steps if isinstance(s, AddColumn)]
    for column in table.columns:
        if column.name not in schema.by_name and column.name not in renamed_to.values():
            steps.append(DropColumn(schema, column.name))
            if added:
                notes.append(
                    f"{schema.table}.{column.name} disappears while {', '.join(added)} appear: if it was renamed, "
                    f"pass a rename hint such as {schema.name}.{column.name}={added[0]} instead of dropping it"
                )
    return steps


def _index_steps(schema: ModelSchema, table: LiveTable, editor: SchemaEditor) -> list[Step]:
    wanted = {(group, False) for group in schema.indexes} | {(group, True) for group in schema.unique}
    have = {(index.columns, index.unique): index for index in table.indexes}
    steps: list[Step] = [AddIndex(schema, cols, unique) for cols, unique in sorted(wanted - set(have))]
    for key, index in sorted(have.items()):
        # Only indexes DataFlow made are DataFlow's to drop; primary keys are never listed.
        ours = index.name.startswith((f"ix_{schema.table}_", f"uq_{schema.table}_"))
        if key not in wanted and ours:
            steps.append(DropIndex(schema, index.name, index.columns, index.unique))
    return steps
