"""The package's own tables: ``dataflow_audit`` (the entries) and ``dataflow_audit_head`` (each chain's checkpoint).

They are declared like models, so each dialect's own DDL, quoting and codecs
apply, but are not registered with ``db.model``: they get no nodes, and
schema extensions (a tenant column) never touch them. Values that are hashed
are stored as text or integers (a timestamp in microseconds), so that every
backend gives back exactly what was hashed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from dataflow.errors import DataFlowError
from dataflow.fields import MaxLength
from dataflow.schema import ModelSchema, schema_from_class

if TYPE_CHECKING:
    from dataflow.dialect import Dialect
    from dataflow.session import Session


class _AuditEntry:
    chain: Annotated[str, MaxLength(200)]
    seq: int
    model: Annotated[str, MaxLength(100)]
    record_key: Annotated[str, MaxLength(200)]
    operation: Annotated[str, MaxLength(16)]
    changes: str
    at: int
    prev_hash: Annotated[str, MaxLength(64)]
    hash: Annotated[str, MaxLength(64)]
    actor: Annotated[str | None, MaxLength(200)] = None
    tenant: Annotated[str | None, MaxLength(100)] = None
    run_id: Annotated[str | None, MaxLength(64)] = None
    node_id: Annotated[str | None, MaxLength(200)] = None
    key_low: int | None = None
    key_high: int | None = None
    __dataflow__ = {
        "table": "dataflow_audit",
        "unique": [("chain", "seq")],
        "indexes": [("model", "record_key")],
    }
    # (model, key_low) is made by create_tables: partial where the dialect can say so (see range_index_sql)


class _AuditHead:
    chain: Annotated[str, MaxLength(200)]
    seq: int = 0
    hash: Annotated[str, MaxLength(64)] = ""
    __dataflow__ = {"table": "dataflow_audit_head", "primary_key": "chain"}


ENTRIES: ModelSchema = schema_from_class(_AuditEntry, {})
RANGE = ("key_low", "key_high")
"""The keys a bulk entry covers, first and last (see :mod:`.bulk`); null on an entry of one record."""
HEADS: ModelSchema = schema_from_class(_AuditHead, {})


class _AuditKey:
    subject: Annotated[str, MaxLength(300)]
    wrapped: str
    created_at: int
    tenant: Annotated[str | None, MaxLength(100)] = None
    __dataflow__ = {"table": "dataflow_audit_key", "primary_key": "subject"}


class _Erasure:
    subject: Annotated[str, MaxLength(300)]
    mode: Annotated[str, MaxLength(16)]
    at: int
    records: int
    actor: Annotated[str | None, MaxLength(200)] = None
    tenant: Annotated[str | None, MaxLength(100)] = None
    __dataflow__ = {"table": "dataflow_gdpr_erasure", "unique": [("subject",)]}


KEYS: ModelSchema = schema_from_class(_AuditKey, {})
ERASURES: ModelSchema = schema_from_class(_Erasure, {})
TABLES = (ENTRIES, HEADS, KEYS, ERASURES)


async def create_tables(session: Session) -> None:
    """Create the tables that are missing; run it outside a transaction (MySQL commits on DDL)."""
    await add_range_columns(session)
    for schema in TABLES:
        statements = session.dialect.create_table_sql(schema, {schema.name: schema})
        if schema is ENTRIES:
            statements = [*statements, range_index_sql(session.dialect)]
        for attempt in range(2):
            try:
                for statement in statements:
                    await session.execute(statement, operation="create_table")
                break
            except DataFlowError:
                # Two sessions creating the same table at once: PostgreSQL may refuse the second.
                if attempt or session.in_transaction:
                    raise
    # A bulk entry's changes hold every row's values (megabytes): the server's default compression dominates.
    for statement in session.dialect.fast_compression_sql(ENTRIES.table, "changes"):
        await session.execute(statement, operation="create_table")


def range_index_sql(dialect: Dialect) -> str:
    """The index that finds the bulk entries whose range may hold a key: ``(model, key_low)``.

    Only bulk entries have a ``key_low``: where the dialect has partial indexes the
    index holds those alone, so that an entry of one record (the usual write) updates
    one index fewer. A trail made before keeps its full index of the same name.
    """
    q = dialect.quote
    columns = ("model", "key_low")
    name = q(dialect.constraint_name(ENTRIES, "ix", columns))
    sql = f"CREATE INDEX IF NOT EXISTS {name} ON {q(ENTRIES.table)} ({', '.join(map(q, columns))})"
    return sql + f" WHERE {q('key_low')} IS NOT NULL" if dialect.capabilities.partial_indexes else sql


async def add_range_columns(session: Session) -> None:
    """Add ``key_low`` and ``key_high`` to a ``dataflow_audit`` made before bulk entries (their index follows)."""
    dialect = session.dialect
    q = dialect.quote
    table = q(ENTRIES.table)
    try:
        # Qualified: SQLite reads an unknown bare "name" as a string, not an error.
        await session.fetch(f"SELECT {table}.{q('key_low')} FROM {table} WHERE 1 = 0", operation="create_table")
        return
    except DataFlowError:
        pass  # no such column, or no such table yet (then it is made whole below)
    for name in RANGE:
        column = f"{q(name)} {dialect.column_type(ENTRIES.by_name[name])}"
        try:
            await session.execute(f"ALTER TABLE {table} ADD COLUMN {column}", operation="create_table")
        except DataFlowError:
            return  # no table: create_tables makes it with the columns
