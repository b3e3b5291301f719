"""A captured one-record update by key as one statement: the write, its locked before image, and the listeners' rows.

The usual capture of an ``Update`` by ``id`` is a transaction: BEGIN, the
before image read ``FOR UPDATE``, the UPDATE, the listeners' statements,
COMMIT. Where the dialect has writable CTEs and every listener of the model
can record the change in SQL (:class:`dataflow.changes.UpdateFuser`), it is
one statement instead, atomic by itself, so it needs no transaction of its own
(ADR 0025)::

    WITH written AS (
        UPDATE t SET ... FROM (SELECT pk, <assigned columns> FROM t WHERE pk = ? <scope> FOR UPDATE) AS old
        WHERE t.pk = old.pk RETURNING <every column>, <assigned columns before>),
    <the listeners' CTEs>
    SELECT <every column> FROM written

The subquery takes the row's lock before the UPDATE writes it, and under READ
COMMITTED returns the row's newest version once a concurrent writer is done:
the before image is the version the UPDATE changes, as with the separate read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ..changes import FUSED_ROW, ChangeListener, FusedUpdate, before_column
from ..session import Session
from ..sql import Params
from .crud import UpdateNode, not_found
from .references import check_references
from .rows import changes, key_value
from .statements import assignments, key_where

Fuser = Callable[[Session, FusedUpdate], Awaitable[str | None]]
NOT_FUSED: tuple[bool, Any] = (False, None)


def update_fusers(listeners: Iterable[ChangeListener]) -> tuple[Fuser, ...] | None:
    """Every listener's ``fuse_update``, or None when one of them has none (the update is captured as usual)."""
    fusers = tuple(getattr(listener, "fuse_update", None) for listener in listeners)
    return None if any(fuser is None for fuser in fusers) else fusers  # type: ignore[return-value]


async def run_fused_update(
    node: UpdateNode, session: Session, inputs: dict[str, Any], fusers: tuple[Fuser, ...]
) -> tuple[bool, Any]:
    """``(True, output)`` when the update ran as one statement; ``(False, None)``: capture it as usual.

    The output is exactly the node's own (the record, or None / ``NotFoundError`` when none matched).
    """
    schema = node.schema
    capabilities = session.dialect.capabilities
    if not capabilities.writable_cte or "update" not in capabilities.returning or schema.version_field is not None:
        return NOT_FUSED
    if inputs.get("id") is None or "filter" in inputs:
        return NOT_FUSED
    table = node.table(session)
    values = changes(schema, inputs.get("fields"), session.protected(schema))
    if not values:
        return NOT_FUSED  # the node reads the record back: nothing to record
    key = key_value(schema, inputs["id"])
    dialect = session.dialect
    q, pk = dialect.quote, table.pk
    params = Params(dialect)
    assigned = tuple(values)
    sql = f"UPDATE {table.table} SET {assignments(table, params, values)}"
    old_columns = ", ".join(f"{table.quoted[name]} AS {q(before_column(name))}" for name in (pk, *assigned))
    old = dialect.locking_read(f"SELECT {old_columns} FROM {table.table}{key_where(session, table, params, key)}")
    old_key = q(before_column(pk))
    sql += f" FROM ({old}) AS {q('old')} WHERE {table.table}.{table.quoted[pk]} = {q('old')}.{old_key}"
    before_list = ", ".join(q(before_column(name)) for name in assigned)
    written = f"{sql} RETURNING {table.select_list}, {before_list}"
    update = FusedUpdate(schema, node.node_id, key, assigned, params, q)
    parts: list[str] = []
    for fuse in fusers:
        part = await fuse(session, update)
        if part is None:
            return NOT_FUSED
        if part:
            parts.append(part)
    if not parts:
        return True, await node.run(session, inputs)  # no listener records this update
    await check_references(session, schema, [values])
    statement = f"WITH {q(FUSED_ROW)} AS ({written}), {', '.join(parts)} SELECT {table.select_list} FROM {q(FUSED_ROW)}"
    rows = await session.fetch(statement, params.values, schema=schema, operation=node.operation, key=key)
    if rows:
        return True, table.decode(rows[0])
    if inputs.get("raise_on_not_found", True):
        raise not_found(node, key)
    return True, None
