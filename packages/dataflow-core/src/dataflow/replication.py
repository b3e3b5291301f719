"""What a dialect tells about replication: write positions, replay positions and lag.

A dialect whose databases stream to read replicas (PostgreSQL's WAL,
MariaDB's GTIDs) sets ``Dialect.replication`` to a :class:`ReplicationProbe`;
:mod:`dataflow.replicas` uses it to route reads and keep read-your-writes.
Positions are the database's own text (``"0/3000060"``, ``"0-1-42"``),
compared only by the probe that made them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .dialect import Connection


class ReplicationProbe(Protocol):
    """Reads replication state over an open connection of the dialect."""

    async def write_position(self, connection: Connection) -> str | None:
        """On a primary: a position at or after every transaction committed so far (None: unknown)."""

    async def replay_position(self, connection: Connection) -> str | None:
        """On a replica: the position it has replayed up to (None: not a replica, or unknown)."""

    def covers(self, replayed: str, wanted: str) -> bool:
        """Has a replica that replayed up to ``replayed`` applied everything up to ``wanted``?"""

    async def lag(self, connection: Connection) -> float | None:
        """On a replica: seconds it is behind its primary (0 when caught up); None when it is not replicating."""
