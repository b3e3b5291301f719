"""Per-tenant limits: the :class:`TenantQuota` protocol and two examples.

A quota is consulted for every row a tenant writes (Create, BulkCreate,
Upsert, BulkUpsert), before the row is validated or sent, and refuses it by
raising :class:`~dataflow_tenancy.errors.QuotaExceededError`; the node then
writes nothing. Quotas are added per instance, by the application or by a
plugin from its own ``dataflow_instance_created(db)`` hook::

    @hookimpl
    def dataflow_instance_created(db):
        dataflow_tenancy.add_quota(db, RowCountQuota(limit=10_000))

The core's tenancy-filter contract is synchronous, so a quota cannot query
the database while it decides: :class:`RowCountQuota` keeps counts in the
process (loaded by :meth:`RowCountQuota.refresh`, raised by every admitted
row) and errs on the side of refusing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from dataflow.schema import ModelSchema

from .errors import QuotaExceededError
from .schema import TENANT_FIELD, strategy

if TYPE_CHECKING:
    from dataflow import DataFlow


class TenantQuota(Protocol):
    """A limit on what one tenant may write."""

    def admit(self, schema: ModelSchema, tenant: str) -> None:
        """Accept one row of ``schema`` written for ``tenant``, or raise ``QuotaExceededError``."""


class RowCountQuota:
    """At most ``limit`` rows per tenant and model (``limits`` overrides it per tenant).

    Counts start from :meth:`refresh` (one ``GROUP BY tenant_id`` per model)
    and grow with every admitted row. Deletes and rolled-back writes are not
    seen until the next refresh, so the quota may refuse early, never late
    within one process. Row-level models only.
    """

    def __init__(self, limit: int, *, limits: Mapping[str, int] | None = None, models: set[str] | None = None) -> None:
        self.limit = limit
        self.limits = dict(limits or {})
        self.models = models
        self._counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def admit(self, schema: ModelSchema, tenant: str) -> None:
        if self.models is not None and schema.name not in self.models:
            return
        limit = self.limits.get(tenant, self.limit)
        key = (schema.name, tenant)
        with self._lock:
            count = self._counts.get(key, 0)
            if count >= limit:
                raise QuotaExceededError(
                    f"{schema.name}: tenant {tenant!r} has reached its quota of {limit} rows",
                    model=schema.name,
                    tenant=tenant,
                )
            self._counts[key] = count + 1

    def count(self, model: str, tenant: str) -> int:
        """The count the quota holds for ``tenant``'s rows of ``model``."""
        return self._counts.get((model, tenant), 0)

    async def refresh(self, db: DataFlow) -> None:
        """Load every tenant's row count of each row-level model from the database."""
        counts: dict[tuple[str, str], int] = {}
        session = await db.open_session(context={"tenant_admin": "quota refresh"})
        try:
            for schema in db.schemas.values():
                if strategy(schema) != "row" or (self.models is not None and schema.name not in self.models):
                    continue
                column = db.dialect.quote(TENANT_FIELD)
                sql = f"SELECT {column}, COUNT(*) FROM {db.dialect.quote(schema.table)} GROUP BY {column}"
                for tenant, count in await session.fetch(sql, schema=schema, operation="quota"):
                    counts[(schema.name, str(tenant))] = int(count)
        finally:
            await db.close_session(session)
        with self._lock:
            self._counts = counts


class RateQuota:
    """At most ``rate`` rows per second per tenant, with bursts of up to ``burst`` rows (a token bucket)."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def admit(self, schema: ModelSchema, tenant: str) -> None:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(tenant, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens < 1:
                raise QuotaExceededError(
                    f"{schema.name}: tenant {tenant!r} writes faster than its quota of {self.rate:g} rows/s",
                    model=schema.name,
                    tenant=tenant,
                )
            self._buckets[tenant] = (tokens - 1, now)
