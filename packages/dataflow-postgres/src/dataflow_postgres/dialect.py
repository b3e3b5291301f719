"""The PostgreSQL dialect on asyncpg.

``postgresql://user:password@host:5432/db?pool_size=20&schema=app``; the
``postgres://`` scheme and the ``+asyncpg`` driver suffix are accepted too.
asyncpg is imported when the first pool is created, not when the plugin
loads.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs

from dataflow.bulk.strategy import BulkStrategy
from dataflow.config import Config
from dataflow.dialect import Capabilities, Codec, Dialect
from dataflow.errors import ConfigError, ConnectionError, DataFlowError
from dataflow.fields import FieldSchema
from dataflow.schema import ModelSchema
from dataflow.url import DatabaseURL

from . import types
from .bulk import STRATEGIES
from .connection import PostgresConnection
from .introspect import PostgresIntrospector
from .options import PostgresOptions, parse_options
from .pool import PostgresPool
from .replication import PostgresReplication
from .schema_editor import PostgresSchemaEditor

log = logging.getLogger("dataflow.postgres")

DRIVERS = (None, "asyncpg")


class PostgresDialect(Dialect):
    """PostgreSQL 12 and later, through asyncpg."""

    name: ClassVar[str] = "postgresql"
    schemes: ClassVar[tuple[str, ...]] = ("postgresql", "postgres")
    replication = PostgresReplication()

    def __init__(self, url: DatabaseURL, config: Config) -> None:
        super().__init__(url, config)
        if url.driver not in DRIVERS:
            raise ConfigError(f"postgresql URLs use the asyncpg driver; '+{url.driver}' is not supported", field="url")
        self.options: PostgresOptions = parse_options(url.options, config)
        self.rls_tables: set[str] = set()
        """Tables where the server refused COPY FROM (row-level security): BulkCreate uses unnest there."""
        self.capabilities = Capabilities(
            returning=frozenset({"insert", "update", "delete"}),
            upsert=True,
            copy=True,
            savepoints=True,
            writable_cte=True,
            two_phase=True,
            transactional_ddl=True,
            ilike=True,
            max_parameters=32767,
            max_identifier_length=63,
            partial_indexes=True,
            session_settings=not self.options.pgbouncer,
        )
        self.label = str(url)
        self.pooler_seen = False
        """Did a first connection find itself behind a pooler (its announced backend pid is not the server's)?"""

    # -- SQL text -------------------------------------------------------------

    def placeholder(self, index: int) -> str:
        return f"${index}"

    def column_type(self, field: FieldSchema) -> str:
        return types.column_type(field, self.quote(field.name))

    def fast_compression_sql(self, table: str, column: str) -> list[str]:
        """lz4 instead of pglz, where the server has it (PostgreSQL 14+ built with lz4), set once.

        A 4.5 MB text takes pglz about 50 ms longer than lz4 to store (measured:
        80-100 ms against 20-40 ms), for 1.25 MB stored instead of 1 MB. The
        ALTER runs only when the column is not lz4 yet, so that a restart takes
        no lock on a table in use; values stored before keep their compression.
        """
        q = self.quote
        relation = types.sql_literal(q(table))
        name = types.sql_literal(column)
        return [
            "DO $dataflow$ BEGIN "
            "IF EXISTS (SELECT FROM pg_settings "
            "WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)) THEN "
            # Nested: attcompression exists from PostgreSQL 14 on, as lz4 does; the inner test runs only then.
            f"IF (SELECT attcompression FROM pg_attribute WHERE attrelid = {relation}::regclass "
            f"AND attname = {name}) IS DISTINCT FROM 'l' THEN "
            f"ALTER TABLE {q(table)} ALTER COLUMN {q(column)} SET COMPRESSION lz4; "
            "END IF; END IF; END $dataflow$"
        ]

    def json_text_sql(self, value: str, field: FieldSchema) -> str | None:
        return types.json_text(field, value)

    def sha256_hex_sql(self, text: str, tail: str) -> str | None:
        return f"encode(sha256(convert_to({text}, 'UTF8') || CAST({tail} AS BYTEA)), 'hex')"

    def like(self, column: str, placeholder: str, *, case_insensitive: bool) -> str:
        # PostgreSQL's LIKE treats backslash as an escape by default; ESCAPE ''
        # turns that off, so patterns mean the same as on SQLite: only % and _ are special.
        operator = "ILIKE" if case_insensitive else "LIKE"
        return f"{column} {operator} {placeholder} ESCAPE ''"

    def list_elements(self, field: FieldSchema, column: str, placeholder: str, *, every: bool) -> str:
        """Native arrays: ``@>`` and ``&&``; JSONB lists: containment of the list, or of any one element."""
        if types.is_array(field):
            typed = f"{placeholder}::{types.plain_type(field)}"
            return f"{column} {'@>' if every else '&&'} {typed}"
        if every:
            return f"{column} @> {placeholder}::jsonb"
        elements = f"jsonb_array_elements({placeholder}::jsonb) AS w(v)"
        return f"EXISTS (SELECT 1 FROM {elements} WHERE {column} @> jsonb_build_array(w.v))"

    def array_type(self, field: FieldSchema) -> str:
        """The element type of ``field`` for typed array parameters (``$1::int8[]``)."""
        return types.array_type(field)

    # -- values ---------------------------------------------------------------

    def encoder(self, field: FieldSchema) -> Codec | None:
        return types.encoder(field)

    def decoder(self, field: FieldSchema) -> Codec | None:
        return types.decoder(field)

    # -- connections ------------------------------------------------------------

    def connect_arguments(self) -> dict[str, Any]:
        """Keyword arguments of ``asyncpg.connect`` (the password included: never log them)."""
        options = self.options
        settings = {"application_name": options.application_name}
        if options.schema is not None:
            settings["search_path"] = self.quote(options.schema)
        return {
            "host": self.url.host,
            "port": self.url.port,
            "user": self.url.username,
            "password": self.url.password,
            "database": self.url.database,
            "timeout": options.connect_timeout,
            "command_timeout": options.command_timeout,
            "statement_cache_size": options.statement_cache_size,
            "ssl": options.sslmode,
            "server_settings": settings,
        }

    async def connect(self) -> PostgresConnection:
        """A new connection; failures are ``ConnectionError`` naming the URL without its password."""
        import asyncpg  # noqa: PLC0415 - the driver, imported only when a pool is created

        try:
            raw = await asyncpg.connect(**self.connect_arguments())
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConnectionError(f"cannot connect to {self.label}: {reason}") from exc
        return PostgresConnection(raw)

    async def create_pool(self) -> PostgresPool:
        first = await self.connect()
        try:
            await self._refine_capabilities(first)
        except BaseException:
            first.raw.terminate()
            raise
        return PostgresPool(
            self.connect, size=self.options.pool_size, timeout=self.options.pool_timeout, label=self.label, first=first
        )

    async def _refine_capabilities(self, connection: PostgresConnection) -> None:
        # Two-phase commit needs max_prepared_transactions > 0 on the server. A search_path naming a
        # schema that does not exist is accepted by the server, and only fails (3F000) at the first CREATE.
        rows = await connection.raw.fetch(
            "SELECT current_setting('max_prepared_transactions')::int, "
            "$1::text IS NULL OR EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1::text), pg_backend_pid()",
            self.options.schema,
        )
        self._note_pooler(int(rows[0][2]), connection.raw.get_server_pid())
        if not rows[0][1]:
            schema = self.options.schema
            raise ConfigError(
                f"postgresql URL option schema={schema!r}: database {self.url.database!r} has no schema "
                f"{schema!r}; create it (CREATE SCHEMA {self.quote(str(schema))}) or correct the name",
                field="schema",
            )
        two_phase = int(rows[0][0]) > 0
        if two_phase != self.capabilities.two_phase:
            self.capabilities = attrs.evolve(self.capabilities, two_phase=two_phase)

    def _note_pooler(self, backend_pid: int, announced_pid: int) -> None:
        """A pooler between us and the server: warn (once) when ``pgbouncer=true`` was not said.

        The server announces its backend's pid when a connection starts; a
        pooler (PgBouncer) announces a cancel key of its own instead, so the pid
        the server reports for the session differs. Session pooling keeps
        everything working, transaction pooling breaks the statement cache and
        session settings, and the two cannot be told apart from here: a warning,
        not an error.
        """
        if backend_pid == announced_pid or self.pooler_seen:
            return
        self.pooler_seen = True
        if not self.options.pgbouncer:
            log.warning(
                "%s: connections go through a pooler (the server's backend pid is not the one the connection "
                "was given); if it pools transactions (PgBouncer pool_mode=transaction), add pgbouncer=true "
                "to the URL: its cached prepared statements and session settings would meet other server sessions",
                self.label,
            )

    # -- migrations -------------------------------------------------------------

    @classmethod
    def bulk_strategies(cls) -> Sequence[BulkStrategy]:
        return STRATEGIES

    def introspector(self) -> PostgresIntrospector:
        return PostgresIntrospector()

    def schema_editor(self, tables: Mapping[str, ModelSchema]) -> PostgresSchemaEditor:
        return PostgresSchemaEditor(self, tables)

    def translate_error(self, error: BaseException, schema: ModelSchema | None) -> DataFlowError:
        from .errors import translate_error  # noqa: PLC0415 - errors imports the driver; only a failure needs it

        return translate_error(error, schema, self.label, self.constraint_fields)

    def constraint_fields(self, schema: ModelSchema, constraint: str) -> tuple[str, ...]:
        """The columns of a constraint DataFlow named (or PostgreSQL named by default)."""
        if constraint == f"{schema.table}_pkey":
            return (schema.primary_key,)
        for kind, groups in (("uq", schema.unique), ("ix", schema.indexes)):
            for group in groups:
                if self.constraint_name(schema, kind, group) == constraint:
                    return tuple(group)
        for field in schema.fields:
            if field.references is not None and self.constraint_name(schema, "fk", (field.name,)) == constraint:
                return (field.name,)
            # PostgreSQL names an unnamed column CHECK "<table>_<column>_check" (shortened to 63 bytes).
            if constraint == types.check_name(schema.table, field.name):
                return (field.name,)
        return ()

    async def server_version(self, connection: Any) -> str:
        """``"15.20"``: the server's version number, without the build description."""
        rows = await connection.fetch("SELECT current_setting('server_version')")
        return str(rows[0][0]).split()[0]
