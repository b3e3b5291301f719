"""The tenancy-filter contract: narrowing and filling every statement of a node."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from .schema import ModelSchema


class TenancyFilter(Protocol):
    """Registered through ``dataflow_register_tenancy_filters``; both methods fail closed."""

    def scope(self, schema: ModelSchema, context: Mapping[str, Any]) -> dict[str, Any] | None:
        """A filter every statement on ``schema`` must satisfy in this run, or None.

        ``context`` is the run's context (``tenant`` and whatever the caller
        passed). Raise to refuse the statement.
        """

    def fill(self, schema: ModelSchema, row: dict[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
        """The row to write: completed (e.g. with ``tenant_id``) or refused by raising."""

    # Optional, read with getattr so filters may leave them out:
    # ``protected_fields(schema) -> Iterable[str]``: fields no Update, BulkUpdate or upsert may change.
    # ``conflict_fields(schema) -> Iterable[str]``: fields every upsert conflict target must include
    # (``tenant_id``), put in front of the caller's ``conflict_on`` unless that is the primary key.
    # ``fills(schema) -> bool``: False when ``fill`` returns every row of ``schema`` unchanged and never
    # raises (a model the filter does not scope); bulk writes then skip copying and filling each row.


class SessionHook(Protocol):
    """Registered through ``dataflow_register_session_hooks``: per-connection state around a run."""

    async def session_opened(self, session: Any) -> None:
        """Before the session's first statement; raise to refuse the run (the connection is discarded)."""

    async def session_closing(self, session: Any) -> None:
        """After its transaction ended, before the connection is pooled again; undo ``session_opened``."""
