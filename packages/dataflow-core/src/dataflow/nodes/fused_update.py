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

Where the connection runs a program all or nothing in one call (SQLite's, on its
thread: :func:`runs_atomic_programs`) the update is one program instead
(ADR 0030): the before image of the assigned columns, ``UPDATE ... RETURNING``,
then each listener's steps, with BEGIN IMMEDIATE and COMMIT (or a savepoint
inside a transaction) in the same hop. SQLite's write lock, taken by BEGIN
IMMEDIATE, keeps the row as read until the UPDATE.

Where the dialect has neither (MySQL/MariaDB: no writable CTEs, no ``UPDATE ...
RETURNING``), one listener may make the whole update one statement of its own
(ADR 0031: the audit trail's stored procedure), which writes the row, records
it and returns the record as its result set.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from ..batches import Program, Step
from ..changes import FUSED_ROW, ChangeListener, FusedCall, FusedSteps, FusedUpdate, before_column
from ..errors import DataFlowError
from ..schema import ModelSchema
from ..session import Session
from ..sql import Params, TableSQL
from .crud import UpdateNode, not_found
from .references import check_references
from .rows import changes, key_value
from .statements import assignments, key_where, visible_scope

Fuser = Callable[[Session, FusedUpdate], Awaitable[str | FusedSteps | FusedCall | None]]
NOT_FUSED: tuple[bool, Any] = (False, None)
Row = dict[str, Any]
T = TypeVar("T")


def update_fusers(listeners: Iterable[ChangeListener]) -> tuple[Fuser, ...] | None:
    """Every listener's ``fuse_update``, or None when one of them has none (the update is captured as usual)."""
    fusers = tuple(getattr(listener, "fuse_update", None) for listener in listeners)
    return None if any(fuser is None for fuser in fusers) else fusers  # type: ignore[return-value]


async def run_fused_update(
    node: UpdateNode, session: Session, inputs: dict[str, Any], fusers: tuple[Fuser, ...]
) -> tuple[bool, Any]:
    """``(True, output)`` when the update ran fused (one statement or one program); ``(False, None)``: capture it
    as usual.

    The output is exactly the node's own (the record, or None / ``NotFoundError`` when none matched).
    """
    schema = node.schema
    capabilities = session.dialect.capabilities
    if schema.version_field is not None or inputs.get("id") is None or "filter" in inputs:
        return NOT_FUSED
    returning = "update" in capabilities.returning
    if returning and not capabilities.writable_cte and not runs_atomic_programs(session):
        return NOT_FUSED
    values = changes(schema, inputs.get("fields"), session.protected(schema))
    if not values:
        return NOT_FUSED  # the node reads the record back: nothing to record
    key = key_value(schema, inputs["id"])
    fuse = _one_call if not returning else _one_statement if capabilities.writable_cte else _one_program
    return await fuse(node, session, inputs, values, key, fusers)


def runs_atomic_programs(session: Session) -> bool:
    """Does the session's connection run a whole program all or nothing in one call (``run_atomic_program``)?"""
    return hasattr(session.connection, "run_atomic_program")


async def run_atomic_program(session: Session, program: Program[T], *, sql: str, schema: ModelSchema,
                             operation: str, key: Any) -> T:  # fmt: skip
    """Run ``program`` all or nothing in one call of a connection that :func:`runs_atomic_programs`.

    Outside a transaction it is one of its own, inside one a savepoint: like one
    statement, it reports no transaction to monitors. ``sql`` is the statement it
    is reported as (its main one).
    """
    try:
        step = next(program)
    except StopIteration as stop:
        done: T = stop.value
        return done  # no statement: nothing to run
    runner = session.connection.run_atomic_program  # type: ignore[attr-defined]
    result: T = await session.call(lambda conn: runner(step, program), sql=sql, schema=schema, operation=operation,
                                   key=key)  # fmt: skip
    return result


async def _parts(
    session: Session, update: FusedUpdate, fusers: tuple[Fuser, ...], of_this_form: Callable[[object], bool]
) -> list[Any] | None:
    """Each listener's part of ``update`` (``""``: it records nothing); None when one declines or answers in
    another form than the one this fused update takes (CTE text, program steps, one call)."""
    parts: list[Any] = []
    for fuse in fusers:
        part = await fuse(session, update)
        if part is None:
            return None
        if part == "":
            continue
        if not of_this_form(part):
            return None
        parts.append(part)
    return parts


def _found(node: UpdateNode, inputs: dict[str, Any], key: Any, record: Row | None) -> tuple[bool, Any]:
    """The node's output for ``record``: it, or None / ``NotFoundError`` when none matched."""
    if record is None and inputs.get("raise_on_not_found", True):
        raise not_found(node, key)
    return True, record


async def _one_statement(
    node: UpdateNode, session: Session, inputs: dict[str, Any], values: dict[str, Any], key: Any,
    fusers: tuple[Fuser, ...],
) -> tuple[bool, Any]:  # fmt: skip
    """The update and the listeners' CTEs as one statement (writable CTEs, ADR 0025)."""
    schema = node.schema
    table = node.table(session)
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
    parts: list[str] | None = await _parts(session, update, fusers, lambda part: isinstance(part, str))
    if parts is None:
        return NOT_FUSED
    if not parts:
        return True, await node.run(session, inputs)  # no listener records this update
    await check_references(session, schema, [values])
    statement = f"WITH {q(FUSED_ROW)} AS ({written}), {', '.join(parts)} SELECT {table.select_list} FROM {q(FUSED_ROW)}"
    rows = await session.fetch(statement, params.values, schema=schema, operation=node.operation, key=key)
    return _found(node, inputs, key, table.decode(rows[0]) if rows else None)


async def _one_program(
    node: UpdateNode, session: Session, inputs: dict[str, Any], values: dict[str, Any], key: Any,
    fusers: tuple[Fuser, ...],
) -> tuple[bool, Any]:  # fmt: skip
    """The update and the listeners' steps as one program, all or nothing, in one call (ADR 0030)."""
    schema = node.schema
    table = node.table(session)
    assigned = tuple(values)
    update = FusedUpdate(schema, node.node_id, key, assigned, Params(session.dialect), session.dialect.quote, True)
    parts: list[FusedSteps] | None = await _parts(session, update, fusers, callable)
    if parts is None:
        return NOT_FUSED
    if not parts:
        return True, await node.run(session, inputs)  # no listener records this update
    await check_references(session, schema, [values])
    before, write = _program_steps(session, table, assigned, values, key)
    program = _program(table, assigned, before, write, parts)
    record = await run_atomic_program(session, program, sql=write.sql, schema=schema, operation=node.operation,
                                      key=key)  # fmt: skip
    return _found(node, inputs, key, record)


async def _one_call(
    node: UpdateNode, session: Session, inputs: dict[str, Any], values: dict[str, Any], key: Any,
    fusers: tuple[Fuser, ...],
) -> tuple[bool, Any]:  # fmt: skip
    """One listener's statement makes the write and records it, its result set the record (ADR 0031)."""
    table = node.table(session)
    if visible_scope(session, table) is not None:
        return NOT_FUSED  # the listener's statement matches by key alone
    schema = node.schema
    assigned = tuple(values)
    written = (*table.encode_row(values, assigned), table.encode(table.pk, key))
    update = FusedUpdate(schema, node.node_id, key, assigned, Params(session.dialect), session.dialect.quote,
                         in_call=True, written=written)  # fmt: skip
    calls: list[FusedCall] | None = await _parts(session, update, fusers, lambda part: isinstance(part, FusedCall))
    if calls is None:
        return NOT_FUSED
    if not calls:
        return True, await node.run(session, inputs)  # no listener records this update
    if len(calls) > 1:
        return NOT_FUSED  # two listeners would each make the write
    await check_references(session, schema, [values])
    call = calls[0]
    try:
        rows = await session.fetch(call.sql, call.params, schema=schema, operation=node.operation, key=key)
    except DataFlowError as exc:
        if call.unavailable is not None and call.unavailable(exc):
            return NOT_FUSED  # nothing ran: the usual capture does the update
        raise
    return _found(node, inputs, key, table.decode(rows[0]) if rows else None)


@lru_cache(maxsize=512)
def _unscoped_texts(table: TableSQL, assigned: tuple[str, ...]) -> tuple[str, str]:
    """The before image's SELECT and the UPDATE of ``assigned`` by key alone, made once per table and columns."""
    holder = table.dialect.placeholder
    sets = ", ".join(f"{table.quoted[name]} = {holder(i)}" for i, name in enumerate(assigned, 1))
    pk = table.quoted[table.pk]
    select = f"SELECT {', '.join(table.quoted[name] for name in assigned)} FROM {table.table} WHERE {pk} = {holder(1)}"
    update = f"UPDATE {table.table} SET {sets} WHERE {pk} = {holder(len(assigned) + 1)} RETURNING {table.select_list}"
    return select, update


def _program_steps(
    session: Session, table: TableSQL, assigned: tuple[str, ...], values: dict[str, Any], key: Any
) -> tuple[Step, Step]:
    """The before image of the assigned columns and the UPDATE ... RETURNING, both within the session's scope."""
    if visible_scope(session, table) is None:
        select, update = _unscoped_texts(table, assigned)
        encoded = table.encode(table.pk, key)
        return Step(select, (encoded,), "fetch"), Step(update, (*table.encode_row(values, assigned), encoded), "fetch")
    params = Params(session.dialect)
    where = key_where(session, table, params, key)
    quoted = ", ".join(table.quoted[name] for name in assigned)
    before = Step(f"SELECT {quoted} FROM {table.table}{where}", params.values, "fetch")
    params = Params(session.dialect)
    sql = f"UPDATE {table.table} SET {assignments(table, params, values)}{key_where(session, table, params, key)}"
    return before, Step(f"{sql} RETURNING {table.select_list}", params.values, "fetch")


def _program(
    table: TableSQL, assigned: tuple[str, ...], before: Step, write: Step, parts: Sequence[FusedSteps]
) -> Program[Row | None]:
    """Before image, UPDATE, the listeners' steps; the record as written, or None when no row matched."""
    old = yield before
    if not old:
        return None  # nothing visible by that key: nothing written, nothing to record
    rows = yield write
    after = table.decode(rows[0])
    images = table.decode(old[0], assigned)
    for part in parts:
        yield from part(images, after)
    return after
