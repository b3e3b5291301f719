"""``Audit``: one DataFlow's audit trail (``Audit.of(db)``, shortcut ``db.audit``), and who is acting.

The actor of a write is the run's ``actor`` (``runtime.execute(wf, actor=...)``,
``db.express.using(actor=...)``), else the innermost ``with db.actor(...)`` block
of the current task; each instance keeps its own block, so two instances never
see each other's actor.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from dataflow.errors import ConfigError
from dataflow.loops import run_sync
from dataflow.schema import ModelSchema
from dataflow.sql import Params, TableSQL

from .history import AuditEntry, as_of, histories, history
from .options import AUDIT, SUBJECT, check_options, personal_fields
from .sealing import MASTER_KEY_ENV, KeyRing, aad, is_sealed, master_key_from_environment, open_sealed, parse_master_key
from .tables import ENTRIES, HEADS, KEYS, create_tables
from .verify import VerifyResult, verify

log = logging.getLogger("dataflow.audit")

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
        self.keys = TableSQL(db.dialect, KEYS)
        self._master = master_key_from_environment()
        self._keyring: KeyRing | None = None
        self._ready = False
        self.audited = False
        """Set when the first audited model is defined: until then no session creates the tables."""
        self._history_node: type[Node] | None = None
        self._heads_seen: set[str] = set()
        """Chains whose head row was seen: a head row is never deleted, so it is read once per chain."""
        self._appended: set[str] = set()
        """Chains this instance has appended to (in a transaction that may have rolled back): see first_append."""

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

    def configure(self, *, master_key: str | bytes | None) -> None:
        """Set the master key that wraps the subjects' keys (else ``DATAFLOW_AUDIT_MASTER_KEY``)."""
        self._master = parse_master_key(master_key, "master_key")
        self._keyring = None

    def keyring(self) -> KeyRing:
        """The subjects' keys; without a master key (development only) a random one for this process.

        With a configured master key, no new subject key is made until a stored one opened: a wrong master
        key refuses to write as it refuses to read, instead of mixing two keys in one trail.
        """
        configured = self._master is not None
        if self._master is None:
            if self.db.config.production:
                raise ConfigError(f"audit of personal fields needs a master key in production: set {MASTER_KEY_ENV}")
            log.warning(
                "dataflow-audit: no %s; personal values are sealed under a key that lives only in this process",
                MASTER_KEY_ENV,
            )
            self._master = secrets.token_bytes(32)
        if self._keyring is None:
            self._keyring = KeyRing(self.keys, self._master, check_master=configured)
        return self._keyring

    def subjects(self) -> dict[str, str]:
        """Each subject model (``__dataflow__ = {"subject": field}``) and the field that identifies its records."""
        return {name: s.options[SUBJECT] for name, s in self.db.schemas.items() if s.options.get(SUBJECT)}

    def check_model(self, schema: ModelSchema) -> ModelSchema:
        """A schema extension: options well-formed, and personal fields audited in production only with a key."""
        schema = check_options(schema)
        if personal_fields(schema) and self._master is None and self.db.config.production:
            raise ConfigError(
                f"{schema.name} audits personal fields ({', '.join(personal_fields(schema))}) and no audit master "
                f"key is configured: set {MASTER_KEY_ENV} (32 bytes, base64) before the models are defined",
                model=schema.name,
                field=AUDIT,
            )
        return schema

    async def open_entries(self, session: Session, entries: list[AuditEntry]) -> list[AuditEntry]:
        """``entries`` with their sealed values opened (None where the subject's key was destroyed)."""
        sealed = [
            (entry, name, side)
            for entry in entries
            for name, pair in entry.changes.items()
            for side, value in enumerate(pair)
            if is_sealed(value)
        ]
        if not sealed:
            return entries
        keys = await self.keyring().read(
            session, {entry.changes[name][side]["subject"] for entry, name, side in sealed}
        )
        for entry, name, side in sealed:
            value = entry.changes[name][side]
            entry.changes[name][side] = open_sealed(keys, value, aad(value["subject"], entry.model, entry.key, name))
        return entries

    async def head_exists(self, session: Session, chain: str) -> bool:
        """Does ``chain``'s head row exist? Read once per chain, remembered once seen committed.

        Inside a transaction the row seen may be this transaction's own, gone if it
        rolls back: it is used, not remembered.
        """
        if chain in self._heads_seen:
            return True
        params = Params(self.db.dialect)
        sql = f"SELECT 1 FROM {self.heads.table} WHERE {self.heads.quoted['chain']} = {params.add(chain)}"
        found = bool(await session.fetch(sql, params.values, operation="audit"))
        if found and not session.in_transaction:
            self._heads_seen.add(chain)
        return found

    def first_append(self, chain: str) -> bool:
        """Is this the instance's first append to ``chain``? Then the head row may be missing (``chain.reserve``)."""
        if chain in self._appended:
            return False
        self._appended.add(chain)
        return True

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
        context: Mapping[str, Any] | None = None,
    ) -> list[AuditEntry]:
        """The entries of one record, newest first, filtered by actor, operation and time range.

        Under tenancy only the current tenant's (``context={"tenant": ...}`` or a
        ``db.tenant(...)`` block), as for the model's rows.
        """
        schema = self.db.schema(model)
        async with self.db.standalone_session(context) as session:
            await self.ensure_tables(session)
            found = await history(
                session, self.entries, schema, key, actor=actor, operation=operation, since=since, until=until,
                limit=limit,
            )  # fmt: skip
            return await self.open_entries(session, found)

    async def histories_async(
        self, model: str | type, keys: list[Any], context: Mapping[str, Any] | None = None
    ) -> list[AuditEntry]:
        """Every entry of each record of ``keys`` (in no order; GDPR export): a bulk entry is read once for all."""
        schema = self.db.schema(model)
        async with self.db.standalone_session(context) as session:
            await self.ensure_tables(session)
            return await self.open_entries(session, await histories(session, self.entries, schema, keys))

    def history(self, model: str | type, key: Any, **filters: Any) -> list[AuditEntry]:
        """Synchronous :meth:`history_async`."""
        return run_sync(lambda: self.history_async(model, key, **filters), cleanup=self.db.close_loop)

    async def as_of_async(
        self, model: str | type, key: Any, at: dt.datetime, context: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """The record as it was at ``at`` (None when it did not exist then), rebuilt from its entries."""
        schema = self.db.schema(model)
        async with self.db.standalone_session(context) as session:
            await self.ensure_tables(session)
            return await as_of(
                session, self.entries, schema, key, at, opener=lambda found: self.open_entries(session, found)
            )

    def as_of(
        self, model: str | type, key: Any, at: dt.datetime, context: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Synchronous :meth:`as_of_async`."""
        return run_sync(lambda: self.as_of_async(model, key, at, context), cleanup=self.db.close_loop)


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
