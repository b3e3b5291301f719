"""The change listener: turns each captured change set into audit entries, written in the same transaction."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dataflow.changes import ChangeSet, CreatedRows, FusedCall, FusedSteps, FusedUpdate, RowChange
from dataflow.schema import ModelSchema

from .bulk import record_bulk
from .chain import append, append_run, chain_name
from .created import created_changes
from .fused import FusedEntries
from .fused_call import CallEntries
from .fused_program import ProgramEntries
from .options import audited_fields, personal_fields, subject_of
from .sealing import aad, seal
from .values import dumps

if TYPE_CHECKING:
    from dataflow.session import Session

    from .service import Audit


def now_micros() -> int:
    return time.time_ns() // 1000


def field_changes(row: RowChange, fields: tuple[str, ...]) -> dict[str, list[Any]]:
    """``{field: [before, after]}``: every field of a created or deleted row, the changed ones of an update."""
    before: Mapping[str, Any] = row.before or {}
    after: Mapping[str, Any] = row.after or {}
    if row.before is None or row.after is None:
        return {name: [before.get(name), after.get(name)] for name in fields}
    return {name: [before.get(name), after.get(name)] for name in fields if before.get(name) != after.get(name)}


def row_tenant(row: RowChange, context: Mapping[str, Any]) -> str | None:
    """The tenant a row belongs to: its ``tenant_id`` (row-level tenancy), else the run's tenant."""
    image = row.after or row.before or {}
    tenant = image.get("tenant_id", context.get("node_tenant") or context.get("tenant"))
    return None if tenant is None else str(tenant)


class AuditRecorder:
    """Captures every model whose ``__dataflow__`` has ``audit``; writes one entry per changed row.

    A bulk create of consecutive integer keys in one chain is one bulk entry instead (see :mod:`.bulk`).
    """

    def __init__(self, service: Audit) -> None:
        self.service = service
        self.fused = FusedEntries(service)
        self.program = ProgramEntries(service)
        self.calls = CallEntries(service)

    def captures(self, schema: ModelSchema) -> bool:
        if audited_fields(schema) is None:
            return False
        self.service.audited = True
        return True

    async def fuse_update(self, session: Session, update: FusedUpdate) -> str | FusedSteps | FusedCall | None:
        """The entry of a one-record update, written by the update's own statement (:mod:`.fused`),
        program (:mod:`.fused_program`) or stored procedure (:mod:`.fused_call`) where it can be."""
        actor = session.context.get("actor") or self.service.current_actor()
        if update.in_program:
            return self.program.steps(session, update, now_micros(), actor)
        if update.in_call:
            return await self.calls.call(session, update, now_micros(), actor)
        return await self.fused.cte(session, update, now_micros(), actor)

    async def changed(self, session: Session, changes: ChangeSet) -> None:
        schema = changes.schema
        fields = audited_fields(schema) or ()
        personal = personal_fields(schema)
        at = now_micros()
        actor = session.context.get("actor") or self.service.current_actor()
        if isinstance(changes.rows, CreatedRows):
            if await record_bulk(self.service, session, changes, changes.rows, fields, personal, at, actor):
                return  # one bulk entry for the run's consecutive keys
            if not personal:
                await self._created(session, changes, changes.rows, fields, at, actor)
                return
        pending: list[tuple[RowChange, dict[str, list[Any]], str | None]] = []
        for row in changes.rows:
            diff = field_changes(row, fields)
            if diff:  # else only fields the model does not audit changed
                pending.append((row, diff, row_tenant(row, session.context)))
        if personal:
            await self._seal(session, schema, personal, pending)
        by_chain: dict[str, list[dict[str, Any]]] = {}
        for row, diff, tenant in pending:
            entry = {
                "model": schema.name,
                "record_key": str(row.key),
                "operation": row.kind,
                "changes": dumps(diff),
                "at": at,
                "actor": None if actor is None else str(actor),
                "tenant": tenant,
                "run_id": session.run_id,
                "node_id": changes.node_id,
            }
            by_chain.setdefault(chain_name(tenant, schema.table), []).append(entry)
        # One order for every writer, so that two runs touching the same chains never deadlock.
        for chain in sorted(by_chain):
            fresh = self.service.first_append(chain)
            await append(session, self.service.entries, self.service.heads, chain, by_chain[chain], fresh=fresh)

    async def _created(
        self, session: Session, changes: ChangeSet, rows: CreatedRows, fields: tuple[str, ...], at: int, actor: Any
    ) -> None:
        """The entries of a bulk create whose rows the node knew, made column-wise (no dict per row)."""
        texts = created_changes(rows.columns, fields)
        keys = list(map(str, rows.keys))
        context = session.context
        default = context.get("node_tenant") or context.get("tenant")
        tenant_ids = rows.columns.get("tenant_id")
        tenants: list[str | None]
        if tenant_ids is None:
            tenants = [None if default is None else str(default)] * len(keys)
        else:
            tenants = [None if t is None else str(t) for t in tenant_ids]
        by_chain: dict[str, tuple[str | None, list[tuple[str, str, str]]]] = {}
        for key, text, tenant in zip(keys, texts, tenants, strict=True):
            chain = chain_name(tenant, changes.schema.table)
            group = by_chain.get(chain)
            if group is None:
                group = by_chain[chain] = (tenant, [])
            group[1].append((key, "create", text))
        for chain in sorted(by_chain):
            tenant, own = by_chain[chain]
            shared = {"model": changes.schema.name, "at": at, "actor": None if actor is None else str(actor),
                      "tenant": tenant, "run_id": session.run_id, "node_id": changes.node_id}  # fmt: skip
            fresh = self.service.first_append(chain)
            await append_run(session, self.service.entries, self.service.heads, chain, shared, own, fresh=fresh)

    async def _seal(
        self,
        session: Session,
        schema: ModelSchema,
        personal: tuple[str, ...],
        pending: list[tuple[RowChange, dict[str, list[Any]], str | None]],
    ) -> None:
        """Replace every personal value in the diffs by its sealed form, under its subject's key (made if new)."""
        subjects = self.service.subjects()
        named: list[str] = []
        for row, _, tenant in pending:
            image = dict(row.after or row.before or {})
            subject = subject_of(schema, subjects, row.key, image)
            named.append(subject if tenant is None else f"{tenant}/{subject}")
        by_tenant: dict[str | None, set[str]] = {}
        for (_, _, tenant), subject in zip(pending, named, strict=True):
            by_tenant.setdefault(tenant, set()).add(subject)
        keyring = self.service.keyring()
        keys: dict[str, bytes] = {}
        for tenant, group in by_tenant.items():
            keys.update(await keyring.ensure(session, group, tenant))
        for (row, diff, _), subject in zip(pending, named, strict=True):
            for name in personal:
                if name in diff:
                    context = aad(subject, schema.name, str(row.key), name)
                    diff[name] = [None if v is None else seal(keys[subject], v, subject, context) for v in diff[name]]
