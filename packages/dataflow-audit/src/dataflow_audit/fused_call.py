"""The whole one-record audited update as one CALL of a stored procedure (MySQL/MariaDB, ADR 0031).

MariaDB has neither writable CTEs nor ``UPDATE ... RETURNING``, and its
connections run a statement at a time; the usual capture is about nine round
trips. Here the update is one: per audited model a procedure, made by this
module the first time it is needed (``CREATE PROCEDURE IF NOT EXISTS``), takes
the key, a bit mask of the assigned columns, every column's new value and the
entry's fields, and runs

- ``START TRANSACTION`` only when ``@@in_transaction = 0`` (inside a
  ``transaction=True`` run it is part of the run's transaction);
- the before image of the audited columns ``FOR UPDATE``; no row: nothing
  else, no result set;
- the UPDATE of the assigned columns;
- the changes: the JSON object of the assigned audited columns whose value
  differs (``<=>``, binary for text), sorted, no spaces; none: no entry, the
  chain untouched;
- the entry, ``INSERT ... SELECT`` from the head row under its lock, its hash
  ``SHA2(..., 256)`` over exactly :func:`.chain.entry_hash`'s text; a missing
  head signals an error instead of an unchained entry;
- the head's advance, the same hash;
- the row as written, the CALL's result set; ``COMMIT``. Any error: ROLLBACK
  (of its own transaction only) and the error again.

The procedure's name holds a digest of its text: a migration that changes a
column changes the text, so the next update makes the new procedure, and the
old one is never called again. Until a process knows a procedure exists (made
it, or read it in ``information_schema`` inside a transaction, where a CREATE
would commit the run) its updates are captured as usual.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import attrs

from dataflow.changes import FusedCall, FusedUpdate
from dataflow.errors import DataFlowError
from dataflow.fields import FieldKind, FieldSchema
from dataflow.schema import ModelSchema

from .chain import WRITTEN, chain_name, shared_part
from .fused import SEP, known_tenant
from .options import audited_fields, personal_fields
from .tables import ENTRIES

if TYPE_CHECKING:
    from dataflow.dialect import Dialect
    from dataflow.session import Session

    from .service import Audit

TEXT_KINDS = (FieldKind.STR, FieldKind.UUID, FieldKind.ENUM)
ENTRY_PARAMS = ("chain", "model", "record_key", "at", "actor", "tenant", "run_id", "node_id")
"""The entry's fields the caller binds, after the key, the mask and the columns; then ``own`` and ``tail``."""


@attrs.frozen
class _Procedure:
    """One model's procedure: its name, its CREATE, the columns it takes and the audited ones it can record."""

    name: str
    create: str
    columns: tuple[str, ...]
    recorded: frozenset[str]
    personal: frozenset[str]
    audited: frozenset[str]


def _typed(dialect: Dialect, field: FieldSchema) -> str:
    """A parameter's or variable's type: the column's, text compared as the table compares it (binary)."""
    sql = dialect.column_type(field)
    if field.kind in TEXT_KINDS and "CHARACTER SET" not in sql and not sql.startswith(("BIGINT", "VARBINARY")):
        sql += f" CHARACTER SET utf8mb4 COLLATE {getattr(dialect, 'collation', 'utf8mb4_bin')}"
    return sql


def _changes_sql(dialect: Dialect, schema: ModelSchema, columns: tuple[str, ...], recorded: list[str]) -> str:
    """The comma-joined ``"name":[before,after]`` pieces of the changed recorded columns, in name order."""
    pieces = []
    for name in sorted(recorded):
        field, bit = schema.by_name[name], 1 << columns.index(name)
        old, new = f"`df_old_{columns.index(name)}`", f"`df_new_{columns.index(name)}`"
        before, after = dialect.json_text_sql(old, field), dialect.json_text_sql(new, field)
        same = f"BINARY {old} <=> BINARY {new}" if field.kind in TEXT_KINDS else f"{old} <=> {new}"
        # A MariaDB literal: backslashes doubled (the server reads backslash escapes), quotes doubled.
        label = "'" + (json.dumps(name, ensure_ascii=False) + ":[").replace("\\", "\\\\").replace("'", "''") + "'"
        pieces.append(f"IF(`df_mask` & {bit} AND NOT ({same}), CONCAT({label}, {before}, ',', {after}, ']'), NULL)")
    return f"CONCAT_WS(',', {', '.join(pieces)})"


def _procedure(service: Audit, dialect: Dialect, schema: ModelSchema) -> _Procedure | None:
    """The model's procedure, or None when it cannot have one (more columns than the mask's bits)."""
    pk = schema.primary_key
    columns = tuple(name for name in schema.column_names if name != pk)
    if len(columns) > 62:
        return None
    audited = frozenset(audited_fields(schema) or ())
    personal = frozenset(personal_fields(schema))
    recorded = [n for n in columns if n in audited and n not in personal
                and dialect.json_text_sql("x", schema.by_name[n]) is not None]  # fmt: skip
    q = dialect.quote
    table = q(schema.table)
    col = {name: f"{table}.{q(name)}" for name in (pk, *columns)}
    entries, heads = service.entries, service.heads
    h = heads.quoted
    entry_types = {name: _typed(dialect, ENTRIES.by_name[name]) for name in ENTRY_PARAMS}
    params = [f"IN `df_key` {_typed(dialect, schema.by_name[pk])}", "IN `df_mask` BIGINT"]
    params += [f"IN `df_new_{i}` {_typed(dialect, schema.by_name[n])}" for i, n in enumerate(columns)]
    params += [f"IN `df_{name}` {entry_types[name]}" for name in ENTRY_PARAMS]
    text = f"LONGTEXT CHARACTER SET utf8mb4 COLLATE {getattr(dialect, 'collation', 'utf8mb4_bin')}"
    params += [f"IN `df_own` {text}", f"IN `df_tail` {text}"]
    olds = [(columns.index(n), n) for n in recorded]
    declares = "".join(f"DECLARE `df_old_{i}` {_typed(dialect, schema.by_name[n])};\n" for i, n in olds)
    into = "".join(f", `df_old_{i}`" for i, _ in olds)
    before = "".join(f", {col[n]}" for _, n in olds)
    sets = ", ".join(f"{col[n]} = IF(`df_mask` & {1 << i}, `df_new_{i}`, {col[n]})" for i, n in enumerate(columns))
    by_key = f"WHERE {col[pk]} = `df_key`"
    hashed = (f"SHA2(CONCAT({heads.table}.{h['hash']}, CHAR(31 USING utf8mb4), 'i', {heads.table}.{h['seq']} + 1, "
              f"`df_own`, `df_changes`, `df_tail`), 256)")  # fmt: skip
    values = {"seq": f"{heads.table}.{h['seq']} + 1", "prev_hash": f"{heads.table}.{h['hash']}", "hash": hashed,
              "operation": "'update'", "changes": "`df_changes`"}  # fmt: skip
    selected = ", ".join(values.get(name, f"`df_{name}`") for name in WRITTEN)
    on_chain = f"WHERE {heads.table}.{h['chain']} = `df_chain`"
    record = ", ".join(col[name] for name in schema.column_names)  # TableSQL.select_list's order: decode reads it
    changes = _changes_sql(dialect, schema, columns, recorded) if recorded else "''"
    body = f"""({", ".join(params)})
MODIFIES SQL DATA
BEGIN
DECLARE `df_own_tx` BOOL DEFAULT @@in_transaction = 0;
DECLARE `df_found` BOOL DEFAULT FALSE;
DECLARE `df_changes` {text};
{declares}DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN IF `df_own_tx` THEN ROLLBACK; END IF; RESIGNAL; END;
IF `df_own_tx` THEN START TRANSACTION; END IF;
SELECT TRUE{before} INTO `df_found`{into} FROM {table} {by_key} FOR UPDATE;
IF `df_found` THEN
UPDATE {table} SET {sets} {by_key};
SET `df_changes` = {changes};
IF `df_changes` <> '' THEN
SET `df_changes` = CONCAT('{{', `df_changes`, '}}');
INSERT INTO {entries.table} ({", ".join(entries.quoted[name] for name in WRITTEN)})
SELECT {selected} FROM {heads.table} {on_chain} FOR UPDATE;
IF ROW_COUNT() = 0 THEN
SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'dataflow_audit: the chain head row is missing';
END IF;
UPDATE {heads.table} SET {h["hash"]} = {hashed}, {h["seq"]} = {h["seq"]} + 1 {on_chain};
END IF;
SELECT {record} FROM {table} {by_key};
END IF;
IF `df_own_tx` THEN COMMIT; END IF;
END"""
    name = "dataflow_audit_update_" + hashlib.sha256(f"{schema.table}\0{body}".encode()).hexdigest()[:20]
    create = f"CREATE PROCEDURE IF NOT EXISTS {q(name)}{body}"
    return _Procedure(name, create, columns, frozenset(recorded), personal, audited)


NO_SUCH_PROCEDURE = 1305
"""MySQL's and MariaDB's ER_SP_DOES_NOT_EXIST: the CALL did not start."""


class CallEntries:
    """Makes each audited model's procedure once, and the CALL that updates and records one record."""

    def __init__(self, service: Audit) -> None:
        self.service = service
        self._procedures: dict[int, tuple[ModelSchema, _Procedure | None]] = {}
        self._ready: dict[str, bool] = {}
        """Procedure name: made or seen in this database (True), or not to be made (False: no privilege, ...)."""

    def _for(self, session: Session, schema: ModelSchema) -> _Procedure | None:
        # Keyed by the schema object: a migration that changes the model makes a new schema, so a new text.
        known = self._procedures.get(id(schema))
        if known is None or known[0] is not schema:
            known = self._procedures[id(schema)] = (schema, _procedure(self.service, session.dialect, schema))
        return known[1]

    async def call(self, session: Session, update: FusedUpdate, at: int, actor: Any) -> FusedCall | str | None:
        """The CALL that makes and records ``update``; ``""``: it assigns no audited field; None: the usual capture."""
        procedure = self._for(session, update.schema)
        if procedure is None:
            return None
        names = [name for name in update.assigned if name in procedure.audited]
        if not names:
            return ""
        if not procedure.recorded.issuperset(names):
            return None  # a personal field (sealing awaits) or a kind without SQL JSON text
        known, tenant = known_tenant(session, update)
        if not known or not await self._ensure(session, procedure):
            return None
        chain = chain_name(tenant, update.schema.table)
        if not await self.service.head_exists(session, chain):
            return None  # the usual capture makes the head row
        columns = procedure.columns
        *values, key = update.written
        new: list[Any] = [None] * len(columns)
        mask = 0
        for name, value in zip(update.assigned, values, strict=True):
            index = columns.index(name)
            new[index] = value
            mask |= 1 << index
        record_key = str(update.key)
        shared = {"chain": chain, "model": update.schema.name, "at": at, "actor": None if actor is None else str(actor),
                  "tenant": tenant, "run_id": session.run_id, "node_id": update.node_id}  # fmt: skip
        entry = {**shared, "record_key": record_key}
        own = f"{SEP}s{record_key}{SEP}supdate{SEP}s"
        params = (key, mask, *new, *(entry[name] for name in ENTRY_PARAMS), own, SEP + shared_part(shared))
        holders = ", ".join(["%s"] * len(params))
        name = procedure.name
        return FusedCall(f"CALL {session.dialect.quote(name)}({holders})", params, lambda exc: self._gone(name, exc))

    def _gone(self, name: str, exc: BaseException) -> bool:
        """Was the CALL refused because the procedure no longer exists (dropped by hand)? Then it is made again."""
        cause = exc.__cause__
        args = getattr(cause, "args", ())
        if not args or args[0] != NO_SUCH_PROCEDURE:
            return False
        self._ready.pop(name, None)  # the next update outside a transaction makes it again
        return True

    async def _ensure(self, session: Session, procedure: _Procedure) -> bool:
        """Does the procedure exist? Made outside a transaction (a CREATE commits); looked up inside one."""
        ready = self._ready.get(procedure.name)
        if ready is not None:
            return ready
        if session.in_transaction:
            rows = await session.fetch(
                "SELECT 1 FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_NAME = %s",
                (procedure.name,),
                operation="audit",
            )
            if rows:
                self._ready[procedure.name] = True
            return bool(rows)
        try:
            await session.execute(procedure.create, operation="audit")
        except DataFlowError:  # no CREATE ROUTINE privilege, ...: the usual capture, from now on
            self._ready[procedure.name] = False
            return False
        self._ready[procedure.name] = True
        return True
