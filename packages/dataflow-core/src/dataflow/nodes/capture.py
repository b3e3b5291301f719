"""Running a write node of a captured model: read the touched rows before and after, set-wise, and report them.

Each write node type has one :class:`Capture`: how to find the rows it is about
to touch (by key, by filter, by conflict key) and the kind of change it makes.
The node itself runs unchanged between the two reads, inside ``session.atomic()``
together with the listeners, so a listener's own rows commit or roll back with
the write. Reads go ``IN (...)`` over as many keys as a statement may bind:
a bulk write of n rows costs about 2n/limit extra statements, never one per row.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any

import attrs

from ..bulk.generic import key_list_condition
from ..bulk.strategy import chunks
from ..changes import ChangeKind, ChangeListener, ChangeSet, CreatedRows, RowChange
from ..fields import FieldKind
from ..schema import ModelSchema
from ..session import Session
from ..sql import Params, TableSQL
from .base import ModelNode
from .bulk import BulkCreateNode, BulkDeleteNode, BulkUpdateNode, BulkUpsertNode
from .crud import CreateNode, DeleteNode, UpdateNode, UpsertNode
from .fused_update import run_fused_update, update_fusers
from .rows import key_value
from .statements import where

Row = dict[str, Any]
Targets = Callable[[ModelNode, Session, Mapping[str, Any]], Awaitable[list[Row]]]


async def read_where(session: Session, table: TableSQL, filter: Mapping[str, Any] | None, operation: str) -> list[Row]:
    """The visible rows matching ``filter`` (the rows a write by that filter touches)."""
    params = Params(table.dialect)
    condition = where(session, table, params, filter)
    sql = table.dialect.locking_read(f"SELECT {table.select_list} FROM {table.table}{condition}")
    return [table.decode(r) for r in await session.fetch(sql, params.values, schema=table.schema, operation=operation)]


async def prefetch_key(
    session: Session, table: TableSQL, key: Any, operation: str
) -> Callable[[], Awaitable[list[Row]]]:
    """The visible row of ``key``, locked, read before the next statement (in its hop on SQLite); rows on call."""
    params = Params(table.dialect)
    condition = key_list_condition(table, (table.pk,), 1, params)
    params.values = [table.encode(table.pk, key)]
    sql = f"SELECT {table.select_list} FROM {table.table} WHERE {condition}"
    rest = where(session, table, params, None)
    sql = table.dialect.locking_read(sql + rest.replace(" WHERE ", " AND ", 1))
    rows = await session.prefetch(sql, params.values, schema=table.schema, operation=operation)

    async def decoded() -> list[Row]:
        return [table.decode(r) for r in await rows()]

    return decoded


async def read_columns(
    session: Session,
    table: TableSQL,
    columns: tuple[str, ...],
    values: Sequence[tuple[Any, ...]],
    operation: str,
    *,
    scoped: bool,
) -> list[Row]:
    """The rows whose ``columns`` hold one of ``values`` (validated Python values), a statement per chunk.

    ``scoped`` adds the session's scope (tenancy, not soft-deleted) and locks the rows:
    reads before a write see what the write may touch, and no concurrent writer can
    change them before it; reads after it read back by key, unscoped, so that a
    soft-deleted row is seen with its ``deleted_at``.
    """
    found: list[Row] = []
    distinct = list(dict.fromkeys(values))
    per_statement = max(1, table.dialect.capabilities.max_parameters // (len(columns) + 8))
    for chunk in chunks(distinct, min(per_statement, 1000)):
        params = Params(table.dialect)
        condition = key_list_condition(table, columns, len(chunk), params)
        params.values = [table.encode(c, v) for key in chunk for c, v in zip(columns, key, strict=True)]
        sql = f"SELECT {table.select_list} FROM {table.table} WHERE {condition}"
        if scoped:
            rest = where(session, table, params, None)
            sql = table.dialect.locking_read(sql + rest.replace(" WHERE ", " AND ", 1))
        rows = await session.fetch(sql, params.values, schema=table.schema, operation=operation)
        found.extend(table.decode(r) for r in rows)
    return found


@attrs.frozen
class Capture:
    """How to capture one write node type: which rows it will touch, and what it does to them."""

    kind: ChangeKind
    targets: Targets
    """The rows the write will touch, read before it runs (and, for bulk upserts, again after)."""
    creates: bool = False
    """The write may insert rows (their keys are read from its output, or by conflict key)."""
    by_key: bool = False
    """Given an ``id`` (and no ``filter``), the write touches that one record: its before image is prefetched."""


def _pk(node: ModelNode) -> tuple[str, ...]:
    return (node.schema.primary_key,)


async def _by_id_or_filter(node: ModelNode, session: Session, inputs: Mapping[str, Any]) -> list[Row]:
    table = node.table(session)
    if inputs.get("id") is not None and "filter" not in inputs:
        key = key_value(node.schema, inputs["id"])
        return await read_columns(session, table, _pk(node), [(key,)], node.operation, scoped=True)
    if "filter" in inputs and inputs.get("id") is None:
        return await read_where(session, table, inputs["filter"], node.operation)
    return []  # the node refuses these inputs itself


async def _by_data_or_filter(node: ModelNode, session: Session, inputs: Mapping[str, Any]) -> list[Row]:
    table, pk = node.table(session), node.schema.primary_key
    if "filter" in inputs and "data" not in inputs:
        return await read_where(session, table, inputs["filter"], node.operation)
    rows = inputs.get("data")
    if not isinstance(rows, Sequence) or "filter" in inputs:
        return []
    keys = [(key_value(node.schema, r[pk]),) for r in rows if isinstance(r, Mapping) and r.get(pk) is not None]
    return await read_columns(session, table, _pk(node), keys, node.operation, scoped=True)


async def _by_ids_or_filter(node: ModelNode, session: Session, inputs: Mapping[str, Any]) -> list[Row]:
    table = node.table(session)
    if "filter" in inputs and "ids" not in inputs:
        return await read_where(session, table, inputs["filter"], node.operation)
    ids = inputs.get("ids")
    if not isinstance(ids, Sequence) or isinstance(ids, str) or "filter" in inputs:
        return []
    keys = [(key_value(node.schema, key),) for key in ids]
    return await read_columns(session, table, _pk(node), keys, node.operation, scoped=True)


def _conflict_fields(node: ModelNode, inputs: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    given = inputs.get("conflict_on")
    if given is not None:
        return (given,) if isinstance(given, str) else tuple(given)
    schema = node.schema
    if rows and all(schema.primary_key in r for r in rows):
        return (schema.primary_key,)
    return schema.unique[0] if schema.unique else (schema.primary_key,)


async def _by_conflict_key(node: ModelNode, session: Session, inputs: Mapping[str, Any]) -> list[Row]:
    """Upserts (and creates that skip conflicts): the existing rows holding the rows' conflict keys."""
    if isinstance(node, UpsertNode):
        rows: Sequence[Any] = [{n: v for n, v in inputs.items() if n not in ("conflict_on", "update_fields")}]
    elif isinstance(node, BulkCreateNode) and inputs.get("conflict_on") is None:
        return []
    else:
        rows = inputs.get("data") or ()
    rows = [r for r in rows if isinstance(r, Mapping)]
    if session.db.tenancy_filters:
        rows = [session.fill(node.schema, dict(r)) for r in rows]
    columns = _conflict_fields(node, inputs, rows)
    fields = [node.schema.by_name.get(c) for c in columns]
    if not rows or any(f is None for f in fields):
        return []  # the node names the bad input itself
    keys = []
    for row in rows:
        if all(row.get(c) is not None for c in columns):
            keys.append(tuple(f.validate(row[c], node.schema.name) for f, c in zip(fields, columns, strict=True)))  # type: ignore[union-attr]
    return await read_columns(session, node.table(session), columns, keys, node.operation, scoped=True)


async def _nothing(node: ModelNode, session: Session, inputs: Mapping[str, Any]) -> list[Row]:
    return []


CAPTURES: dict[type[ModelNode], Capture] = {
    CreateNode: Capture("create", _nothing, creates=True),
    UpdateNode: Capture("update", _by_id_or_filter, by_key=True),
    DeleteNode: Capture("delete", _by_id_or_filter, by_key=True),
    UpsertNode: Capture("update", _by_conflict_key, creates=True),
    BulkCreateNode: Capture("create", _by_conflict_key, creates=True),
    BulkUpdateNode: Capture("update", _by_data_or_filter),
    BulkDeleteNode: Capture("delete", _by_ids_or_filter),
    BulkUpsertNode: Capture("update", _by_conflict_key, creates=True),
}
"""The capture of each write node type; nodes that only read have none."""


def capture_for(node_class: type[ModelNode]) -> Capture | None:
    """The capture of ``node_class`` (a generated subclass of one of :data:`CAPTURES`), or None."""
    for base, capture in CAPTURES.items():
        if issubclass(node_class, base):
            return capture
    return None


def _created_keys(node: ModelNode, output: Any) -> list[Any]:
    """Keys of rows the node's output names as written: a record, an upsert's record, bulk ``ids``."""
    pk = node.schema.primary_key
    if isinstance(output, Mapping):
        record = output.get("record", output)
        if isinstance(record, Mapping) and record.get(pk) is not None:
            return [record[pk]]
        return list(output.get("ids") or ())
    return []


async def run_captured(
    node: ModelNode, session: Session, inputs: dict[str, Any], capture: Capture, listeners: Iterable[ChangeListener]
) -> Any:
    """Run ``node`` with its changes captured; its output is exactly what it returns uncaptured."""
    if isinstance(node, UpdateNode) and (fusers := update_fusers(listeners)) is not None:
        fused, output = await run_fused_update(node, session, inputs, fusers)
        if fused:
            return output
    pk = node.schema.primary_key
    table = node.table(session)
    # Bulk creates read their rows back by the keys the strategy returns.
    wants_ids = isinstance(node, BulkCreateNode) and inputs.get("conflict_on") is None
    asked_ids = bool(inputs.get("return_ids", False))
    run_inputs = {**inputs, "return_ids": True} if wants_ids and not asked_ids else inputs
    # Bulk upserts name no keys: what they wrote is what holds the rows' conflict keys afterwards.
    by_conflict_key = isinstance(node, (BulkUpsertNode, BulkCreateNode)) and not wants_ids
    async with session.atomic():
        before, output, created = await _run_between_reads(node, session, run_inputs, capture)
        if created is not None:
            rows: Sequence[RowChange] = created
        else:
            if by_conflict_key:
                after = {row[pk]: row for row in await capture.targets(node, session, run_inputs)}
            else:
                after = await _read_after(node, session, table, capture, before, output)
            rows = tuple(
                change
                for key in dict.fromkeys([*before, *after])
                if (change := _row_change(capture.kind, key, before.get(key), after.get(key))).before != change.after
            )
        if rows:
            change_set = ChangeSet(node.schema, node.operation, node.node_id, rows)
            for listener in listeners:
                await listener.changed(session, change_set)
    if wants_ids and not asked_ids and isinstance(output, dict):
        output = {k: v for k, v in output.items() if k != "ids"}
    return output


async def _run_between_reads(
    node: ModelNode, session: Session, inputs: dict[str, Any], capture: Capture
) -> tuple[dict[Any, Row], Any, CreatedRows | None]:
    """The before images, the node's output, and a bulk create's rows when it knew them (else None)."""
    pk = node.schema.primary_key
    table = node.table(session)
    if capture.by_key and inputs.get("id") is not None and "filter" not in inputs:
        # One record by key: its before image is read in the same hop as the write on SQLite.
        pending = await prefetch_key(session, table, key_value(node.schema, inputs["id"]), node.operation)
        output = await node.run(session, inputs)
        return {row[pk]: row for row in await pending()}, output, None
    before = {row[pk]: row for row in await capture.targets(node, session, inputs)}
    if isinstance(node, BulkCreateNode) and inputs.get("conflict_on") is None:
        output, written = await node.run_written(session, inputs)
        return before, output, _created_rows(table, output, written)
    return before, await node.run(session, inputs), None


async def _read_after(
    node: ModelNode, session: Session, table: TableSQL, capture: Capture, before: dict[Any, Row], output: Any
) -> dict[Any, Row]:
    """The rows the node touched as they are now: its own record when it returned it, else read back by key."""
    pk = node.schema.primary_key
    keys = list(before)
    if capture.creates:
        keys += _created_keys(node, output)
    record = _output_record(table, output)
    if record is not None and capture.kind != "delete" and set(keys) == {record[pk]}:
        return {record[pk]: record}  # the node read its one record back already
    written = await read_columns(session, table, (pk,), [(k,) for k in keys], node.operation, scoped=False)
    return {row[pk]: row for row in written}


EXACT_KINDS = frozenset({FieldKind.STR, FieldKind.INT, FieldKind.FLOAT, FieldKind.BOOL, FieldKind.ENUM, FieldKind.UUID})
"""Kinds every dialect stores as given and reads back equal (no rounding of scale, no time zone, no key order)."""


def knows_written_rows(schema: ModelSchema) -> bool:
    """Are a bulk create's rows, as the node wrote them, exactly what a read back would give?

    Every column must be written by the node (a key the database numbers comes back
    from the strategy; ``deleted_at`` starts empty) and be of a kind stored as given.
    """
    for field in schema.fields:
        if field.managed and field.name == "deleted_at":
            continue
        if field.kind not in EXACT_KINDS or field.column_type is not None or field.array or field.managed:
            return False
    return True


def _created_rows(
    table: TableSQL, output: Any, written: tuple[tuple[str, ...], Sequence[Sequence[Any]]] | None
) -> CreatedRows | None:
    """A bulk create's rows column-wise from what it wrote and the keys it returned; None: read them back."""
    ids = output.get("ids") if isinstance(output, Mapping) else None
    if ids is None or not knows_written_rows(table.schema):
        return None
    if written is None:
        return CreatedRows([], {}) if not ids else None
    columns, rows = written
    if len(rows) != len(ids):
        return None
    listed = rows if isinstance(rows, list) else list(rows)
    # A C loop per column: zip(*rows) makes an iterator per row, three times slower for 100,000 rows.
    by_name: dict[str, Sequence[Any]] = {name: list(map(itemgetter(i), listed)) for i, name in enumerate(columns)}
    values: dict[str, Sequence[Any]] = {}
    for _, name, decoder in table.decoders:
        if name == table.pk:
            values[name] = ids
            continue
        column = by_name.get(name)
        if column is None:
            values[name] = [None] * len(ids)
        elif decoder is None:
            values[name] = column
        else:
            values[name] = [None if v is None else decoder(v) for v in column]
    return CreatedRows(ids, values)


def _output_record(table: TableSQL, output: Any) -> Row | None:
    """The whole stored record a single-record write returned (Create, Update by id, Upsert), else None."""
    record = output.get("record", output) if isinstance(output, Mapping) else None
    if isinstance(record, Mapping) and all(column in record for column in table.columns):
        return dict(record)
    return None


def _row_change(kind: ChangeKind, key: Any, before: Row | None, after: Row | None) -> RowChange:
    if before is None:
        return RowChange("create", key, None, after)
    if kind == "delete" or after is None:
        return RowChange("delete", key, before, after)
    return RowChange("update", key, before, after)
