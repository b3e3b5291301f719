"""Retention: deleting the saga log and the idempotency markers of work that is over.

Nothing else deletes these rows, so :func:`purge_history` is what keeps
``dataflow_saga``, ``dataflow_saga_step`` and ``dataflow_idempotency`` from
growing forever. What it deletes, and why that is safe:

- A saga in a final state (``completed``, ``compensated``) whose last write
  (``updated_at``, set when it reached that state) is older than the age, with
  all its step rows, in one transaction per batch of sagas. A saga that is
  ``running`` or ``compensating`` is never touched, however old: recovery
  still needs it.
- The markers of that saga's steps that live in the same database go in the
  same transaction.
- An idempotency marker in a final state (``done``, ``fenced``) created
  (``created_at``) before the age. A saga step's marker (``saga:<id>:<step>``)
  is how recovery learns whether the step committed, so by default it goes
  only with its saga (above). Markers of steps whose saga is logged in another
  database go when that log is named in ``saga_logs`` and their saga is not
  unfinished there.

A purged key is new again: running a saga or ``run_once`` with it runs the
work again. Choose an age longer than any retry of the same key can come.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import attrs

from dataflow.errors import ConfigError
from dataflow.sql import Params

from . import idempotency
from .idempotency import Markers
from .saga.keys import MARKER_PREFIX, marker_key, saga_ids_of_marker
from .saga.log import COMPENSATED, COMPLETED, SagaLog
from .storage import Table, now_ms

if TYPE_CHECKING:
    from dataflow import DataFlow
    from dataflow.session import Session

FINAL_SAGA_STATES = (COMPLETED, COMPENSATED)
FINAL_MARKER_STATES = (idempotency.DONE, idempotency.FENCED)
BATCH_SIZE = 1000
_SPARE_PARAMETERS = 8
"""Parameters a batch statement binds besides its keys (states, cutoff, paging)."""


@attrs.frozen
class RetentionReport:
    """What :func:`purge_history` deleted: the number of rows, by table."""

    sagas: int = 0
    """Rows of ``dataflow_saga``."""
    saga_steps: int = 0
    """Rows of ``dataflow_saga_step``."""
    idempotency_keys: int = 0
    """Rows of ``dataflow_idempotency``."""


async def purge_history(
    db: DataFlow,
    *,
    older_than: timedelta,
    saga_logs: Sequence[DataFlow] | None = None,
    batch_size: int = BATCH_SIZE,
) -> RetentionReport:
    """Delete, from ``db``, finished sagas and final idempotency markers older than ``older_than``.

    ``saga_logs``: the databases that log the sagas whose steps ran on
    ``db`` (besides ``db`` itself). Without it, markers of saga steps are
    deleted only together with their saga, when both live in ``db``; with it,
    such a marker is deleted when its saga is unfinished in none of those
    logs (a saga missing from them is taken as finished and purged, so name
    every log). ``batch_size`` bounds the keys of one statement and the sagas
    of one transaction. Missing tables are created (empty), as everywhere in
    this package.
    """
    cutoff = now_ms() - _age_ms(older_than)
    size = _batch(batch_size, [db, *(saga_logs or ())])
    async with AsyncExitStack() as stack:
        log = SagaLog(await _open(stack, db))
        markers = Markers(log.sagas.session)
        await log.ensure()
        await markers.ensure()
        sagas, steps, keys = await _purge_sagas(log, markers.table, cutoff, size)
        logs: list[SagaLog] | None = None
        if saga_logs is not None:
            logs = [log]
            for other in saga_logs:
                if other is not db:
                    logs.append(SagaLog(await _open(stack, other)))
                    await logs[-1].ensure()
        keys += await _purge_markers(markers.table, cutoff, size, logs)
    return RetentionReport(sagas=sagas, saga_steps=steps, idempotency_keys=keys)


def _age_ms(older_than: object) -> int:
    if not isinstance(older_than, timedelta) or older_than <= timedelta(0):
        raise ConfigError(
            f"older_than must be a positive datetime.timedelta, e.g. timedelta(days=30); got {older_than!r}",
            field="older_than",
        )
    return older_than // timedelta(milliseconds=1)


def _batch(batch_size: object, dbs: Sequence[DataFlow]) -> int:
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer; got {batch_size!r}", field="batch_size")
    limit = min(db.dialect.capabilities.max_parameters for db in dbs) - _SPARE_PARAMETERS
    return max(1, min(batch_size, limit))


async def _open(stack: AsyncExitStack, db: DataFlow) -> Session:
    session = await db.open_session()
    stack.push_async_callback(db.close_session, session)
    return session


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _in(table: Table, params: Params, column: str, values: Sequence[Any], negate: bool = False) -> str:
    placeholders = ", ".join(params.add(value) for value in values)
    return f"{table.sql.quoted[column]} {'NOT IN' if negate else 'IN'} ({placeholders})"


async def _keys_page(table: Table, params: Params, where: str, column: str, after: str, size: int) -> list[str]:
    """The next ``size`` values of ``column`` above ``after`` among rows matching ``where`` (keyset paging)."""
    q = table.sql.quoted[column]
    sql = f"SELECT {q} FROM {table.sql.table} WHERE {where} AND {q} > {params.add(after)} ORDER BY {q}"
    sql += table.dialect.limit_clause(params.add(size), None)
    if table.session.in_transaction and table.dialect.name != "sqlite":
        sql += " FOR UPDATE"  # SQLite's write transaction already holds the whole database
    return [str(row[0]) for row in await table.session.fetch(sql, params.values)]


async def _purge_sagas(log: SagaLog, markers: Table, cutoff: int, size: int) -> tuple[int, int, int]:
    """Delete finished sagas before ``cutoff``, a batch per transaction; return (sagas, steps, markers)."""
    session = log.sagas.session
    totals = (0, 0, 0)
    after = ""
    while True:
        async with session.atomic():
            params = Params(session.dialect)
            where = f"{_in(log.sagas, params, 'state', FINAL_SAGA_STATES)} AND "
            where += f"{log.sagas.sql.quoted['updated_at']} < {params.add(cutoff)}"
            # Locked as read: a saga cannot be deleted and started again under the same id meanwhile.
            ids = await _keys_page(log.sagas, params, where, "saga_id", after, size)
            counts = await _purge_saga_batch(log, markers, ids, cutoff, size) if ids else (0, 0, 0)
        totals = (totals[0] + counts[0], totals[1] + counts[1], totals[2] + counts[2])
        if len(ids) < size:
            return totals
        after = ids[-1]


async def _purge_saga_batch(
    log: SagaLog, markers: Table, ids: Sequence[str], cutoff: int, size: int
) -> tuple[int, int, int]:
    named = await _step_names(log.steps, ids)
    steps = await _delete(log.steps, lambda params: _in(log.steps, params, "saga_id", ids))
    sagas = await _delete(log.sagas, lambda params: _in(log.sagas, params, "saga_id", ids))
    derived = [marker_key(saga_id, step, undo) for saga_id, step in named for undo in (False, True)]
    keys = 0
    for chunk in _chunks(derived, size):
        keys += await _delete_markers(markers, chunk, cutoff)
    return sagas, steps, keys


async def _step_names(steps: Table, ids: Sequence[str]) -> list[tuple[str, str]]:
    params = Params(steps.dialect)
    q = steps.sql.quoted
    sql = f"SELECT {q['saga_id']}, {q['step']} FROM {steps.sql.table} WHERE {_in(steps, params, 'saga_id', ids)}"
    return [(str(row[0]), str(row[1])) for row in await steps.session.fetch(sql, params.values)]


async def _delete(table: Table, where: Callable[[Params], str]) -> int:
    params = Params(table.dialect)
    result = await table.session.execute(f"DELETE FROM {table.sql.table} WHERE {where(params)}", params.values)
    return result.rowcount


async def _delete_markers(markers: Table, keys: Sequence[str], cutoff: int) -> int:
    """Delete ``keys``, checking again that each is final and old (a key may have been used again since)."""
    if not keys:
        return 0

    def where(params: Params) -> str:
        return (
            f"{_in(markers, params, 'key', keys)} AND {_in(markers, params, 'state', FINAL_MARKER_STATES)} "
            f"AND {markers.sql.quoted['created_at']} < {params.add(cutoff)}"
        )

    return await _delete(markers, where)


async def _purge_markers(markers: Table, cutoff: int, size: int, logs: list[SagaLog] | None) -> int:
    """Delete final markers before ``cutoff``; saga steps' markers only when ``logs`` say their saga is over."""
    deleted = 0
    after = ""
    while True:
        params = Params(markers.dialect)
        where = f"{_in(markers, params, 'state', FINAL_MARKER_STATES)} AND "
        where += f"{markers.sql.quoted['created_at']} < {params.add(cutoff)}"
        if logs is None:
            where += f" AND {markers.sql.quoted['key']} NOT LIKE {params.add(MARKER_PREFIX + '%')}"
        keys = await _keys_page(markers, params, where, "key", after, size)
        doomed = keys if logs is None else await _not_needed(keys, logs, size)
        deleted += await _delete_markers(markers, doomed, cutoff)
        if len(keys) < size:
            return deleted
        after = keys[-1]


async def _not_needed(keys: Sequence[str], logs: Sequence[SagaLog], size: int) -> list[str]:
    """``keys`` less the markers of steps whose saga is unfinished in one of ``logs``."""
    owners = {key: saga_ids_of_marker(key) for key in keys}
    candidates = sorted({saga_id for ids in owners.values() for saga_id in ids})
    busy: set[str] = set()
    for log in logs:
        for chunk in _chunks(candidates, size):
            busy |= await _unfinished(log.sagas, chunk)
    # Compared without case: a MySQL log matches ids without case, so it may answer in another one.
    return [key for key, ids in owners.items() if not {saga_id.lower() for saga_id in ids} & busy]


async def _unfinished(sagas: Table, ids: Sequence[str]) -> set[str]:
    params = Params(sagas.dialect)
    q = sagas.sql.quoted
    sql = (
        f"SELECT {q['saga_id']} FROM {sagas.sql.table} WHERE {_in(sagas, params, 'saga_id', ids)} "
        f"AND {_in(sagas, params, 'state', FINAL_SAGA_STATES, negate=True)}"
    )
    return {str(row[0]).lower() for row in await sagas.session.fetch(sql, params.values)}
