"""The entry of a one-record update as steps of the update's own program (SQLite: one hop, ADR 0030).

Where the core runs a captured ``Update`` by ``id`` as one program on the
connection's thread (:class:`dataflow.changes.FusedUpdate` ``in_program``), the
entry is made there, in plain Python between the statements: the diff of the
audited fields from the two images, its JSON, the chain head read under the
write transaction's lock, the hash, the entry's INSERT and the head's UPDATE.
Everything that does not depend on the row is made before: the SQL text once
per instance, the audited fields once per model, the actor, time and run per
update. The values, JSON and hash are exactly the usual capture's (same
:func:`.values.dumps`, same :func:`.chain.entry_hash` text), so ``verify``,
``history`` and ``as_of`` cannot tell the two apart.

Personal fields are sealed with keys a keyring may have to make (awaits): an
update assigning one is left to the usual capture.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from dataflow.batches import Program, Step
from dataflow.changes import FusedSteps, FusedUpdate
from dataflow.schema import ModelSchema

from .chain import WRITTEN, chain_name, checkpoint, field_text, reserve
from .options import audited_fields, personal_fields
from .values import dumps

if TYPE_CHECKING:
    from dataflow.session import Session

    from .service import Audit


@attrs.frozen
class _Model:
    """What a model's fused entries need, found once per model."""

    audited: frozenset[str]
    personal: frozenset[str]
    table: str
    tenant_column: bool
    """The model has ``tenant_id``: an entry belongs to the row's tenant, else to the run's."""


def _model(schema: ModelSchema) -> _Model:
    return _Model(frozenset(audited_fields(schema) or ()), frozenset(personal_fields(schema)), schema.table,
                  "tenant_id" in schema.by_name)  # fmt: skip


class ProgramEntries:
    """Makes the steps that append a one-record update's entry inside the update's program."""

    def __init__(self, service: Audit) -> None:
        self.service = service
        dialect, heads = service.db.dialect, service.heads
        q = heads.quoted
        self._head_sql = dialect.locking_read(
            f"SELECT {q['seq']}, {q['hash']} FROM {heads.table} WHERE {q['chain']} = {dialect.placeholder(1)}"
        )
        self._insert_sql = service.entries.insert(WRITTEN, returning=False)
        self._checkpoint_sql = checkpoint(dialect, heads, "", 0, "")[0]
        self._models: dict[str, _Model] = {}

    def steps(self, session: Session, update: FusedUpdate, at: int, actor: Any) -> FusedSteps | str | None:
        """The steps that record ``update``; ``""`` when it assigns no audited field; None: the usual capture."""
        schema = update.schema
        model = self._models.get(schema.name)
        if model is None:
            model = self._models[schema.name] = _model(schema)
        names = [name for name in update.assigned if name in model.audited]
        if not names:
            return ""
        if model.personal and not model.personal.isdisjoint(names):
            return None
        context = session.context
        default = context.get("node_tenant") or context.get("tenant")
        record_key = str(update.key)
        model_name, actor_text, run_id, node_id = schema.name, None if actor is None else str(actor), session.run_id, \
            update.node_id  # fmt: skip
        # The hashed text of the fields shared with the run (shared_part's, in SHARED's order) but chain and tenant.
        middle = f"{field_text(model_name)}\x1f{field_text(at)}\x1f{field_text(actor_text)}"
        last = f"{field_text(run_id)}\x1f{field_text(node_id)}"
        dialect, heads = session.dialect, self.service.heads
        head_sql, insert_sql, checkpoint_sql = self._head_sql, self._insert_sql, self._checkpoint_sql

        def entry(before: Mapping[str, Any], after: Mapping[str, Any]) -> Program[None]:
            diff = {name: [before[name], after[name]] for name in names if before[name] != after[name]}
            if not diff:
                return  # only unchanged values: no entry, the head untouched
            tenant = after.get("tenant_id", default) if model.tenant_column else default
            tenant = None if tenant is None else str(tenant)
            chain = chain_name(tenant, model.table)
            rows = yield Step(head_sql, (chain,), "fetch")
            if rows:
                seq, prev_hash = int(rows[0][0]) + 1, str(rows[0][1])
            else:
                seq, prev_hash = yield from reserve(dialect, heads, chain, 1)  # the chain's first entry
            changes = dumps(diff)
            # entry_hash's text, inlined as in chain._hashed_rows: the own fields are str, seq an int.
            text = f"{prev_hash}\x1fi{seq}\x1fs{record_key}\x1fsupdate\x1fs{changes}\x1fs{chain}\x1f{middle}\x1f" \
                   f"{field_text(tenant)}\x1f{last}"  # fmt: skip
            digest = hashlib.sha256(text.encode()).hexdigest()
            yield Step(insert_sql, (chain, seq, model_name, record_key, "update", changes, at, prev_hash, digest,
                                    actor_text, tenant, run_id, node_id))  # fmt: skip
            yield Step(checkpoint_sql, (seq, digest, chain))

        return entry
