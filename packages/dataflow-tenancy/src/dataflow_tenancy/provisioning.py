"""Provisioning and purging a tenant: its namespace, its tables, its rows.

Schema per tenant keeps a tenant's rows of ``"multi_tenant": "schema"``
models in its own PostgreSQL schema, or its own MySQL database (MySQL's
``CREATE SCHEMA`` is ``CREATE DATABASE``), named ``<prefix><tenant>``.
:func:`provision_tenant` creates the namespace and the tables of those
models in it, with the dialect's own DDL (the statements the core runs to
create missing tables); :func:`purge_tenant` drops it, and deletes the
tenant's rows of row-level models.

Names of namespaces come from :mod:`.namespaces`, which imports nothing above it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from dataflow.errors import ConfigError
from dataflow.events import emit
from dataflow.schema import ModelSchema, creation_order
from dataflow.session import Session

from .context import check_tenant
from .events import TenantAdminAccess
from .namespaces import base_namespace, namespace_name
from .schema import NAMESPACE_DIALECTS, ROW, SCHEMA, TENANT_FIELD, strategy
from .service import tenancy
from .sessions import require_session_settings

if TYPE_CHECKING:
    from dataflow import DataFlow


@asynccontextmanager
async def admin_session(db: DataFlow) -> AsyncIterator[Session]:
    """A session outside any run, for DDL and purges."""
    async with db.standalone_session({"tenant_admin": "dataflow-tenancy"}) as session:
        yield session


def _namespaced_models(db: DataFlow) -> list[ModelSchema]:
    return creation_order([s for s in db.schemas.values() if strategy(s) == SCHEMA])


def _check_dialect(db: DataFlow) -> None:
    if db.dialect.name not in NAMESPACE_DIALECTS:
        raise ConfigError(f"{db.label}: a schema per tenant needs PostgreSQL or MySQL, not {db.dialect.name}")


async def provision_tenant(db: DataFlow, tenant: str) -> str:
    """Create ``tenant``'s namespace and the tables of the schema-per-tenant models in it; return its name.

    Safe to run again: after new models are added, it creates only what is
    missing (``CREATE ... IF NOT EXISTS``).
    """
    _check_dialect(db)
    if db.dialect.name == "postgresql":
        require_session_settings(db, "provisioning a tenant's schema")
    name = namespace_name(db, tenancy(db).namespace_prefix, tenant)
    quoted = db.dialect.quote(name)
    async with admin_session(db) as session:
        if db.dialect.name == "postgresql":
            await session.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}", operation="provision")
            path = db.dialect.placeholder(1)
            await session.fetch(
                f"SELECT set_config('search_path', quote_ident({path}) || ', ' || "
                "(SELECT reset_val FROM pg_settings WHERE name = 'search_path'), false)",
                [name],
                operation="provision",
            )
            try:
                await _create_tables(db, session)
            finally:
                await session.execute("RESET search_path", operation="provision")
        else:
            await session.execute(
                f"CREATE DATABASE IF NOT EXISTS {quoted} CHARACTER SET utf8mb4", operation="provision"
            )
            await session.execute(f"USE {quoted}", operation="provision")
            try:
                await _create_tables(db, session)
            finally:
                await session.execute(f"USE {db.dialect.quote(base_namespace(db))}", operation="provision")
    return name


async def _create_tables(db: DataFlow, session: Session) -> None:
    for schema in _namespaced_models(db):
        for statement in db.dialect.create_table_sql(schema, db.schemas):
            await session.execute(statement, schema=schema, operation="provision")


async def purge_tenant(db: DataFlow, tenant: str) -> None:
    """Remove every row of ``tenant``: its namespace (schema per tenant) and its rows of row-level models.

    Irreversible; reported to the monitors as a ``TenantAdminAccess`` with
    action ``"purge"``.
    """
    service = tenancy(db)
    check_tenant(tenant)
    namespaced = _namespaced_models(db)
    row_level = creation_order([s for s in db.schemas.values() if strategy(s) == ROW])
    if db.monitors:
        emit(db.monitors, TenantAdminAccess(db.label, None, "purge", "purge_tenant", tenant))
    async with admin_session(db) as session, session.atomic():
        if db.dialect.name == "postgresql":
            # Row-level-security policies (if installed) let the admin setting through; local to this transaction.
            await session.fetch("SELECT set_config('dataflow.tenant_admin', 'on', true)", operation="purge")
        for schema in reversed(row_level):
            column = db.dialect.quote(TENANT_FIELD)
            await session.execute(
                f"DELETE FROM {db.dialect.quote(schema.table)} WHERE {column} = {db.dialect.placeholder(1)}",
                [tenant],
                schema=schema,
                operation="purge",
            )
    if namespaced:
        name = db.dialect.quote(namespace_name(db, service.namespace_prefix, tenant))
        async with admin_session(db) as session:
            if db.dialect.name == "postgresql":
                await session.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE", operation="purge")
            else:
                await session.execute(f"DROP DATABASE IF EXISTS {name}", operation="purge")


async def provisioned_tenants(db: DataFlow) -> list[str]:
    """The tenants whose namespace exists, sorted."""
    _check_dialect(db)
    prefix = tenancy(db).namespace_prefix
    first, second = db.dialect.placeholder(1), db.dialect.placeholder(2)
    if db.dialect.name == "postgresql":
        sql = f"SELECT nspname FROM pg_namespace WHERE starts_with(nspname, {first})"
        params = [prefix]
    else:
        sql = (
            "SELECT schema_name FROM information_schema.schemata "
            f"WHERE LEFT(schema_name, CHAR_LENGTH({first})) = {second}"
        )
        params = [prefix, prefix]
    async with admin_session(db) as session:
        rows = await session.fetch(sql, params, operation="provision")
    return sorted(str(row[0])[len(prefix) :] for row in rows)
