"""The MySQL / MariaDB dialect: SQL flavour, types, pool and errors.

The server is detected on the first connection of every pool, and
``capabilities`` refined from it: MariaDB 10.5+ has INSERT/DELETE ...
RETURNING (not UPDATE), MySQL 8 has none; MySQL 8.0.19+ upserts name the new
row with an alias where MariaDB uses ``VALUES(col)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

from dataflow.bulk.strategy import BulkStrategy
from dataflow.config import Config
from dataflow.dialect import Codec, Dialect, Pool
from dataflow.errors import ConfigError, ConnectionError, DataFlowError
from dataflow.fields import FieldSchema
from dataflow.schema import ModelSchema
from dataflow.url import DatabaseURL

from . import ddl, types
from .bulk import STRATEGIES
from .errors import error_message, translate_error
from .options import ConnectOptions, TLSNotNegotiated, tls_failure
from .replication import MariaDBReplication
from .server import DETECT_SQL, NEW_ROW, ServerInfo, capabilities

if TYPE_CHECKING:
    # aiomysql is imported when the first connection opens, not when the plugin registers the dialect.
    from .connection import MySQLConnection
    from .introspect import MySQLIntrospector
    from .schema_editor import MySQLSchemaEditor

UNLIMITED = "18446744073709551615"
"""MySQL's way to say "no LIMIT" when only OFFSET is wanted."""
DRIVERS = (None, "aiomysql", "pymysql")
"""``mysql+<driver>://`` suffixes accepted (SQLAlchemy-style URLs name one; the connection is aiomysql's anyway)."""


class MySQLDialect(Dialect):
    """MySQL 8 and MariaDB 10.5+ through aiomysql."""

    name: ClassVar[str] = "mysql"
    schemes: ClassVar[tuple[str, ...]] = ("mysql", "mariadb")
    replication = MariaDBReplication()

    def __init__(self, url: DatabaseURL, config: Config) -> None:
        super().__init__(url, config)
        if url.driver not in DRIVERS:
            raise ConfigError(
                f"{url.scheme}+{url.driver}:// is not supported: dataflow-mysql talks to the server through "
                f"aiomysql; write {url.scheme}:// or {url.scheme}+aiomysql://"
            )
        self.options = ConnectOptions.from_url(url, config)
        self.server: ServerInfo | None = None
        # Until a connection tells otherwise, promise only what every supported server does.
        self.capabilities = capabilities()

    # -- SQL text -----------------------------------------------------------

    def quote(self, identifier: str) -> str:
        return "`" + identifier.replace("`", "``") + "`"

    def placeholder(self, index: int) -> str:
        return "%s"

    def raw_sql_text(self, text: str) -> str:
        # Parameters are formatted into the statement with % (literals.render): a literal % must be %%.
        return text.replace("%", "%%")

    def column_type(self, field: FieldSchema) -> str:
        return types.column_type(field, keyed=field.primary_key)

    def json_text_sql(self, value: str, field: FieldSchema) -> str | None:
        return types.json_text(field, value)

    def auto_increment_column(self, field: FieldSchema) -> str:
        return f"{self.quote(field.name)} BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY"

    @property
    def collation(self) -> str:
        return self.server.collation if self.server is not None else "utf8mb4_bin"

    def check_schema(self, schema: ModelSchema, tables: Mapping[str, ModelSchema]) -> None:
        """Raise ``ConfigError`` for a model MySQL cannot store as declared (a key on unbounded text, ...)."""
        ddl.check_schema(schema, tables)

    def live_unique(self, schema: ModelSchema) -> bool:
        # No partial indexes: unique keys of soft-delete models end with a generated column instead (ddl.py).
        return schema.soft_delete

    def insert_default_values(self, table: str) -> str:
        return f"INSERT INTO {table} () VALUES ()"

    def create_table_sql(self, schema: ModelSchema, tables: Mapping[str, ModelSchema]) -> list[str]:
        return ddl.create_table_sql(
            schema,
            tables,
            quote=self.quote,
            namer=self.constraint_name,
            collation=self.collation,
            auto_increment=self.auto_increment_column,
        )

    def limit_clause(self, limit: str | None, offset: str | None) -> str:
        if limit is None and offset is not None:
            return f" LIMIT {UNLIMITED} OFFSET {offset}"
        return super().limit_clause(limit, offset)

    def like(self, column: str, placeholder: str, *, case_insensitive: bool) -> str:
        """Only ``%`` and ``_`` are wildcards, as on PostgreSQL and SQLite: a backslash is an ordinary character.

        MySQL's LIKE escapes with a backslash and ignores ``ESCAPE ''``, so the
        pattern's backslashes are doubled on the server. The table's binary
        collation makes LIKE case-sensitive; ``$ilike`` compares lower case.
        """
        pattern = f"REPLACE({placeholder}, '\\\\', '\\\\\\\\')"
        if case_insensitive:
            return f"LOWER({column}) LIKE LOWER({pattern})"
        return f"{column} LIKE {pattern}"

    @property
    def row_alias(self) -> bool:
        return self.server is not None and self.server.row_alias

    def new_value(self, column: str) -> str:
        """The value the upserted row brought for ``column``, in ON DUPLICATE KEY UPDATE."""
        if self.row_alias:
            return f"{self.quote(NEW_ROW)}.{self.quote(column)}"
        return f"VALUES({self.quote(column)})"

    def list_elements(self, field: FieldSchema, column: str, placeholder: str, *, every: bool) -> str | None:
        """Lists are JSON: ``JSON_CONTAINS``, and ``JSON_OVERLAPS`` where the server has it."""
        if every:
            return f"JSON_CONTAINS({column}, {placeholder})"
        if self.server is not None and not self.server.json_overlaps:
            return None
        return f"JSON_OVERLAPS({column}, {placeholder})"

    def upsert_suffix(
        self, conflict_on: Sequence[str], update_columns: Sequence[str], increment_columns: Sequence[str] = ()
    ) -> str:
        """`` [AS new] ON DUPLICATE KEY UPDATE ...``; with nothing to update, a no-op keeps the row."""
        q = self.quote
        alias = f" AS {q(NEW_ROW)}" if self.row_alias else ""
        if not update_columns:
            key = q(conflict_on[0])
            return f"{alias} ON DUPLICATE KEY UPDATE {key} = {key}"
        assignments = [f"{q(c)} = {self.new_value(c)}" for c in update_columns]
        assignments += [f"{q(c)} = {q(c)} + 1" for c in increment_columns]
        return f"{alias} ON DUPLICATE KEY UPDATE {', '.join(assignments)}"

    def upsert_sql(
        self,
        table: str,
        columns: Sequence[str],
        placeholders: Sequence[str],
        conflict_on: Sequence[str],
        update_columns: Sequence[str],
        increment_columns: Sequence[str] = (),
        conflict_where: str = "",
    ) -> str:
        """MySQL picks the conflicting unique key itself: ``conflict_on`` only names the no-op column
        (and there is no conflict target for ``conflict_where`` to qualify)."""
        q = self.quote
        return (
            f"INSERT INTO {q(table)} ({', '.join(q(c) for c in columns)}) VALUES ({', '.join(placeholders)})"
            + self.upsert_suffix(conflict_on, update_columns, increment_columns)
        )

    # -- values ---------------------------------------------------------------

    def encoder(self, field: FieldSchema) -> Codec | None:
        return types.encoder(field)

    def decoder(self, field: FieldSchema) -> Codec | None:
        return types.decoder(field)

    # -- connections ------------------------------------------------------------

    async def connect(self) -> MySQLConnection:
        """A new connection, set up for DataFlow; a failure is a ``ConnectionError`` without the password."""
        from .connection import open_connection  # noqa: PLC0415 - imports the driver, only when a connection is opened

        options = self.options
        try:
            return await open_connection(
                host=options.host,
                port=options.port,
                user=options.user,
                password=options.password,
                database=options.database,
                connect_timeout=options.connect_timeout,
                local_infile=options.local_infile,
                ssl=options.ssl,
                ssl_required=options.ssl_required,
                server=self.server,
            )
        except TLSNotNegotiated as exc:
            raise ConnectionError(f"cannot connect to {self.url}: {exc}", field="ssl") from None
        except Exception as exc:
            handshake = tls_failure(exc)
            if handshake is not None:
                # aiomysql reports a failed handshake as "Can't connect": say what failed and what to change.
                raise ConnectionError(
                    f"cannot connect to {self.url}: the TLS handshake failed ({handshake}); name the CA that "
                    "signed the server's certificate with ssl_ca, or use ssl_verify=false for a test server",
                    field="ssl",
                ) from exc
            raise ConnectionError(f"cannot connect to {self.url}: {error_message(exc)}") from exc

    async def create_pool(self) -> Pool:
        from .pool import MySQLPool  # noqa: PLC0415 - imports the driver, only when a pool is created

        first = await self.connect()
        try:
            rows = await first.fetch(DETECT_SQL)
        except Exception as exc:
            first.terminate()
            raise self.translate_error(exc, None) from exc
        self.server = first.server = ServerInfo.from_row(rows[0])
        self.capabilities = self.server.capabilities()
        return MySQLPool(
            self.connect,
            size=self.options.pool_size,
            timeout=self.options.pool_timeout,
            label=str(self.url),
            first=first,
        )

    def translate_error(self, error: BaseException, schema: ModelSchema | None) -> DataFlowError:
        return translate_error(error, schema, self.constraint_name, str(self.url))

    # -- bulk writes ------------------------------------------------------------

    @classmethod
    def bulk_strategies(cls) -> Sequence[BulkStrategy]:
        return STRATEGIES

    # -- migrations -------------------------------------------------------------

    def introspector(self) -> MySQLIntrospector:
        """Reads the live schema of the URL's database from information_schema."""
        from .introspect import MySQLIntrospector  # noqa: PLC0415 - migration code loads only when a migration runs

        return MySQLIntrospector(self)

    def schema_editor(self, tables: Mapping[str, ModelSchema]) -> MySQLSchemaEditor:
        """ALTER TABLE statements, one per step, and the ``GET_LOCK`` migration lock."""
        from .schema_editor import MySQLSchemaEditor  # noqa: PLC0415 - migration code loads only when a migration runs

        return MySQLSchemaEditor(self, tables)
