"""Tenancy on replica sessions is the primary's: filters, row-level-security settings; the property holds.

The tenancy package's own property test runs here with a replica configured:
reads outside transactions go to the replica (or, right after a write, to
the primary or a replica that replayed it), and no step ever crosses a tenant.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from replica_sql import pg_execute, pg_fetch, wait_until

from dataflow import DataFlow
from dataflow.routing import caller_context
from dataflow.url import DatabaseURL

sys.path.insert(0, str(Path(__file__).parents[2] / "dataflow-tenancy" / "tests"))
import test_property as tenancy_property
from tenancy_helpers import arun, customers, define_models, run

from dataflow_tenancy import install_row_level_security


@pytest.fixture
def tenant_db(replicated: tuple[str, str, Any]) -> Iterator[DataFlow]:
    primary, replica, _ = replicated
    db = DataFlow(primary, env="test", replicas=[replica])
    define_models(db)
    try:
        yield db
    finally:
        db.close()


def test_the_tenancy_property_holds_with_reads_on_the_replica(tenant_db: DataFlow) -> None:
    tenancy_property.test_random_node_sequences_never_cross_a_tenant(tenant_db)
    assert tenant_db.replicas is not None
    [replica] = tenant_db.replicas.replicas
    assert replica.lag_checked > 0 and replica.failures == 0  # the replica was asked, and served


@pytest.fixture
def rls_db(pg_pair: Any, pg_urls: tuple[str, str]) -> Iterator[DataFlow]:
    """The tenancy models as an ordinary role (superusers bypass policies), with the policies installed."""
    primary, replica = pg_urls
    role = f"dftn_{secrets.token_hex(4)}"
    schema = DatabaseURL.parse(primary).options["schema"]
    asyncio.run(
        pg_execute(
            pg_pair.primary_url, f'CREATE ROLE "{role}" LOGIN', f'GRANT USAGE, CREATE ON SCHEMA "{schema}" TO "{role}"'
        )
    )
    # Until the role has replicated, connecting to the replica fails and takes it out (with backoff).
    wait_until(lambda: asyncio.run(pg_fetch(pg_pair.replica_url, "SELECT 1 FROM pg_roles WHERE rolname = $1", role)))

    def as_role(url: str) -> str:
        return url.replace("postgresql://postgres@", f"postgresql://{role}@")

    db = DataFlow(as_role(primary), env="test", replicas=[as_role(replica)], max_replica_lag=60)
    define_models(db)
    try:
        arun(lambda: install_row_level_security(db))
        # The tables and policies reach the replica a moment later; a read before that is an error, not a miss.
        policies = "SELECT count(*) FROM pg_policies WHERE schemaname = $1"
        installed = asyncio.run(pg_fetch(pg_pair.primary_url, policies, schema))[0][0]
        wait_until(lambda: asyncio.run(pg_fetch(pg_pair.replica_url, policies, schema))[0][0] == installed)
        yield db
    finally:
        db.close()
        asyncio.run(pg_execute(pg_pair.primary_url, f'DROP OWNED BY "{role}" CASCADE', f'DROP ROLE "{role}"'))


def test_row_level_security_settings_apply_on_replica_sessions(rls_db: DataFlow, pg_pair: Any) -> None:
    run(rls_db, "CustomerBulkCreateNode", {"data": customers(2, "a"), "strategy": "unnest"}, tenant="acme")
    run(rls_db, "CustomerBulkCreateNode", {"data": customers(3, "g"), "strategy": "unnest"}, tenant="globex")

    def replica_count(**options: Any) -> int:
        with caller_context():
            return int(run(rls_db, "CustomerCountNode", {}, replica=True, **options)["count"])

    wait_until(lambda: replica_count(context={"tenant_admin": "check"}) == 5)
    pg_pair.delay(30)  # from here on the replica differs from the primary: reads that match it ran there
    run(rls_db, "CustomerBulkCreateNode", {"data": customers(1, "late"), "strategy": "unnest"}, tenant="acme")
    assert replica_count(tenant="acme") == 2
    assert rls_db.replicas is not None and rls_db.replicas.replicas[0].failures == 0  # the replica served
    assert replica_count(tenant="globex") == 3
    with caller_context():  # the admin scope on a replica session: every tenant, as the replica has them
        rows = run(rls_db, "CustomerListNode", {}, replica=True, context={"tenant_admin": "check"})
    assert rows["count"] == 5
