"""What a dialect's driver side gives the core: connections, pools, statement results, capabilities, codecs.

These are the protocols a dialect package implements besides its
:class:`dataflow.dialect.Dialect` subclass; :mod:`dataflow.dialect` re-exports them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

import attrs

ISOLATION_LEVELS = ("read uncommitted", "read committed", "repeatable read", "serializable")


@attrs.frozen
class Capabilities:
    """What a database can do; the core and the compliance suite read these flags."""

    returning: frozenset[str] = frozenset()
    """Statements that take RETURNING: a subset of {"insert", "update", "delete"}."""
    upsert: bool = True
    """One-statement insert-or-update (ON CONFLICT / ON DUPLICATE KEY)."""
    upsert_needs_unique_key: bool = False
    """The conflict target cannot be chosen: ``conflict_on`` must match a unique key (MySQL)."""
    copy: bool = False
    savepoints: bool = True
    writable_cte: bool = False
    """``WITH w AS (INSERT ...) UPDATE ...``: one statement may write two tables."""
    two_phase: bool = False
    transactional_ddl: bool = False
    ilike: bool = False
    max_parameters: int = 999
    max_identifier_length: int = 63
    partial_indexes: bool = False
    """``CREATE UNIQUE INDEX ... WHERE``: a soft-delete model's unique fields are unique among live rows."""
    isolation_levels: tuple[str, ...] = ISOLATION_LEVELS
    session_settings: bool = True
    """A setting made on a connection outside a transaction holds until the connection goes back to the pool.

    False behind a transaction-mode pooler (PostgreSQL's ``pgbouncer=true``):
    each transaction may run on another server session, so such a setting may
    be missing from the next statement, or reach another client's. Whatever
    needs such state must make it per transaction then
    (``Session.transaction_setup``: tenancy's row-level-security setting), or
    refuse to run (tenancy's schema-per-tenant search paths).
    """


class ExecuteResult(NamedTuple):
    rowcount: int
    last_id: Any = None
    """The auto-increment id of the last inserted row, where the driver reports it."""


class Connection(Protocol):
    """One driver connection. Used by one task at a time; raises driver errors."""

    @property
    def in_transaction(self) -> bool: ...

    @property
    def raw(self) -> Any:
        """The driver's own connection object, for bulk strategies."""

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> ExecuteResult: ...

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run ``sql`` once per row; return the rows affected in total."""

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        """Run a query and return all rows as sequences in column order."""

    async def fetch_named(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[Sequence[Any]]]:
        """Run any statement; return its result's column names (none for a statement without) and rows."""

    async def begin(self, isolation: str | None = None, read_only: bool = False) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class Pool(Protocol):
    """A dialect's pool, bound to the event loop that created it."""

    in_use: int
    """Connections lent out now (``state()["in_use"]`` without building the dict)."""

    async def acquire(self) -> Connection:
        """A connection; raises ``PoolTimeoutError`` after the configured timeout."""

    async def release(self, connection: Connection, *, discard: bool = False) -> None:
        """Give a connection back; ``discard`` closes it instead (after an error that may have broken it)."""

    async def close(self) -> None:
        """Close every connection, waiting for those in use to come back."""

    def terminate(self) -> None:
        """Close every connection at once, from outside the pool's event loop."""

    def state(self) -> Mapping[str, int]:
        """``{"size": n, "in_use": n, "idle": n, "waiting": n}``."""


Codec = Callable[[Any], Any]


class CheckingCodec(Protocol):
    """An encoder that only checks (returns valid values unchanged) and can check a whole column at once.

    Bulk validation calls ``accepts_all(values)`` on a column of plain values
    instead of the encoder once per value; False sends the rows through the
    per-value path, which raises the precise error.
    """

    def __call__(self, value: Any) -> Any: ...

    def accepts_all(self, values: list[Any]) -> bool: ...
