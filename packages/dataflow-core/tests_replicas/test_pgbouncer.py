"""PgBouncer in transaction pooling mode: what fails without ``pgbouncer=true``, and that it holds with it.

The compliance suite through PgBouncer is in ``test_pgbouncer_compliance.py``.
"""

from __future__ import annotations

import asyncio
import secrets

from dataflow import DataFlow
from dataflow.testing.replication import PgBouncer


async def _load(url: str) -> list[str]:
    """Six concurrent clients writing and reading; the errors they met."""
    db = DataFlow(url, env="test")

    @db.model
    class Visit:
        page: str

    errors: list[str] = []

    async def client(number: int) -> None:
        for i in range(15):
            try:
                await db.express.create("Visit", {"page": f"{number}/{i}"})
                await db.express.count("Visit", filter={"page": {"$like": f"{number}/%"}})
            except Exception as exc:  # noqa: BLE001 - collected, then asserted on
                errors.append(str(exc))

    try:
        await asyncio.gather(*(client(n) for n in range(6)))
    finally:
        await db.close_async()
    return errors


def test_without_pgbouncer_mode_cached_prepared_statements_break(pgbouncer: PgBouncer, bouncer_database: str) -> None:
    errors = asyncio.run(_load(pgbouncer.url(bouncer_database, f"application_name=off_{secrets.token_hex(3)}")))
    assert errors, "PgBouncer in transaction mode handed every client the same server session"
    assert all("prepared statement" in error for error in errors), errors[:3]


def test_with_pgbouncer_mode_the_same_load_has_no_errors(pgbouncer: PgBouncer, bouncer_database: str) -> None:
    errors = asyncio.run(_load(pgbouncer.url(bouncer_database, "pgbouncer=true")))
    assert errors == []
