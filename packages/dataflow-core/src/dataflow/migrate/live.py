"""The schema as the database has it, read by a dialect's introspection."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

import attrs

if TYPE_CHECKING:
    from ..dialect import Connection


@attrs.frozen
class LiveColumn:
    name: str
    type: str
    """The type as the dialect's introspection reports it (compared by the dialect's editor)."""
    nullable: bool
    primary_key: bool = False
    default: str | None = None
    """The column's server default as SQL text (``0``, ``'new'``, ``now()``), None when it has none.

    Read for ``dataflow inspectdb``; migrations do not compare it.
    """
    auto_increment: bool = False
    """Does the database number the column itself (identity, serial, AUTO_INCREMENT, SQLite's rowid alias)?"""
    enum_values: tuple[str, ...] | None = None
    """The values a single-column ``CHECK (col IN (...))`` admits, as text, where the dialect detects one."""
    allowed: frozenset[str] | None = None
    """The members an enum column's CHECK admits, as text (``"1"`` for an int); None without one."""


@attrs.frozen
class LiveIndex:
    name: str
    columns: tuple[str, ...]
    unique: bool
    live_only: bool = False
    """Unique among rows not soft-deleted (``WHERE deleted_at IS NULL``), not among all rows."""


@attrs.frozen
class LiveForeignKey:
    columns: tuple[str, ...]
    table: str
    ref_columns: tuple[str, ...]
    name: str | None = None


@attrs.frozen
class LiveTable:
    name: str
    columns: tuple[LiveColumn, ...]
    indexes: tuple[LiveIndex, ...] = ()
    foreign_keys: tuple[LiveForeignKey, ...] = ()

    def column(self, name: str) -> LiveColumn | None:
        return next((c for c in self.columns if c.name == name), None)


class Introspector(Protocol):
    """A dialect's reader of the live schema."""

    async def tables(self, connection: Connection) -> Mapping[str, LiveTable]:
        """Every user table of the connection's database (or schema), by name."""
