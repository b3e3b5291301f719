"""Row-level-security tenancy through PgBouncer in transaction mode: the tenant is set in each transaction.

With ``pgbouncer=true`` a session setting would stay on whichever server
session it landed on, so dataflow-tenancy makes ``dataflow.tenant`` (and
``dataflow.tenant_admin``) transaction-local instead: every transaction of a
run opens with ``set_config(..., true)``, and a statement outside one runs in
a transaction of its own. The policies bind ordinary roles only, so these
tests connect through PgBouncer as the fixtures' ``dataflow_app`` role.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import tempfile
from pathlib import Path

import asyncpg
import pytest
from replica_sql import pg_execute

from dataflow import DataFlow, DataFlowError, LocalRuntime, WorkflowBuilder
from dataflow.events import StatementExecuted
from dataflow.testing.replication import PgBouncer, PostgresPair, start_pgbouncer

sys.path.insert(0, str(Path(__file__).parents[2] / "dataflow-tenancy" / "tests"))
from tenancy_helpers import arun, customers, define_models, everything, run

from dataflow_tenancy import install_row_level_security
from dataflow_txn import DistributedTransaction

SETTING = "SELECT coalesce(current_setting('dataflow.tenant', true), '')"
CUSTOMERS = 'SELECT count(*) FROM "customer"'


def open_rls(pair: PostgresPair, bouncer: PgBouncer, database: str, role: str) -> DataFlow:
    """The tenancy models as ``role`` through ``bouncer``, policies installed, two tenants' rows written."""
    base = pair.primary_url.rsplit("/", 1)[0]
    asyncio.run(pg_execute(f"{base}/{database}", f'GRANT USAGE, CREATE ON SCHEMA public TO "{role}"'))
    db = DataFlow(bouncer.url(database, "pgbouncer=true", user=role), env="test", pool_size=2)
    define_models(db)
    arun(lambda: install_row_level_security(db))
    # The default bulk strategy (COPY, refused under policies) falls back to unnest, in a transaction.
    assert run(db, "CustomerBulkCreateNode", {"data": customers(2, "a")}, tenant="acme") == {"inserted": 2}
    assert run(db, "CustomerBulkCreateNode", {"data": customers(3, "g")}, tenant="globex") == {"inserted": 3}
    return db


def test_row_level_security_through_pgbouncer_keeps_each_tenant_to_its_rows(
    pg_pair: PostgresPair, pgbouncer: PgBouncer, bouncer_database: str, app_role: str
) -> None:
    db = open_rls(pg_pair, pgbouncer, bouncer_database, app_role)
    try:
        assert run(db, "CustomerCountNode", {}, tenant="acme") == {"count": 2}
        assert run(db, "CustomerCountNode", {}, tenant="globex", transaction=True) == {"count": 3}
        # Raw SQL has no tenant condition: the policy, under its transaction's setting, is what narrows it.
        as_acme = db.express_sync.using(tenant="acme")
        assert [row["tenant_id"] for row in as_acme.sql('SELECT "tenant_id" FROM "customer"')] == ["acme", "acme"]
        assert db.express_sync.using(tenant="globex").sql(SETTING, result="value") == "globex"
        with pytest.raises(DataFlowError, match="row-level security"):
            as_acme.sql("INSERT INTO \"customer\" (name, email, score, tenant_id) VALUES ('x', 'x@x', 0, 'globex')")
        assert len(everything(db, "Customer")) == 5  # the admin scope's setting, per transaction too
    finally:
        db.close()


def test_the_tenant_setting_never_reaches_the_next_client_on_the_server_session(
    pg_pair: PostgresPair, bouncer_database: str, app_role: str
) -> None:
    # One server session for every client: each of the other client's statements runs where the runs just ran.
    bouncer = start_pgbouncer(
        Path(tempfile.mkdtemp(prefix="dataflow_pgbouncer_one_")),
        pg_pair.primary_port,
        pool_size=1,
        users=("postgres", app_role),
    )
    try:
        db = open_rls(pg_pair, bouncer, bouncer_database, app_role)

        async def scenario() -> tuple[str, list[str], list[tuple[int, str, int]]]:
            other = await asyncpg.connect(bouncer.url(bouncer_database, user=app_role), statement_cache_size=0)
            try:
                session = await db.open_session(context={"tenant": "acme"})
                try:
                    # Between the session's transactions the other client runs on the same server session:
                    # it sees no tenant, and a stray session setting of its own does not change acme's rows.
                    between = await other.fetchval(SETTING)
                    await other.execute("SELECT set_config('dataflow.tenant', 'globex', false)")
                    tenants = [row[0] for row in await session.fetch('SELECT "tenant_id" FROM "customer"')]
                finally:
                    await db.close_session(session)
                await other.execute("RESET dataflow.tenant")
                seen = []
                for tenant in ("acme", "globex", "acme"):
                    counted = (await db.express.using(tenant=tenant).count("Customer"))["count"]
                    seen.append((counted, await other.fetchval(SETTING), await other.fetchval(CUSTOMERS)))
                return between, tenants, seen
            finally:
                await other.close()

        try:
            assert arun(scenario) == ("", ["acme", "acme"], [(2, "", 0), (3, "", 0), (2, "", 0)])
        finally:
            db.close()
    finally:
        bouncer.close()


def test_a_tenant_read_through_pgbouncer_costs_a_transaction_and_one_setting_statement(
    pg_pair: PostgresPair, pgbouncer: PgBouncer, bouncer_database: str, app_role: str
) -> None:
    db = open_rls(pg_pair, pgbouncer, bouncer_database, app_role)
    seen: list[str] = []

    class Recorder:
        def handle(self, event: object) -> None:
            if isinstance(event, StatementExecuted):
                seen.append(event.operation or event.sql)

    try:
        db.monitors.append(Recorder())
        run(db, "CustomerCountNode", {}, tenant="acme")
        alone, seen[:] = list(seen), []
        workflow = WorkflowBuilder()
        workflow.add_node(db.nodes["CustomerCountNode"], "first", {})
        workflow.add_node(db.nodes["CustomerCountNode"], "second", {})
        LocalRuntime().execute(workflow.build(), tenant="acme", transaction=True)
        assert alone == ["BEGIN", "transaction_setup", "count", "COMMIT"]  # a statement outside a transaction
        assert seen == ["BEGIN", "transaction_setup", "count", "count", "COMMIT"]  # one setting per transaction
    finally:
        db.close()


def test_two_phase_commit_of_a_tenant_through_pgbouncer_prepares_and_commits_under_its_setting(
    pg_pair: PostgresPair, pgbouncer: PgBouncer, bouncer_database: str, app_role: str
) -> None:
    db = open_rls(pg_pair, pgbouncer, bouncer_database, app_role)
    log = DataFlow(pgbouncer.url(bouncer_database, "pgbouncer=true"), env="test")
    log.model(type("Note", (), {"__annotations__": {"text": str}, "__dataflow__": {"table": "txn_note"}}))
    try:
        txn = DistributedTransaction(f"t{secrets.token_hex(4)}", log=log, pattern="2pc")
        workflow = WorkflowBuilder()
        workflow.add_node(db.nodes["CustomerCreateNode"], "create", {"name": "p", "email": "p@2pc"})
        workflow.add_node(db.nodes["CustomerCountNode"], "count", {})
        workflow.add_connection("create", "id", "count", "filter.id")
        txn.add_participant("customers", db, workflow)
        note = WorkflowBuilder()
        note.add_node(log.nodes["NoteCreateNode"], "note", {"text": "with the customer"})
        txn.add_participant("notes", log, note)
        outcome = txn.execute(context={"tenant": "acme"})
        assert outcome.pattern == "2pc"
        assert outcome.results["customers"]["count"] == {"count": 1}  # its own row, seen under acme's setting
        assert run(db, "CustomerCountNode", {}, tenant="acme") == {"count": 3}
        assert [r["tenant_id"] for r in everything(db, "Customer")].count("acme") == 3
    finally:
        db.close()
        log.close()
