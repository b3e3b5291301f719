"""Defence in depth on PostgreSQL: row-level-security policies keyed to a session setting.

:func:`install_row_level_security` puts one policy on the table of every
row-level model::

    ALTER TABLE t ENABLE ROW LEVEL SECURITY; ALTER TABLE t FORCE ROW LEVEL SECURITY;
    CREATE POLICY dataflow_tenant ON t
      USING (tenant_id = current_setting('dataflow.tenant', true)
             OR current_setting('dataflow.tenant_admin', true) = 'on')
      WITH CHECK (<the same>)

and from then on every run of the instance sets ``dataflow.tenant`` to its
tenant when its session opens (and resets it before the connection goes
back to the pool); with ``pgbouncer=true``, in every transaction of the run
instead (``set_config(..., true)``, see :mod:`dataflow_tenancy.sessions`).
A connection without the setting sees and writes no row of those tables,
so raw SQL through the pool cannot cross tenants by accident: use
:func:`tenant_connection` for raw SQL on a tenant's rows.

Superusers and roles with BYPASSRLS are never subject to policies: connect
as an ordinary role for this to protect anything. The setting is a session
variable any SQL on the connection may change, so this guards against
mistakes (a query without its tenant condition), not against hostile SQL;
for that, give each trust level its own database role.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from dataflow.dialect import Connection
from dataflow.errors import ConfigError

from .context import check_tenant
from .provisioning import admin_session
from .schema import ROW, TENANT_FIELD, strategy
from .service import tenancy

if TYPE_CHECKING:
    from dataflow import DataFlow

POLICY = "dataflow_tenant"
TENANT_SETTING = "dataflow.tenant"
ADMIN_SETTING = "dataflow.tenant_admin"


def _check_postgres(db: DataFlow) -> None:
    if db.dialect.name != "postgresql":
        raise ConfigError(f"{db.label}: row-level security policies need PostgreSQL, not {db.dialect.name}")


def policy_statements(db: DataFlow, table: str) -> list[str]:
    """The statements that (re)create the tenant policy on ``table``."""
    q = db.dialect.quote
    condition = (
        f"{q(TENANT_FIELD)} = current_setting('{TENANT_SETTING}', true) "
        f"OR current_setting('{ADMIN_SETTING}', true) = 'on'"
    )
    return [
        f"ALTER TABLE {q(table)} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {q(table)} FORCE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS {q(POLICY)} ON {q(table)}",
        f"CREATE POLICY {q(POLICY)} ON {q(table)} USING ({condition}) WITH CHECK ({condition})",
    ]


async def install_row_level_security(db: DataFlow) -> list[str]:
    """Create the tables if needed, put the tenant policy on every row-level model's table; return the tables.

    Also makes every later run of ``db`` set ``dataflow.tenant`` for its
    session. Safe to run again (the policies are replaced).
    """
    _check_postgres(db)
    service = tenancy(db)
    await db.create_tables_async()
    tables = [s.table for s in db.schemas.values() if strategy(s) == ROW]
    async with admin_session(db) as session, session.atomic():
        for table in tables:
            for statement in policy_statements(db, table):
                await session.execute(statement, operation="row_level_security")
    service.session_setup().rls = True
    return tables


async def remove_row_level_security(db: DataFlow) -> None:
    """Drop the tenant policies and turn row-level security off on the row-level models' tables."""
    _check_postgres(db)
    q = db.dialect.quote
    async with admin_session(db) as session, session.atomic():
        for schema in db.schemas.values():
            if strategy(schema) == ROW:
                await session.execute(f"DROP POLICY IF EXISTS {q(POLICY)} ON {q(schema.table)}")
                await session.execute(f"ALTER TABLE {q(schema.table)} NO FORCE ROW LEVEL SECURITY")
                await session.execute(f"ALTER TABLE {q(schema.table)} DISABLE ROW LEVEL SECURITY")
    setup = tenancy(db).sessions
    if setup is not None:
        setup.rls = False


@asynccontextmanager
async def tenant_connection(db: DataFlow, tenant: str) -> AsyncIterator[Connection]:
    """A pooled connection inside a transaction whose ``dataflow.tenant`` is ``tenant`` (``SET LOCAL``).

    For raw SQL under the policies: the transaction commits when the block
    ends and rolls back when it raises; the setting ends with it.
    """
    _check_postgres(db)
    check_tenant(tenant)
    pool = await db.pool()
    connection = await pool.acquire()
    discard = False
    try:
        await connection.begin()
        await connection.fetch(f"SELECT set_config('{TENANT_SETTING}', {db.dialect.placeholder(1)}, true)", [tenant])
        try:
            yield connection
        except BaseException:
            await connection.rollback()
            raise
        await connection.commit()
    except BaseException:
        discard = connection.in_transaction
        raise
    finally:
        await pool.release(connection, discard=discard)
