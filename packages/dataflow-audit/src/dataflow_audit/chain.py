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

from dataflow.sql import Params, TableSQL

from .tables import ENTRIES, HEADS
from .values import dumps

if TYPE_CHECKING:
    from dataflow.session import Session

HASHED = ("chain", "seq", "model", "record_key", "operation", "changes", "at", "actor", "tenant", "run_id", "node_id")
"""The fields an entry's hash covers, besides the previous entry's hash."""


WRITTEN = tuple(name for name in ENTRIES.column_names if name != "id")


def entry_hash(entry: Mapping[str, Any], prev_hash: str) -> str:
    body = dumps({name: entry.get(name) for name in HASHED})
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def chain_name(tenant: str | None, table: str) -> str:
    return f"{tenant if tenant is not None else '-'}/{table}"


async def append(
    session: Session, entries_table: TableSQL, heads: TableSQL, chain: str, entries: Sequence[dict[str, Any]]
) -> None:
    """Number, hash and insert ``entries`` at the end of ``chain``, in the session's transaction."""
    q = heads.quoted
    dialect = session.dialect
    insert_head = dialect.upsert_sql(
        HEADS.table, ("chain", "seq", "hash"), [dialect.placeholder(i) for i in (1, 2, 3)], ("chain",), ()
    )
    await session.execute(insert_head, [chain, 0, ""], operation="audit")
    params = Params(dialect)
    count = params.add(len(entries))
    name = params.add(chain)
    reserve = f"UPDATE {heads.table} SET {q['seq']} = {q['seq']} + {count} WHERE {q['chain']} = {name}"
    await session.execute(reserve, params.values, operation="audit")
    params = Params(dialect)
    select = f"SELECT {q['seq']}, {q['hash']} FROM {heads.table} WHERE {q['chain']} = {params.add(chain)}"
    (head,) = await session.fetch(select, params.values, operation="audit")
    last, prev_hash = int(head[0]), str(head[1])
    seq = last - len(entries)
    for entry in entries:
        seq += 1
        entry["chain"], entry["seq"], entry["prev_hash"] = chain, seq, prev_hash
        entry["hash"] = prev_hash = entry_hash(entry, prev_hash)
    columns = WRITTEN
    rows = [entries_table.encode_row(entry, columns) for entry in entries]
    await session.executemany(entries_table.insert(columns, returning=False), rows, operation="audit")
    params = Params(dialect)
    checkpoint = f"UPDATE {heads.table} SET {q['hash']} = {params.add(prev_hash)} WHERE {q['chain']} = "
    checkpoint += params.add(chain)
    await session.execute(checkpoint, params.values, operation="audit")
