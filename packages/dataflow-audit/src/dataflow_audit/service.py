"""``Audit``: one DataFlow's audit trail (``Audit.of(db)``, shortcut ``db.audit``), and who is acting.

The actor of a write is the run's ``actor`` (``runtime.execute(wf, actor=...)``,
``db.express.using(actor=...)``), else the innermost ``with db.actor(...)`` block
of the current task; each instance keeps its own block, so two instances never
see each other's actor.
"""

from __future__ import annotations

import contextvars
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from dataflow.changes import RowChange
from dataflow.loops import run_sync
from dataflow.schema import ModelSchema
from dataflow.sql import TableSQL

from .history import AuditEntry, as_of, history
from .tables import ENTRIES, HEADS, create_tables
from .verify import VerifyResult, verify

if TYPE_CHECKING:
    from dataflow import DataFlow
    from dataflow.nodes import Node
    from dataflow.session import Session


class Audit:
    """The audit trail of one ``DataFlow``: its tables, the current actor, verification and history."""

    def __init__(self, db: DataFlow) -> None:
        self.db = db
        self.entries = TableSQL(db.dialect, ENTRIES)
        self.heads = TableSQL(db.dialect, HEADS)
        self._actor: contextvars.ContextVar[str | None] = contextvars.ContextVar(
            f"audit_actor_{id(self)}", default=None
        )
        self._ready = False
        self.audited = False
        """Set when the first audited model is defined: until then no session creates the tables."""
        self._history_node: type[Node] | None = None

    @classmethod
    def of(cls, db: DataFlow) -> Audit:
        """The instance's ``Audit``; ``ConfigError`` when dataflow-audit is not loaded for it."""
        return db.extensions.require(
            cls, "install dataflow-audit (or check DATAFLOW_PLUGINS / DATAFLOW_DISABLE_PLUGINS)"
        )

    # -- the actor ----------------------------------------------------------------

    @contextmanager
    def acting_as(self, actor: str) -> Iterator[None]:
        """``with db.actor("alice"):`` writes in the block (direct API or runs) are recorded as alice's."""
        if not isinstance(actor, str) or not actor:
            raise ValueError(f"the actor must be a non-empty string, got {actor!r}")
        token = self._actor.set(actor)
        try:
            yield
        finally:
            self._actor.reset(token)

    def current_actor(self) -> str | None:
        return self._actor.get()

    # -- writing -------------------------------------------------------------------

    def protect(self, schema: ModelSchema, row: RowChange, diff: dict[str, list[Any]]) -> dict[str, list[Any]]:
        """The changes as they are stored (the hook where personal values would be sealed)."""
        return diff

    async def ensure_tables(self, session: Session) -> None:
        """Create the audit tables once per instance, outside any transaction."""
        if self._ready:
            return
        await create_tables(session)
        self._ready = True

    def history_node(self, base: type[Node]) -> type[Node]:
        """``AuditHistoryNode`` bound to this instance (one class per instance, made on first use)."""
        if self._history_node is None:
            self._history_node = type(base.type_name, (base,), {"database": self.db, "__module__": base.__module__})
        return self._history_node

    # -- reading -------------------------------------------------------------------

    async def verify_async(self) -> VerifyResult:
        """Recompute every chain; the result names the first bad entry (see :mod:`dataflow_audit.verify`)."""
        async with self.db.standalone_session() as session:
            await self.ensure_tables(session)
            return await verify(session, self.entries, self.heads)

    def verify(self) -> VerifyResult:
        """Synchronous :meth:`verify_async`."""
        return run_sync(self.verify_async, cleanup=self.db.close_loop)

    async def history_async(
        self,
        model: str | type,
        key: Any,
        *,
        actor: str | None = None,
        operation: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        """The entries of one record, newest first, filtered by actor, operation and time range."""
        schema = self.db.schema(model)
        async with self.db.standalone_session() as session:
            await self.ensure_tables(session)
            return await history(
                session, self.entries, schema, key, actor=actor, operation=operation, since=since, until=until,
                limit=limit,
            )  # fmt: skip

    def history(self, model: str | type, key: Any, **filters: Any) -> list[AuditEntry]:
        """Synchronous :meth:`history_async`."""
        return run_sync(lambda: self.history_async(model, key, **filters), cleanup=self.db.close_loop)

    async def as_of_async(self, model: str | type, key: Any, at: dt.datetime) -> dict[str, Any] | None:
        """The record as it was at ``at`` (None when it did not exist then), rebuilt from its entries."""
        schema = self.db.schema(model)
        async with self.db.standalone_session() as session:
            await self.ensure_tables(session)
            return await as_of(session, self.entries, schema, key, at)

    def as_of(self, model: str | type, key: Any, at: dt.datetime) -> dict[str, Any] | None:
        """Synchronous :meth:`as_of_async`."""
        return run_sync(lambda: self.as_of_async(model, key, at), cleanup=self.db.close_loop)


def audit_of(db: DataFlow) -> Audit:
    """The instance's ``Audit``, created on first call (the plugin's hooks share it)."""
    found = db.extensions.get(Audit)
    return found if found is not None else db.extensions.add(Audit(db))


class AuditSessionHook:
    """Creates the audit tables when a session first opens, before its transaction begins."""

    def __init__(self, service: Audit) -> None:
        self.service = service

    async def session_opened(self, session: Session) -> None:
        if self.service.audited:
            await self.service.ensure_tables(session)

    async def session_closing(self, session: Session) -> None:
        return None
