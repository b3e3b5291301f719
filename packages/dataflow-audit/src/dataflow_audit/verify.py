"""Verifying the trail: recompute every chain and name the first entry that does not hold.

An entry is bad when its number does not follow the previous one (an entry
was deleted or inserted), when it does not link to the previous entry's hash
(inserted, deleted or moved), or when its own hash no longer matches its
contents and position (edited or reordered). A chain must end where its
checkpointed head says, which catches entries deleted from the end or
appended by hand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from dataflow.sql import Params, TableSQL

from .chain import entry_hash

if TYPE_CHECKING:
    from dataflow.session import Session

PAGE = 1000


@attrs.frozen
class BadEntry:
    """The first entry of a chain that does not hold, and why."""

    chain: str
    seq: int
    entry_id: int | None
    problem: str

    def __str__(self) -> str:
        where = f"entry {self.entry_id} (seq {self.seq})" if self.entry_id is not None else f"seq {self.seq}"
        return f"chain {self.chain!r}, {where}: {self.problem}"


@attrs.frozen
class VerifyResult:
    """``ok`` when every chain holds; ``bad`` names the first entry that does not (chains in name order)."""

    ok: bool
    chains: int
    entries: int
    bad: BadEntry | None = None

    def __str__(self) -> str:
        if self.bad is not None:
            return f"audit trail FAILED verification: {self.bad}"
        if not self.entries:
            return "audit trail is empty: nothing to verify"
        return f"audit trail verified: {self.entries} entries in {self.chains} chain(s)"


async def verify(session: Session, entries: TableSQL, heads: TableSQL) -> VerifyResult:
    q = entries.quoted
    checkpoints = {row["chain"]: row for row in await _heads(session, heads)}
    chain_rows = await session.fetch(f"SELECT DISTINCT {q['chain']} FROM {entries.table}", operation="audit")
    names = sorted({*checkpoints, *(str(row[0]) for row in chain_rows)})
    total = 0
    for chain in names:
        checkpoint = checkpoints.get(chain)
        expected, prev_hash = 1, ""
        while True:
            params = Params(entries.dialect)
            sql = (
                f"SELECT {entries.select_list} FROM {entries.table} WHERE {q['chain']} = {params.add(chain)} "
                f"AND {q['seq']} >= {params.add(expected)} ORDER BY {q['seq']} LIMIT {PAGE}"
            )
            page = [entries.decode(row) for row in await session.fetch(sql, params.values, operation="audit")]
            for entry in page:
                total += 1
                if checkpoint is not None and entry["seq"] > checkpoint["seq"]:
                    # Written since the heads were read, or appended by hand: the head says which.
                    checkpoint = next(iter(await _heads(session, heads, chain)), None)
                bad = _check(chain, entry, expected, prev_hash)
                if bad is None and (checkpoint is None or entry["seq"] > checkpoint["seq"]):
                    bad = BadEntry(
                        chain, entry["seq"], entry["id"], "it lies beyond the chain's checkpointed head (inserted)"
                    )
                if bad is not None:
                    return VerifyResult(False, len(names), total, bad)
                expected, prev_hash = entry["seq"] + 1, entry["hash"]
            if len(page) < PAGE:
                break
        last = expected - 1
        if checkpoint is not None and (checkpoint["seq"] != last or checkpoint["hash"] != prev_hash):
            problem = (
                f"the chain ends at seq {last} but its checkpointed head is seq {checkpoint['seq']} with another "
                "hash: entries were deleted from its end, or its last entry was rewritten"
            )
            return VerifyResult(False, len(names), total, BadEntry(chain, last, None, problem))
    return VerifyResult(True, len(names), total)


async def _heads(session: Session, heads: TableSQL, chain: str | None = None) -> list[dict[str, Any]]:
    params = Params(heads.dialect)
    sql = f"SELECT {heads.select_list} FROM {heads.table}"
    if chain is not None:
        sql += f" WHERE {heads.quoted['chain']} = {params.add(chain)}"
    return [heads.decode(row) for row in await session.fetch(sql, params.values, operation="audit")]


def _check(chain: str, entry: dict[str, Any], expected: int, prev_hash: str) -> BadEntry | None:
    seq, entry_id = int(entry["seq"]), int(entry["id"])
    if seq != expected:
        return BadEntry(chain, seq, entry_id, f"expected seq {expected} here: an entry before it is missing (deleted)")
    if entry["prev_hash"] != prev_hash:
        return BadEntry(
            chain, seq, entry_id, "it does not link to the entry before it (an entry was inserted, deleted or moved)"
        )
    if entry_hash(entry, prev_hash) != entry["hash"]:
        return BadEntry(chain, seq, entry_id, "its hash does not match its contents (the entry was edited)")
    return None
