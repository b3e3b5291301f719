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

import attrs

from dataflow.changes import FUSED_ROW, FusedUpdate
from dataflow.dialect import Dialect
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


@attrs.frozen
class _Slot:
    """A value a template binds that differs per update: the name of one of :func:`_values`' keys."""

    name: str


@attrs.frozen
class _Template:
    """The CTEs' text for one model, set of audited fields and first placeholder, and what each placeholder binds."""

    text: str
    binds: tuple[Any, ...]
    """Per placeholder, a constant or a :class:`_Slot`."""


def known_tenant(session: Session, update: FusedUpdate) -> tuple[bool, str | None]:
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


class FusedEntries:
    """Writes one-record update entries inside the update's statement; keeps each statement's text once made."""

    def __init__(self, service: Audit) -> None:
        self.service = service
        self._templates: dict[tuple[str, tuple[str, ...], int], _Template | None] = {}

    async def cte(self, session: Session, update: FusedUpdate, at: int, actor: Any) -> str | None:
        """The CTEs that append ``update``'s entry to its chain; ``""`` when it changes no audited field; None: no."""
        schema = update.schema
        audited = audited_fields(schema) or ()
        names = tuple(sorted(name for name in update.assigned if name in audited))
        if not names:
            return ""
        known, tenant = known_tenant(session, update)
        if not known:
            return None
        params = update.params
        key = (schema.name, names, len(params.values))
        if key in self._templates:
            template = self._templates[key]
        else:
            template = self._templates[key] = _template(self.service, session.dialect, update, names)
        if template is None:
            return None
        chain = chain_name(tenant, schema.table)
        if not await self.service.head_exists(session, chain):
            return None  # the usual capture makes the head row
        values = _values(session, update, chain, tenant, at, actor)
        params.values.extend(values[b.name] if isinstance(b, _Slot) else b for b in template.binds)
        return template.text


def _values(
    session: Session, update: FusedUpdate, chain: str, tenant: str | None, at: int, actor: Any
) -> dict[str, Any]:
    """What the slots of a template bind for this update."""
    record_key = str(update.key)
    shared = {"chain": chain, "model": update.schema.name, "at": at, "actor": None if actor is None else str(actor),
              "tenant": tenant, "run_id": session.run_id, "node_id": update.node_id}  # fmt: skip
    # The shared fields as bytes: a None among them hashes as NUL, which no text parameter holds.
    tail = (SEP + shared_part(shared)).encode()
    return {**shared, "record_key": record_key, "operation": "update", "own": f"{SEP}s{record_key}{SEP}supdate{SEP}s",
            "tail": tail}  # fmt: skip


def _template(service: Audit, dialect: Dialect, update: FusedUpdate, names: tuple[str, ...]) -> _Template | None:
    """The CTEs for an update assigning the audited ``names``; None when the database cannot build the entry."""
    schema = update.schema
    if set(names) & set(personal_fields(schema)) or dialect.sha256_hex_sql("''", "''") is None:
        return None
    start = len(update.params.values)
    params = Params(dialect, [None] * start)
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
    q = dialect.quote
    text = f"'{{' || SUBSTRING({' || '.join(pieces)} FROM 2) || '}}'"
    changes = f"{q(CHANGES)} AS (SELECT {q('changes')} FROM (SELECT {text} AS {q('changes')} FROM {q(FUSED_ROW)}) AS d "
    changes += f"WHERE {q('changes')} <> '{{}}')"
    head, entry = _head(params, service.heads), _entry(params, service.entries)
    return _Template(f"{changes}, {head}, {entry}", tuple(params.values[start:]))


def _head(params: Params, heads: TableSQL) -> str:
    """The head's advance, when there is a change: ``seq + 1`` and the new entry's hash, and the previous hash.

    The hashed text is :func:`.chain.entry_hash`'s: the previous hash, ``i<seq>``,
    ``s<record_key>``, ``s<operation>``, ``s<changes>`` and the shared fields, joined by 0x1f.
    """
    dialect = heads.dialect
    q, h, old = dialect.quote, heads.quoted, dialect.quote(OLD_HEAD)
    seq = f"{old}.{h['seq']} + 1"
    hashed = (
        f"{old}.{h['hash']} || {params.add(SEP + 'i')} || CAST({seq} AS VARCHAR) || "
        f"{params.add(_Slot('own'))} || {q(CHANGES)}.{q('changes')}"
    )
    digest = dialect.sha256_hex_sql(hashed, params.add(_Slot("tail")))
    locked = dialect.locking_read(
        f"SELECT {h['chain']}, {h['seq']}, {h['hash']} FROM {heads.table} WHERE {h['chain']} = "
        f"{params.add(_Slot('chain'))} AND EXISTS (SELECT 1 FROM {q(CHANGES)})"
    )
    return (
        f"{q(HEAD)} AS (UPDATE {heads.table} SET {h['seq']} = {seq}, {h['hash']} = {digest} "
        f"FROM ({locked}) AS {old}, {q(CHANGES)} WHERE {heads.table}.{h['chain']} = {old}.{h['chain']} "
        f"RETURNING {heads.table}.{h['seq']} AS {q('seq')}, {heads.table}.{h['hash']} AS {q('hash')}, "
        f"{old}.{h['hash']} AS {q('prev_hash')})"
    )


def _entry(params: Params, entries: TableSQL) -> str:
    """The entry's INSERT: a LEFT JOIN, so that a missing head makes ``seq`` null and fails the statement."""
    dialect = entries.dialect
    q = dialect.quote
    from_head = ("seq", "prev_hash", "hash")
    values: list[str] = []
    for name in WRITTEN:
        if name in from_head:
            values.append(f"{q(HEAD)}.{q(name)}")
        elif name == "changes":
            values.append(f"{q(CHANGES)}.{q('changes')}")
        else:
            values.append(f"CAST({params.add(_Slot(name))} AS {dialect.column_type(ENTRIES.by_name[name])})")
    columns = ", ".join(entries.quoted[name] for name in WRITTEN)
    return (
        f"{q(ENTRY)} AS (INSERT INTO {entries.table} ({columns}) SELECT {', '.join(values)} "
        f"FROM {q(CHANGES)} LEFT JOIN {q(HEAD)} ON 1 = 1)"
    )
