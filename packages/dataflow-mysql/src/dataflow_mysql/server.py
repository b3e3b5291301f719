"""What the server is, learned on the first connection of the first pool, and what follows from it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import attrs

from dataflow.dialect import Capabilities

DETECT_SQL = (
    "SELECT VERSION(), @@max_allowed_packet, @@local_infile, @@innodb_autoinc_lock_mode, "
    "@@auto_increment_increment, @@innodb_rollback_on_timeout"
)
"""One round trip that tells everything the dialect adapts to."""
STATEMENT_OVERHEAD = 1024
"""Bytes kept free below ``max_allowed_packet``."""


NEW_ROW = "_df_new"
"""The row alias of MySQL 8.0.19+ upserts (where :attr:`ServerInfo.row_alias`)."""


@attrs.frozen
class ServerInfo:
    """A MySQL or MariaDB server, as far as DataFlow cares."""

    mariadb: bool = False
    version: tuple[int, int, int] = (0, 0, 0)
    version_text: str = ""
    max_allowed_packet: int = 4 * 1024 * 1024
    local_infile: bool = False
    autoinc_lock_mode: int = 2
    auto_increment_increment: int = 1
    rollback_on_timeout: bool = False

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> ServerInfo:
        text = str(row[0])
        found = re.match(r"(\d+)\.(\d+)\.(\d+)", text)
        version = (int(found[1]), int(found[2]), int(found[3])) if found else (0, 0, 0)
        return cls(
            mariadb="mariadb" in text.lower(),
            version=version,
            version_text=text,
            max_allowed_packet=int(row[1]),
            local_infile=bool(int(row[2])),
            autoinc_lock_mode=int(row[3]),
            auto_increment_increment=int(row[4]),
            rollback_on_timeout=bool(int(row[5])),
        )

    @property
    def max_statement_bytes(self) -> int:
        """The largest statement the server accepts, less a margin for the packet header."""
        return max(self.max_allowed_packet - STATEMENT_OVERHEAD, 1024)

    @property
    def label(self) -> str:
        return f"{'MariaDB' if self.mariadb else 'MySQL'} {'.'.join(map(str, self.version))}"

    @property
    def returning(self) -> frozenset[str]:
        """MariaDB 10.5+ has INSERT/DELETE ... RETURNING (not UPDATE); MySQL has none."""
        if self.mariadb and self.version >= (10, 5, 0):
            return frozenset({"insert", "delete"})
        return frozenset()

    @property
    def row_alias(self) -> bool:
        """MySQL 8.0.19+ names the new row (``AS new``); MariaDB keeps ``VALUES(col)``."""
        return not self.mariadb and self.version >= (8, 0, 19)

    @property
    def json_overlaps(self) -> bool:
        """``JSON_OVERLAPS``: MariaDB 10.9+, MySQL 8.0.17+."""
        return self.version >= ((10, 9, 0) if self.mariadb else (8, 0, 17))

    @property
    def collation(self) -> str:
        """A binary, NO PAD collation: ``=``, ``LIKE``, unique keys and order are exact, as on PostgreSQL."""
        if self.mariadb:
            return "utf8mb4_nopad_bin"
        return "utf8mb4_0900_bin" if self.version >= (8, 0, 0) else "utf8mb4_bin"

    @property
    def consecutive_ids(self) -> bool:
        """Does one multi-row INSERT take consecutive auto-increment values?

        With ``innodb_autoinc_lock_mode`` 0 or 1 a "simple insert" (rows known
        in advance, as in ``INSERT ... VALUES (...), (...)``) reserves its
        values under the AUTO-INC lock, so they are consecutive, ``increment``
        apart, starting at the ``LAST_INSERT_ID()`` the statement reports.
        Mode 2 (MySQL 8's default) promises no such thing.
        """
        return self.autoinc_lock_mode <= 1

    def capabilities(self) -> Capabilities:
        return capabilities(self.returning)


def capabilities(returning: frozenset[str] = frozenset()) -> Capabilities:
    return Capabilities(
        returning=returning,
        upsert=True,
        upsert_needs_unique_key=True,
        copy=False,
        savepoints=True,
        two_phase=True,
        transactional_ddl=False,
        ilike=False,
        max_parameters=65535,
        max_identifier_length=64,
    )
