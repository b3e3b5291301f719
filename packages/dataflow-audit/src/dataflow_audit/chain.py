"""The hash chain: each entry's hash covers the previous one's, per tenant and table, with a checkpointed head.

Appending locks the chain's head row with an UPDATE (a row lock on the servers,
the write lock on SQLite), so that concurrent writers take turns and never
fork a chain; ``(chain, seq)`` is unique besides, so a writer that read a
stale head fails instead of forking. The head keeps the last sequence number
and hash: deleting the newest entries is detected too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dataflow.bulk.strategy import BulkRequest, choose_strategy, registered_bulk_strategies
from dataflow.sql import Params, TableSQL

from .tables import ENTRIES, HEADS

if TYPE_CHECKING:
    from dataflow.session import Session

BULK_FROM = 50
"""From this many entries on, a bulk strategy writes them; fewer go in one executemany."""
WRITTEN = tuple(name for name in ENTRIES.column_names if name != "id")
assert WRITTEN == ("chain", "seq", "model", "record_key", "operation", "changes", "at", "prev_hash", "hash", "actor",
                   "tenant", "run_id", "node_id"), "append_run makes its rows in this order"  # fmt: skip
PER_ENTRY = ("seq", "record_key", "operation", "changes")
SHARED = ("chain", "model", "at", "actor", "tenant", "run_id", "node_id")
"""The fields an entry's hash covers, besides the previous entry's hash: its own, and those an entry usually
shares with the others written by the same node run (joined once for all of them)."""


def _text(value: Any) -> str:
    return "\x00" if value is None else f"{type(value).__name__[0]}{value}"


def shared_part(entry: Mapping[str, Any]) -> str:
    return "\x1f".join(_text(entry.get(name)) for name in SHARED)


def entry_hash(entry: Mapping[str, Any], prev_hash: str, shared: str | None = None) -> str:
    """SHA-256 of the previous hash and the covered fields, each unambiguous (None is not "", 1 is not "1")."""
    own = "\x1f".join(_text(entry[name]) for name in PER_ENTRY)
    tail = shared if shared is not None else shared_part(entry)
    return hashlib.sha256(f"{prev_hash}\x1f{own}\x1f{tail}".encode()).hexdigest()


def chain_name(tenant: str | None, table: str) -> str:
    return f"{tenant if tenant is not None else '-'}/{table}"


async def append(
    session: Session, entries_table: TableSQL, heads: TableSQL, chain: str, entries: Sequence[dict[str, Any]]
) -> None:
    """Number, hash and insert ``entries`` at the end of ``chain``, in the session's transaction."""
    by_run: dict[tuple[Any, ...], list[tuple[str, str, str]]] = {}
    for entry in entries:
        shared = tuple(entry.get(name) for name in SHARED_WRITTEN)
        by_run.setdefault(shared, []).append((entry["record_key"], entry["operation"], entry["changes"]))
    for shared, own in by_run.items():
        await append_run(session, entries_table, heads, chain, dict(zip(SHARED_WRITTEN, shared, strict=True)), own)


SHARED_WRITTEN = tuple(name for name in SHARED if name != "chain")


async def append_run(
    session: Session,
    entries_table: TableSQL,
    heads: TableSQL,
    chain: str,
    shared: Mapping[str, Any],
    own: Sequence[tuple[str, str, str]],
) -> None:
    """Append the entries of one node run: ``own`` holds each one's ``(record_key, operation, changes)``.

    The fields the run's entries share (``SHARED_WRITTEN``) are joined once for all of
    them, and each row is made as a tuple straight away: a bulk write's entries cost
    one hash and one tuple each.
    """
    last, prev_hash = await _reserve(session, heads, chain, len(own))
    seq = last - len(own)
    tail = shared_part({**shared, "chain": chain})
    model, at, actor, tenant, run_id, node_id = (shared[name] for name in SHARED_WRITTEN)
    sha256 = hashlib.sha256
    rows: list[tuple[Any, ...]] = []
    append_row = rows.append
    for record_key, operation, changes in own:
        seq += 1
        # entry_hash's text, inlined: every one of these fields is a str, seq an int.
        digest = sha256(f"{prev_hash}\x1fi{seq}\x1fs{record_key}\x1fs{operation}\x1fs{changes}\x1f{tail}".encode())
        entry_hash_text = digest.hexdigest()
        append_row((chain, seq, model, record_key, operation, changes, at, prev_hash, entry_hash_text, actor, tenant,
                    run_id, node_id))  # fmt: skip
        prev_hash = entry_hash_text
    # Every written value is a str, an int or None, which every driver takes as it is. The dialect's
    # fastest bulk insert writes them (COPY on PostgreSQL): set-wise, however many rows the node changed.
    if len(rows) < BULK_FROM:
        await session.executemany(entries_table.insert(WRITTEN, returning=False), rows, operation="audit")
    else:
        request = BulkRequest("create", entries_table, WRITTEN, rows, batch_size=len(rows))
        strategy = choose_strategy(registered_bulk_strategies(), session.dialect, request, None)
        await strategy.run(session, request)
    q = heads.quoted
    params = Params(session.dialect)
    checkpoint = f"UPDATE {heads.table} SET {q['hash']} = {params.add(prev_hash)} WHERE {q['chain']} = "
    checkpoint += params.add(chain)
    await session.execute(checkpoint, params.values, operation="audit")


async def _reserve(session: Session, heads: TableSQL, chain: str, count: int) -> tuple[int, str]:
    """Take ``count`` numbers at the end of ``chain`` and hold its head's row lock.

    Returns the new last number and the hash of the entry before the taken ones.
    The head row is made the first time (a concurrent first writer's row is kept).
    """
    reserved = await _advance(session, heads, chain, count)
    if reserved is None:
        dialect = session.dialect
        holders = [dialect.placeholder(i) for i in (1, 2, 3)]
        insert = dialect.upsert_sql(HEADS.table, ("chain", "seq", "hash"), holders, ("chain",), ())
        await session.execute(insert, [chain, 0, ""], operation="audit")
        reserved = await _advance(session, heads, chain, count)
    assert reserved is not None, "the head row exists: it was just made"
    return reserved


async def _advance(session: Session, heads: TableSQL, chain: str, count: int) -> tuple[int, str] | None:
    q = heads.quoted
    params = Params(session.dialect)
    sql = f"UPDATE {heads.table} SET {q['seq']} = {q['seq']} + {params.add(count)} WHERE {q['chain']} = "
    sql += params.add(chain)
    if "update" in session.dialect.capabilities.returning:
        rows = await session.fetch(f"{sql} RETURNING {q['seq']}, {q['hash']}", params.values, operation="audit")
        return (int(rows[0][0]), str(rows[0][1])) if rows else None
    result = await session.execute(sql, params.values, operation="audit")
    if not result.rowcount:
        return None
    params = Params(session.dialect)
    select = f"SELECT {q['seq']}, {q['hash']} FROM {heads.table} WHERE {q['chain']} = {params.add(chain)}"
    (head,) = await session.fetch(select, params.values, operation="audit")
    return int(head[0]), str(head[1])
