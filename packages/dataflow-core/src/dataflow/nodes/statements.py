"""WHERE clauses and record reads shared by the model nodes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ValidationError
from ..filter_operators import TRUE
from ..filters import Filter, compile_filter, matches_everything
from ..schema import ModelSchema
from ..session import Session
from ..sql import Params, TableSQL


class SessionTables:
    """The tables of a session's database as filters that follow relations see them: scoped like the session."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.relations = session.db.relations

    def table(self, model: str) -> TableSQL:
        return self.session.table(self.session.db.schema(model))

    def scope(self, table: TableSQL) -> Filter | None:
        return visible_scope(self.session, table)


def visible_scope(session: Session, table: TableSQL) -> dict[str, Any] | None:
    """What every statement on this table must also match: tenancy, and not soft-deleted."""
    scope = session.scope(table.schema) if session.db.tenancy_filters else None
    if table.schema.soft_delete:
        alive = {"deleted_at": {"$null": True}}
        scope = alive if scope is None else {"$and": [scope, alive]}
    return scope


def where(session: Session, table: TableSQL, params: Params, filter: Filter | None) -> str:
    """`` WHERE ...`` for ``filter`` within the session's scope, or ``""`` when it matches everything."""
    scope = visible_scope(session, table)
    parts = [compile_filter(filter, table, params, SessionTables(session))] if filter is not None else []
    if scope is not None:
        parts.append(compile_filter(scope, table, params))
    parts = [p for p in parts if p != TRUE]
    if not parts:
        return ""
    return " WHERE " + " AND ".join(parts)


def check_confirmed(node: str, session: Session, table: TableSQL, inputs: Mapping[str, Any], effect: str) -> None:
    """Refuse a write by ``filter`` that would touch every row, unless ``confirmed=True`` says it is meant.

    "Every row" is judged by the filter's shape (``None``, ``{}``, ``{"$and": []}``,
    ``{"$or": [{}]}``, ...), before any SQL; ``effect`` is the verb for the message.
    """
    confirmed = inputs.get("confirmed", False)
    model = table.schema.name
    if not isinstance(confirmed, bool):
        raise ValidationError(
            f"{node}: 'confirmed' must be true or false, got {confirmed!r}", model=model, field="confirmed"
        )
    if not confirmed and matches_everything(inputs.get("filter"), table, SessionTables(session)):
        raise ValidationError(
            f"{node}: the filter is empty in effect: it matches every {model} row, so this would {effect} "
            "them all; pass confirmed=True to mean it, or narrow the filter",
            model=model,
            field="filter",
        )


def key_where(session: Session, table: TableSQL, params: Params, key: Any) -> str:
    """`` WHERE pk = ?`` within the session's scope."""
    condition = f"{table.quoted[table.pk]} = {params.add(table.encode(table.pk, key))}"
    scope = visible_scope(session, table)
    if scope is not None:
        condition += " AND " + compile_filter(scope, table, params)
    return " WHERE " + condition


async def read_record(session: Session, table: TableSQL, key: Any, operation: str) -> dict[str, Any] | None:
    if visible_scope(session, table) is None:
        # The common read by key: its text is the same every time (one placeholder), built once per table.
        sql, values = table.select_by_key, [table.encode(table.pk, key)]
    else:
        params = Params(table.dialect)
        sql = f"SELECT {table.select_list} FROM {table.table}{key_where(session, table, params, key)}"
        values = params.values
    rows = await session.fetch(sql, values, schema=table.schema, operation=operation, key=key)
    return table.decode(rows[0]) if rows else None


def assignments(table: TableSQL, params: Params, values: Mapping[str, Any]) -> str:
    """``a = ?, b = ?`` for an UPDATE's SET list, values bound into ``params``.

    On a versioned model the list also increments the version column.
    """
    parts = [f"{table.quoted[n]} = {params.add(table.encode(n, v))}" for n, v in values.items()]
    version = table.schema.version_field
    if version is not None:
        parts.append(f"{table.quoted[version]} = {table.quoted[version]} + 1")
    return ", ".join(parts)


async def update_matching(
    session: Session, table: TableSQL, values: Mapping[str, Any], filter: Filter | None, operation: str
) -> dict[str, int]:
    """UPDATE every visible row matching ``filter``; ``{"updated": n}``."""
    version = table.schema.version_field
    if version is not None and version in values:
        raise ValidationError(
            f"{table.schema.name}.{version} can only be checked by an update of one record (by id); "
            f"filter on {version!r} instead",
            model=table.schema.name,
            field=version,
        )
    if not values:
        return {"updated": 0}
    params = Params(table.dialect)
    sql = f"UPDATE {table.table} SET {assignments(table, params, values)}{where(session, table, params, filter)}"
    result = await session.execute(sql, params.values, schema=table.schema, operation=operation)
    return {"updated": result.rowcount}


def check_conflict_target(session: Session, schema: ModelSchema, conflict_on: tuple[str, ...]) -> None:
    """On databases that cannot choose the conflict target, ``conflict_on`` must be a unique key."""
    if not session.dialect.capabilities.upsert_needs_unique_key:
        return
    keys = {(schema.primary_key,), *(tuple(group) for group in schema.unique)}
    if tuple(conflict_on) not in keys and set(conflict_on) not in [set(k) for k in keys]:
        options = " or ".join(f"({', '.join(k)})" for k in sorted(keys))
        raise ValidationError(
            f"{schema.name}: conflict_on ({', '.join(conflict_on)}) is not a unique key; {session.dialect.name} "
            f"can only resolve conflicts on one: use {options}",
            model=schema.name,
            field="conflict_on",
        )
