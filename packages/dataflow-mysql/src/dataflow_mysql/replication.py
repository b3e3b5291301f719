"""Replication state of MariaDB: GTID positions and a replica's ``Seconds_Behind_Master``.

MariaDB's positions are GTID lists, one ``domain-server-sequence`` per
replication domain (``0-1-42,1-2-7``); a replica has applied a position when
its ``gtid_slave_pos`` has reached each domain's sequence number. MySQL 8
writes GTIDs differently (``uuid:1-42``): there the write position is
unknown, and the caller's reads stay on the primary for the
read-your-writes window.
"""

from __future__ import annotations

from dataflow.dialect import Connection


def sequences(position: str) -> dict[int, int]:
    """``"0-1-42,1-2-7"`` as ``{domain: sequence}``."""
    found: dict[int, int] = {}
    for gtid in position.split(","):
        parts = gtid.strip().split("-")
        if len(parts) == 3 and all(part.isdigit() for part in parts):
            domain, sequence = int(parts[0]), int(parts[2])
            found[domain] = max(sequence, found.get(domain, 0))
    return found


class MariaDBReplication:
    """``@@gtid_binlog_pos`` on the primary, ``@@gtid_slave_pos`` and ``SHOW SLAVE STATUS`` on a replica."""

    async def write_position(self, connection: Connection) -> str | None:
        try:
            rows = await connection.fetch("SELECT @@GLOBAL.gtid_binlog_pos")
        except Exception:  # noqa: BLE001 - MySQL 8 has no such variable: the position is unknown
            return None
        return str(rows[0][0]) if rows and rows[0][0] else None

    async def replay_position(self, connection: Connection) -> str | None:
        try:
            rows = await connection.fetch("SELECT @@GLOBAL.gtid_slave_pos")
        except Exception:  # noqa: BLE001 - not MariaDB
            return None
        return str(rows[0][0]) if rows and rows[0][0] is not None else None

    def covers(self, replayed: str, wanted: str) -> bool:
        have = sequences(replayed)
        return all(have.get(domain, -1) >= sequence for domain, sequence in sequences(wanted).items())

    async def lag(self, connection: Connection) -> float | None:
        columns, rows = await connection.fetch_named("SHOW SLAVE STATUS")
        if not rows or "Seconds_Behind_Master" not in columns:
            return None
        seconds = rows[0][columns.index("Seconds_Behind_Master")]
        return None if seconds is None else float(seconds)
