"""``db.gdpr``: a data subject's export (right of access), erasure (right to be forgotten) and retention.

Export and erasure find the subject's records through :mod:`.subjects`. Erasure
runs in one transaction: personal fields of every tied record are overwritten
(``anonymize``) or the records are deleted children first (``delete``), through
the model nodes (so tenancy, references and the audit trail apply), then the
subject's key is destroyed (every sealed value of it in the trail becomes
unreadable) and an erasure record without personal data is kept. A second
erasure of the same subject is a no-op that says so.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from dataflow.errors import ValidationError
from dataflow.express import Express
from dataflow.loops import run_sync
from dataflow.sql import Params, TableSQL

from .anonymize import anonymized, personal_of
from .retention import RetentionCount, apply_retention
from .sealing import destroy_key
from .subjects import TiedRecords, find_tied
from .tables import ERASURES
from .transactions import transaction

if TYPE_CHECKING:
    from dataflow import DataFlow

    from .service import Audit

MODES = ("anonymize", "delete")


@attrs.frozen
class ErasureResult:
    """What an erasure did: records anonymized or deleted by model; ``already_erased`` for a repeat."""

    model: str
    key: Any
    mode: str
    records: dict[str, int]
    already_erased: bool = False


class Gdpr:
    """Export, erasure and retention for one ``DataFlow`` (``db.gdpr``)."""

    def __init__(self, db: DataFlow, audit: Audit) -> None:
        self.db = db
        self.audit = audit
        self.erasures = TableSQL(db.dialect, ERASURES)

    # -- export -------------------------------------------------------------------

    async def export_async(self, model: str | type, key: Any, **context: Any) -> dict[str, Any]:
        """One JSON-ready document: the subject's record, every record tied to it, and their decrypted history."""
        express = Express(self.db, context=context)
        found = await find_tied(self.db, express, model, key)
        history: list[dict[str, Any]] = []
        for name, rows in {found.model: [found.record], **found.tied}.items():
            pk = self.db.schema(name).primary_key
            found_entries = await self.audit.histories_async(name, [row[pk] for row in rows], context=context)
            history += [e.as_dict() for e in found_entries]
        history.sort(key=lambda e: (e["at"], e["id"]))
        document: dict[str, Any] = _jsonable(
            {
                "subject": {"model": found.model, "id": found.key, "record": found.record},
                "records": found.tied,
                "history": history,
                "exported_at": dt.datetime.now(dt.UTC),
            }
        )
        return document

    def export(self, model: str | type, key: Any, **context: Any) -> dict[str, Any]:
        """Synchronous :meth:`export_async`."""
        return run_sync(lambda: self.export_async(model, key, **context), cleanup=self.db.close_loop)

    # -- erasure ------------------------------------------------------------------

    async def erase_async(
        self, model: str | type, key: Any, mode: str = "anonymize", *, actor: str | None = None, **context: Any
    ) -> ErasureResult:
        if mode not in MODES:
            raise ValidationError(f"mode must be 'anonymize' or 'delete', got {mode!r}", field="mode")
        actor = actor or context.get("actor") or self.audit.current_actor()
        context = {**context, "actor": actor} if actor else dict(context)
        name = self.db.schema(model).name
        async with transaction(self.db, context) as (session, express):
            previous = await self._previous(session, name, key)
            if previous is not None:
                return ErasureResult(name, key, previous, {}, already_erased=True)
            found = await find_tied(self.db, express, model, key)
            counts = await (self._delete(express, found) if mode == "delete" else self._anonymize(express, found))
            tenant = found.record.get("tenant_id")
            subject = f"{found.model}:{found.key}"
            await destroy_key(session, self.audit.keys, subject if tenant is None else f"{tenant}/{subject}")
            row = {"subject": subject, "mode": mode, "actor": actor, "tenant": tenant,
                   "at": time.time_ns() // 1000, "records": sum(counts.values())}  # fmt: skip
            columns = tuple(row)
            insert = self.erasures.insert(columns, returning=False)
            await session.execute(insert, self.erasures.encode_row(row, columns), operation="gdpr")
        return ErasureResult(found.model, found.key, mode, counts)

    async def retention_async(self, *, dry_run: bool = False, batch: int = 500, **context: Any) -> list[RetentionCount]:
        """Apply every model's ``retention`` rule in batches (see :mod:`.retention`); counts per model."""
        return await apply_retention(self.db, dry_run=dry_run, batch=batch, **context)

    def retention(self, *, dry_run: bool = False, batch: int = 500, **context: Any) -> list[RetentionCount]:
        """Synchronous :meth:`retention_async`."""
        return run_sync(
            lambda: self.retention_async(dry_run=dry_run, batch=batch, **context), cleanup=self.db.close_loop
        )

    def erase(self, model: str | type, key: Any, mode: str = "anonymize", **options: Any) -> ErasureResult:
        """Synchronous :meth:`erase_async`."""
        return run_sync(lambda: self.erase_async(model, key, mode, **options), cleanup=self.db.close_loop)

    async def _previous(self, session: Any, model: str, key: Any) -> str | None:
        params = Params(self.erasures.dialect)
        q = self.erasures.quoted
        sql = f"SELECT {q['mode']} FROM {self.erasures.table} WHERE {q['subject']} = {params.add(f'{model}:{key}')}"
        rows = await session.fetch(sql, params.values, operation="gdpr")
        return str(rows[0][0]) if rows else None

    async def _anonymize(self, express: Express, found: TiedRecords) -> dict[str, int]:
        counts: dict[str, int] = {}
        for name, rows in {found.model: [found.record], **found.tied}.items():
            schema = self.db.schema(name)
            personal = personal_of(schema)
            if not personal:
                continue
            for row in rows:
                pk = row[schema.primary_key]
                await express.update(name, pk, {f.name: anonymized(schema, f, pk) for f in personal})
                counts[name] = counts.get(name, 0) + 1
        return counts

    async def _delete(self, express: Express, found: TiedRecords) -> dict[str, int]:
        counts: dict[str, int] = {}
        # Children first: the tied records were found parents first.
        for name, rows in [*reversed(found.tied.items()), (found.model, [found.record])]:
            schema = self.db.schema(name)
            keys = [row[schema.primary_key] for row in rows]
            deleted = await express.bulk_delete(name, keys)
            counts[name] = int(deleted["deleted"])
        return counts

    async def erasures_async(self) -> list[dict[str, Any]]:
        """Every erasure record: who erased which subject, when, how (no personal data)."""
        async with self.db.standalone_session() as session:
            await self.audit.ensure_tables(session)
            rows = await session.fetch(f"SELECT {self.erasures.select_list} FROM {self.erasures.table}")
            return [self.erasures.decode(row) for row in rows]


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
