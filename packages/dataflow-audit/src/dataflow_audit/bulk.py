"""Bulk entries: a bulk create of consecutive integer keys is one chain entry, not one entry per row.

The entry's ``record_key`` is the first key, ``key_low`` and ``key_high`` the
first and the last (indexed with the model, and covered by its hash), and its
``changes`` every row's values, canonical JSON made by one C call over the
columns as the node holds them (no tuple per row):
``{"columns": [[v, ...] per field], "fields": [sorted audited names]}``, the
``i``-th value of each column being key ``key_low + i``'s. Personal values are sealed one by one under their
subject's key, exactly as in an entry of one record. Readers present the
entry of one record of it (:func:`dataflow_audit.created.record_changes`): ``{field: [null, value]}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dataflow.changes import ChangeSet, CreatedRows

from .chain import append_bulk, chain_name
from .options import subject_of
from .sealing import aad, seal
from .values import dumps

if TYPE_CHECKING:
    from dataflow.session import Session

    from .service import Audit

BULK_ENTRY_FROM = 2
"""From this many created rows on, consecutive integer keys make one bulk entry; one row stays an entry of its own."""


def consecutive(keys: Sequence[Any]) -> int | None:
    """The first key when ``keys`` are integers counting up by one (the auto-increment case), else None."""
    if len(keys) < BULK_ENTRY_FROM or set(map(type, keys)) != {int}:
        return None
    first = keys[0]
    return first if list(keys) == list(range(first, first + len(keys))) else None


def single_tenant(rows: CreatedRows, context: Mapping[str, Any]) -> tuple[bool, str | None]:
    """``(True, tenant)`` when every row belongs to one tenant (one chain), as ``row_tenant`` reads it."""
    default = context.get("node_tenant") or context.get("tenant")
    column = rows.columns.get("tenant_id")
    tenants = {default} if column is None else set(column)
    if len(tenants) != 1:
        return False, None
    (tenant,) = tenants
    return True, None if tenant is None else str(tenant)


def bulk_changes(columns: Mapping[str, Sequence[Any]], fields: Sequence[str]) -> str:
    names = sorted(fields)
    text: str = dumps({"columns": [columns[name] for name in names], "fields": names})
    return text


async def record_bulk(
    service: Audit, session: Session, changes: ChangeSet, rows: CreatedRows, fields: tuple[str, ...],
    personal: tuple[str, ...], at: int, actor: Any,
) -> bool:  # fmt: skip
    """Write the run's created rows as one bulk entry; False (nothing written) when they do not qualify."""
    first = consecutive(rows.keys)
    one, tenant = single_tenant(rows, session.context)
    if first is None or not one:
        return False
    columns: Mapping[str, Sequence[Any]] = rows.columns
    if personal:
        columns = {**columns, **await _sealed(service, session, changes, rows, personal, tenant)}
    entry = {
        "model": changes.schema.name,
        "record_key": str(first),
        "operation": "create",
        "changes": bulk_changes(columns, fields),
        "at": at,
        "actor": None if actor is None else str(actor),
        "tenant": tenant,
        "run_id": session.run_id,
        "node_id": changes.node_id,
        "key_low": first,
        "key_high": first + len(rows.keys) - 1,
    }
    chain = chain_name(tenant, changes.schema.table)
    await append_bulk(session, service.entries, service.heads, chain, entry, fresh=service.first_append(chain))
    return True


async def _sealed(
    service: Audit, session: Session, changes: ChangeSet, rows: CreatedRows, personal: tuple[str, ...],
    tenant: str | None,
) -> dict[str, list[Any]]:  # fmt: skip
    """The personal columns with every value sealed under its row's subject's key (made if new)."""
    schema = changes.schema
    subjects = service.subjects()
    wanted = [name for name in (subjects.get(schema.name), *(f.name for f in schema.fields if f.references)) if name]
    named = []
    for index, key in enumerate(rows.keys):
        image = {name: rows.columns[name][index] for name in wanted if name in rows.columns}
        subject = subject_of(schema, subjects, key, image)
        named.append(subject if tenant is None else f"{tenant}/{subject}")
    keys = await service.keyring().ensure(session, set(named), tenant)
    sealed: dict[str, list[Any]] = {}
    for name in personal:
        sealed[name] = [
            None if value is None else seal(keys[subject], value, subject, aad(subject, schema.name, str(key), name))
            for value, subject, key in zip(rows.columns[name], named, rows.keys, strict=True)
        ]
    return sealed
