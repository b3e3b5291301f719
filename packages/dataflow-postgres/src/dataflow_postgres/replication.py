"""Replication state of PostgreSQL: WAL positions (LSNs) and a standby's replay lag."""

from __future__ import annotations

from dataflow.dialect import Connection

# Caught up (everything received is replayed): 0, however long ago the last commit was;
# otherwise the age of the last transaction replayed. NULL on a primary.
LAG_SQL = """
SELECT CASE WHEN NOT pg_is_in_recovery() THEN NULL
            WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
            ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END
"""


def lsn(text: str) -> int:
    """``"16/B374D848"`` as the number it stands for."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


class PostgresReplication:
    """``pg_current_wal_insert_lsn()`` on the primary, ``pg_last_wal_replay_lsn()`` on a standby.

    The insert location, not ``pg_current_wal_lsn()``: under asynchronous
    commit the write location can still be short of a commit that returned.
    """

    async def write_position(self, connection: Connection) -> str | None:
        rows = await connection.fetch("SELECT pg_current_wal_insert_lsn()::text")
        return str(rows[0][0]) if rows and rows[0][0] is not None else None

    async def replay_position(self, connection: Connection) -> str | None:
        rows = await connection.fetch("SELECT pg_last_wal_replay_lsn()::text")
        return str(rows[0][0]) if rows and rows[0][0] is not None else None

    def covers(self, replayed: str, wanted: str) -> bool:
        return lsn(replayed) >= lsn(wanted)

    async def lag(self, connection: Connection) -> float | None:
        rows = await connection.fetch(LAG_SQL)
        return float(rows[0][0]) if rows and rows[0][0] is not None else None
