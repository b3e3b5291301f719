"""The hash chain: each entry's hash covers the previous one's, per tenant and table, with a checkpointed head.

Appending reads the chain's head row with the dialect's locking read (``FOR
UPDATE`` on the servers; SQLite's write transaction already holds the write
lock) and moves it with one UPDATE, so that concurrent writers take turns and
never fork a chain; ``(chain, seq)`` is unique besides, so a writer that read a
stale head fails instead of forking. The head keeps the last sequence number
and hash: deleting the newest entries is detected too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dataflow.batches import Program, Step
from dataflow.bulk.strategy import BulkRequest, choose_strategy, registered_bulk_strategies
from dataflow.sql import Params, TableSQL

from .tables import ENTRIES, HEADS, RANGE

if TYPE_CHECKING:
    from dataflow.dialect import Dialect
    from dataflow.session import Session

BULK_FROM = 50
"""From this many entries on, a bulk strategy writes them; fewer go in one executemany."""
WRITTEN = tuple(name for name in ENTRIES.column_names if name != "id" and name not in RANGE)
assert WRITTEN == ("chain", "seq", "model", "record_key", "operation", "changes", "at", "prev_hash", "hash", "actor",
                   "tenant", "run_id", "node_id"), "append_run makes its rows in this order"  # fmt: skip
PER_ENTRY = ("seq", "record_key", "operation", "changes")
SHARED = ("chain", "model", "at", "actor", "tenant", "run_id", "node_id")
"""The fields an entry's hash covers, besides the previous entry's hash: its own, and those an entry usually
shares with the others written by the same node run (joined once for all of them)."""


def field_text(value: Any) -> str:
    """A covered field as the hashed text spells it: its type's initial and its text; NUL for None."""
    return "\x00" if value is None else f"{type(value).__name__[0]}{value}"


def shared_part(entry: Mapping[str, Any]) -> str:
    return "\x1f".join(field_text(entry.get(name)) for name in SHARED)


def entry_hash(entry: Mapping[str, Any], prev_hash: str, shared: str | None = None) -> str:
    """SHA-256 of the previous hash and the covered fields, each unambiguous (None is not "", 1 is not "1").

    Fed piece by piece: a bulk entry's ``changes`` are megabytes, and joining them into one text first
    made three more copies of them (each a fresh allocation), which took longer than hashing them.
    """
    names = (*PER_ENTRY, *RANGE) if entry.get("key_high") is not None else PER_ENTRY
    # A bulk entry's key range is covered too (an entry of one record has none, and hashes as before).
    digest = hashlib.sha256(prev_hash.encode())
    for name in names:
        value = entry[name]
        if type(value) is str:
            digest.update(b"\x1fs")
            digest.update(value.encode())
        else:
            digest.update(f"\x1f{field_text(value)}".encode())
    tail = shared if shared is not None else shared_part(entry)
    digest.update(f"\x1f{tail}".encode())
    return digest.hexdigest()


def chain_name(tenant: str | None, table: str) -> str:
    return f"{tenant if tenant is not None else '-'}/{table}"


async def append(
    session: Session,
    entries_table: TableSQL,
    heads: TableSQL,
    chain: str,
    entries: Sequence[dict[str, Any]],
    *,
    fresh: bool = False,
) -> None:
    """Number, hash and insert ``entries`` at the end of ``chain``, in the session's transaction.

    ``fresh``: the chain's head row may not exist yet (see :func:`reserve`).
    """
    by_run: dict[tuple[Any, ...], list[tuple[str, str, str]]] = {}
    for entry in entries:
        shared = tuple(entry.get(name) for name in SHARED_WRITTEN)
        by_run.setdefault(shared, []).append((entry["record_key"], entry["operation"], entry["changes"]))
    for shared, own in by_run.items():
        shared_fields = dict(zip(SHARED_WRITTEN, shared, strict=True))
        await append_run(session, entries_table, heads, chain, shared_fields, own, fresh=fresh)
        fresh = False


SHARED_WRITTEN = tuple(name for name in SHARED if name != "chain")


async def append_run(
    session: Session,
    entries_table: TableSQL,
    heads: TableSQL,
    chain: str,
    shared: Mapping[str, Any],
    own: Sequence[tuple[str, str, str]],
    *,
    fresh: bool = False,
) -> None:
    """Append the entries of one node run: ``own`` holds each one's ``(record_key, operation, changes)``.

    The fields the run's entries share (``SHARED_WRITTEN``) are joined once for all of
    them, and each row is made as a tuple straight away: a bulk write's entries cost
    one hash and one tuple each. A few entries go as one program (one hop on SQLite,
    the insert and the checkpoint one statement where the dialect has writable CTEs);
    more go through the dialect's fastest bulk insert (COPY on PostgreSQL).
    """
    dialect = session.dialect
    if len(own) < BULK_FROM:
        # Nothing waits for its result: SQLite runs it in the COMMIT's hop.
        program = _append_program(dialect, entries_table, heads, chain, shared, own, fresh)
        await session.run_program_later(program, operation="audit")
        return
    last, prev_hash = await session.run_program(reserve(dialect, heads, chain, len(own), fresh), operation="audit")
    rows, last_hash = _hashed_rows(chain, shared, own, last, prev_hash)
    request = BulkRequest("create", entries_table, WRITTEN, rows, batch_size=len(rows))
    strategy = choose_strategy(registered_bulk_strategies(), dialect, request, None)
    await strategy.run(session, request)
    sql, params = checkpoint(dialect, heads, chain, last, last_hash)
    await session.execute(sql, params, operation="audit")


async def append_bulk(
    session: Session,
    entries_table: TableSQL,
    heads: TableSQL,
    chain: str,
    entry: Mapping[str, Any],
    *,
    fresh: bool = False,
) -> None:
    """Append one bulk entry (``key_low`` and ``key_high`` set) at the end of ``chain``: one program, one row."""
    program = _bulk_program(session.dialect, entries_table, heads, chain, entry, fresh)
    await session.run_program_later(program, operation="audit")


def _bulk_program(
    dialect: Dialect, entries_table: TableSQL, heads: TableSQL, chain: str, entry: Mapping[str, Any], fresh: bool
) -> Program[None]:
    last, prev_hash = yield from reserve(dialect, heads, chain, 1, fresh)
    row = {**entry, "chain": chain, "seq": last, "prev_hash": prev_hash}
    row["hash"] = entry_hash(row, prev_hash)
    columns = WRITTEN + RANGE
    yield from _insert_and_checkpoint(
        dialect, entries_table, heads, chain, columns, [tuple(row[name] for name in columns)], last, row["hash"]
    )


def _hashed_rows(
    chain: str, shared: Mapping[str, Any], own: Sequence[tuple[str, str, str]], last: int, prev_hash: str
) -> tuple[list[tuple[Any, ...]], str]:
    """The rows of the entries numbered up to ``last``, hashed after ``prev_hash``; and the last one's hash."""
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
    return rows, prev_hash


def _append_program(
    dialect: Dialect,
    entries_table: TableSQL,
    heads: TableSQL,
    chain: str,
    shared: Mapping[str, Any],
    own: Sequence[tuple[str, str, str]],
    fresh: bool,
) -> Program[None]:
    last, prev_hash = yield from reserve(dialect, heads, chain, len(own), fresh)
    rows, last_hash = _hashed_rows(chain, shared, own, last, prev_hash)
    yield from _insert_and_checkpoint(dialect, entries_table, heads, chain, WRITTEN, rows, last, last_hash)


def _insert_and_checkpoint(
    dialect: Dialect,
    entries_table: TableSQL,
    heads: TableSQL,
    chain: str,
    columns: tuple[str, ...],
    rows: Sequence[tuple[Any, ...]],
    last: int,
    last_hash: str,
) -> Program[None]:
    """Insert the hashed entry ``rows`` and move the head to ``last``: one statement where the dialect has
    writable CTEs, else the insert (a plain execute for the usual single entry) and the checkpoint."""
    moved, moved_params = checkpoint(dialect, heads, chain, last, last_hash)
    if not dialect.capabilities.writable_cte:
        insert = entries_table.insert(columns, returning=False)
        # One entry (the usual one-record write) is a plain execute: executemany costs more for one row.
        yield Step(insert, rows[0]) if len(rows) == 1 else Step(insert, rows, "executemany")
        yield Step(moved, moved_params)
        return
    params = Params(dialect)
    values = ", ".join("(" + ", ".join(params.add(value) for value in row) + ")" for row in rows)
    names = ", ".join(entries_table.quoted[name] for name in columns)
    q = heads.quoted
    yield Step(
        f"WITH written AS (INSERT INTO {entries_table.table} ({names}) VALUES {values}) "
        f"UPDATE {heads.table} SET {q['seq']} = {params.add(last)}, {q['hash']} = {params.add(last_hash)} "
        f"WHERE {q['chain']} = {params.add(chain)}",
        params.values,
    )


def checkpoint(dialect: Dialect, heads: TableSQL, chain: str, last: int, last_hash: str) -> tuple[str, list[Any]]:
    """Move the head (locked by :func:`reserve`) to the last entry appended: its number and hash."""
    q = heads.quoted
    params = Params(dialect)
    sql = f"UPDATE {heads.table} SET {q['seq']} = {params.add(last)}, {q['hash']} = {params.add(last_hash)} "
    sql += f"WHERE {q['chain']} = {params.add(chain)}"
    return sql, params.values


def reserve(dialect: Dialect, heads: TableSQL, chain: str, count: int, fresh: bool = False) -> Program[tuple[int, str]]:
    """Take ``count`` numbers at the end of ``chain`` and hold its head's row lock until the transaction ends.

    Returns the new last number and the hash of the entry before the taken ones;
    :func:`checkpoint` moves the head there. The head row is made the first time
    (a concurrent first writer's row is kept). A locking read, not an UPDATE that
    adds ``count``: the head is written once per append, not twice (SQLite's write
    transaction holds the lock from its BEGIN IMMEDIATE on; the servers lock the row).

    ``fresh`` (the caller has not appended to this chain yet): make-or-lock the head
    row with the upsert first. On InnoDB a locking read of a missing row takes a gap
    lock, and two writers that both took one and then insert the row deadlock each
    other (measured: 588 deadlocks in 200 races of 4 first writers; none upsert first).
    """
    head = None if fresh else (yield from _locked_head(dialect, heads, chain))
    if head is None:
        yield Step(_make_head_sql(dialect), [chain, 0, ""])
        head = yield from _locked_head(dialect, heads, chain)
    assert head is not None, "the head row exists: it was just made"
    return head[0] + count, head[1]


def _locked_head(dialect: Dialect, heads: TableSQL, chain: str) -> Program[tuple[int, str] | None]:
    q = heads.quoted
    params = Params(dialect)
    select = f"SELECT {q['seq']}, {q['hash']} FROM {heads.table} WHERE {q['chain']} = {params.add(chain)}"
    rows = yield Step(dialect.locking_read(select), params.values, "fetch")
    return (int(rows[0][0]), str(rows[0][1])) if rows else None


def _make_head_sql(dialect: Dialect) -> str:
    """Insert a chain's empty head, or leave (and lock) the one a concurrent first writer made."""
    holders = [dialect.placeholder(i) for i in (1, 2, 3)]
    return dialect.upsert_sql(HEADS.table, ("chain", "seq", "hash"), holders, ("chain",), ())
