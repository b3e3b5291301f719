"""The entry of a one-record update written by the update's own statement (dialects with writable CTEs, ADR 0025).

Three CTEs after the core's ``written`` (:class:`dataflow.changes.FusedUpdate`):

- the changes: the JSON object of the audited fields the update changed, built
  by the database as DataFlow's own JSON would hold them (sorted names, no
  spaces; ``[before, after]`` each), or no row when nothing audited changed or
  no row matched;
- the head: ``seq + 1`` and the new hash, computed by the database over exactly
  the text :func:`.chain.entry_hash` hashes, under the head row's lock, only
  when there is a change;
- the entry, joined to the head with a LEFT JOIN: a head that vanished leaves
  ``seq`` null and fails the whole statement (the update too) instead of
  writing an unchained entry.

Whatever the database cannot build exactly (sealed personal values, kinds the
dialect has no JSON text for, a chain whose head row does not exist yet, a row
whose tenant only the row knows) is left to the usual capture.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from dataflow.changes import FUSED_ROW, FusedUpdate
from dataflow.sql import Params, TableSQL

from .chain import WRITTEN, chain_name, shared_part
from .options import audited_fields, personal_fields
from .tables import ENTRIES

if TYPE_CHECKING:
    from dataflow.session import Session

    from .service import Audit

CHANGES, HEAD, ENTRY = "dataflow_audit_changes", "dataflow_audit_head", "dataflow_audit_entry"
OLD_HEAD = "dataflow_audit_old_head"
SEP = "\x1f"


def _tenant(session: Session, update: FusedUpdate) -> tuple[bool, str | None]:
    """``(known, tenant)``: the tenant every entry of this update belongs to, when known before the statement.

    A model with a ``tenant_id`` column records the row's; it is known only when
    the session's scope pins it (``{"tenant_id": t}``: the update matches no other row).
    """
    context = session.context
    if "tenant_id" not in update.schema.by_name:
        tenant = context.get("node_tenant") or context.get("tenant")
        return True, None if tenant is None else str(tenant)
    scope = session.scope(update.schema) if session.db.tenancy_filters else None
    if isinstance(scope, dict) and len(scope) == 1 and isinstance(scope.get("tenant_id"), str):
        return True, scope["tenant_id"]
    return False, None


async def fused_entry(service: Audit, session: Session, update: FusedUpdate, at: int, actor: Any) -> str | None:
    """The CTEs that append ``update``'s entry to its chain; ``""`` when it changes no audited field; None: no."""
    schema = update.schema
    audited = set(audited_fields(schema) or ())
    names = sorted(name for name in update.assigned if name in audited)
    if not names:
        return ""
    if set(names) & set(personal_fields(schema)):
        return None
    known, tenant = _tenant(session, update)
    dialect = session.dialect
    if not known or dialect.sha256_hex_sql("''", "''") is None:
        return None
    params = update.params
    pieces: list[str] = []
    for name in names:
        field = schema.by_name[name]
        before = dialect.json_text_sql(update.before(name), field)
        after = dialect.json_text_sql(update.after(name), field)
        if before is None or after is None:
            return None
        prefix = params.add("," + json.dumps(name, ensure_ascii=False) + ":[")
        test = f"{update.before(name)} IS DISTINCT FROM {update.after(name)}"
        pieces.append(f"COALESCE(CASE WHEN {test} THEN {prefix} || {before} || ',' || {after} || ']' END, '')")
    chain = chain_name(tenant, schema.table)
    if not await service.head_exists(session, chain):
        return None  # the usual capture makes the head row
    q, heads, entries = dialect.quote, service.heads, service.entries
    text = f"'{{' || SUBSTRING({' || '.join(pieces)} FROM 2) || '}}'"
    changes = f"{q(CHANGES)} AS (SELECT {q('changes')} FROM (SELECT {text} AS {q('changes')} FROM {q(FUSED_ROW)}) AS d "
    changes += f"WHERE {q('changes')} <> '{{}}')"
    shared = {"chain": chain, "model": schema.name, "at": at, "actor": None if actor is None else str(actor),
              "tenant": tenant, "run_id": session.run_id, "node_id": update.node_id}  # fmt: skip
    head = _head(params, heads, shared, str(update.key))
    return f"{changes}, {head}, {_entry(params, entries, shared, str(update.key))}"


def _head(params: Params, heads: TableSQL, shared: dict[str, Any], record_key: str) -> str:
    """The head's advance, when there is a change: ``seq + 1`` and the new entry's hash, and the previous hash.

    The hashed text is :func:`.chain.entry_hash`'s: the previous hash, ``i<seq>``,
    ``s<record_key>``, ``s<operation>``, ``s<changes>`` and the shared fields, joined by 0x1f.
    """
    dialect = heads.dialect
    q, h, old = dialect.quote, heads.quoted, dialect.quote(OLD_HEAD)
    seq = f"{old}.{h['seq']} + 1"
    hashed = (
        f"{old}.{h['hash']} || {params.add(SEP + 'i')} || CAST({seq} AS VARCHAR) || "
        f"{params.add(f'{SEP}s{record_key}{SEP}supdate{SEP}s')} || {q(CHANGES)}.{q('changes')}"
    )
    # The shared fields as bytes: a None among them hashes as NUL, which no text parameter holds.
    digest = dialect.sha256_hex_sql(hashed, params.add((SEP + shared_part(shared)).encode()))
    locked = dialect.locking_read(
        f"SELECT {h['chain']}, {h['seq']}, {h['hash']} FROM {heads.table} WHERE {h['chain']} = "
        f"{params.add(shared['chain'])} AND EXISTS (SELECT 1 FROM {q(CHANGES)})"
    )
    return (
        f"{q(HEAD)} AS (UPDATE {heads.table} SET {h['seq']} = {seq}, {h['hash']} = {digest} "
        f"FROM ({locked}) AS {old}, {q(CHANGES)} WHERE {heads.table}.{h['chain']} = {old}.{h['chain']} "
        f"RETURNING {heads.table}.{h['seq']} AS {q('seq')}, {heads.table}.{h['hash']} AS {q('hash')}, "
        f"{old}.{h['hash']} AS {q('prev_hash')})"
    )


def _entry(params: Params, entries: TableSQL, shared: dict[str, Any], record_key: str) -> str:
    """The entry's INSERT: a LEFT JOIN, so that a missing head makes ``seq`` null and fails the statement."""
    dialect = entries.dialect
    q = dialect.quote
    own = {"record_key": record_key, "operation": "update"}
    from_head = {"seq": "seq", "prev_hash": "prev_hash", "hash": "hash"}
    values: list[str] = []
    for name in WRITTEN:
        if name in from_head:
            values.append(f"{q(HEAD)}.{q(from_head[name])}")
        elif name == "changes":
            values.append(f"{q(CHANGES)}.{q('changes')}")
        else:
            value = own[name] if name in own else shared[name]
            values.append(f"CAST({params.add(value)} AS {dialect.column_type(ENTRIES.by_name[name])})")
    columns = ", ".join(entries.quoted[name] for name in WRITTEN)
    return (
        f"{q(ENTRY)} AS (INSERT INTO {entries.table} ({columns}) SELECT {', '.join(values)} "
        f"FROM {q(CHANGES)} LEFT JOIN {q(HEAD)} ON 1 = 1)"
    )
