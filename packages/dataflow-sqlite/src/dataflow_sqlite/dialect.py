"""The SQLite dialect: the zero-configuration default.

Files open in WAL mode with foreign keys on and a busy timeout. ``:memory:``
is one database per ``DataFlow`` instance: a named shared-cache database kept
alive by an anchor connection, used through a pool of one connection.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from dataflow.bulk.strategy import BulkStrategy
from dataflow.config import Config
from dataflow.dialect import Capabilities, Codec, Dialect
from dataflow.enum_checks import enum_check
from dataflow.errors import ConnectionError, DataFlowError
from dataflow.fields import FieldKind, FieldSchema
from dataflow.schema import ModelSchema
from dataflow.url import DatabaseURL

from . import types
from .bulk import STRATEGIES
from .errors import translate_error
from .functions import DECIMAL_AGGREGATES
from .options import parse_options

if TYPE_CHECKING:
    # sqlite3 is imported when the first pool opens, not when the plugin registers the dialect.
    import sqlite3

    from .connection import SQLiteConnection
    from .introspect import SQLiteIntrospector
    from .pool import SQLitePool
    from .schema_editor import SQLiteSchemaEditor

RETURNING = frozenset({"insert", "update", "delete"})
"""What RETURNING covers from SQLite 3.35 on; the version is known once a pool opens (sqlite3 loaded)."""

DEFAULT_FILE = "dataflow.db"


class SQLiteDialect(Dialect):
    name: ClassVar[str] = "sqlite"
    schemes: ClassVar[tuple[str, ...]] = ("sqlite",)

    def __init__(self, url: DatabaseURL, config: Config) -> None:
        super().__init__(url, config)
        options = parse_options(url.options)
        # Until the first pool loads sqlite3 and tells its version, promise no RETURNING (as before 3.35).
        self.capabilities = Capabilities(
            returning=frozenset(),
            upsert=True,
            savepoints=True,
            transactional_ddl=True,
            max_parameters=32766,
            max_identifier_length=1024,
            partial_indexes=True,
        )
        self.busy_timeout = options.timeout
        self.synchronous = options.synchronous
        database = url.database or ""
        self.memory = database in ("", ":memory:")
        if self.memory:
            self.path = f"file:dataflow-{uuid.uuid4().hex}?mode=memory&cache=shared"
        else:
            self.path = os.path.abspath(database)
        self._anchor: sqlite3.Connection | None = None

    @classmethod
    def default_url(cls, config: Config) -> str | None:
        return f"sqlite:///{DEFAULT_FILE}"

    # -- SQL text -----------------------------------------------------------

    def placeholder(self, index: int) -> str:
        return "?"

    def locking_read(self, select: str) -> str:
        # No FOR UPDATE in SQLite: a write transaction (BEGIN IMMEDIATE) already excludes every other writer.
        return select

    def column_type(self, field: FieldSchema) -> str:
        return types.column_type(field)

    def table_checks(self, schema: ModelSchema) -> list[str]:
        # TEXT and INTEGER do not say an enum's members: a CHECK does, and migrations read it back.
        return [
            f"CONSTRAINT {self.quote(self.constraint_name(schema, 'ck', (field.name,)))} "
            + enum_check(field, self.quote(field.name))
            for field in schema.fields
            if field.kind is FieldKind.ENUM
        ]

    def auto_increment_column(self, field: FieldSchema) -> str:
        return f"{self.quote(field.name)} INTEGER PRIMARY KEY AUTOINCREMENT"

    def aggregate(self, function: str, field: FieldSchema, column: str) -> str:
        if field.kind is FieldKind.DECIMAL and function in DECIMAL_AGGREGATES:
            return f"{DECIMAL_AGGREGATES[function]}({column})"
        if field.kind is FieldKind.DECIMAL and function == "AVG":
            return f"AVG(CAST({column} AS REAL))"
        return super().aggregate(function, field, column)

    def ordered(self, field: FieldSchema, expression: str) -> str:
        # Decimals are stored as text to keep every digit; compare them as numbers.
        if field.kind is FieldKind.DECIMAL:
            return f"CAST({expression} AS REAL)"
        return expression

    def list_elements(self, field: FieldSchema, column: str, placeholder: str, *, every: bool) -> str:
        """Lists are JSON text: elements compared through ``json_each``, type and value.

        The type is compared too, so that ``true`` never matches ``1``.
        """
        same = "h.type = w.type AND h.value = w.value"
        if every:
            return (
                f"({column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM json_each({placeholder}) AS w "
                f"WHERE NOT EXISTS (SELECT 1 FROM json_each({column}) AS h WHERE {same})))"
            )
        return f"EXISTS (SELECT 1 FROM json_each({column}) AS h, json_each({placeholder}) AS w WHERE {same})"

    def limit_clause(self, limit: str | None, offset: str | None) -> str:
        if limit is None and offset is not None:
            return f" LIMIT -1 OFFSET {offset}"
        return super().limit_clause(limit, offset)

    # -- values ---------------------------------------------------------------

    def encoder(self, field: FieldSchema) -> Codec | None:
        return types.encoder(field)

    def decoder(self, field: FieldSchema) -> Codec | None:
        return types.decoder(field)

    # -- connections ------------------------------------------------------------

    def _pragmas(self) -> list[str]:
        pragmas = [
            "PRAGMA foreign_keys = ON",
            f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}",
            f"PRAGMA synchronous = {self.synchronous}",
            # $like is case-sensitive everywhere; $ilike is the case-insensitive one.
            "PRAGMA case_sensitive_like = ON",
        ]
        return pragmas

    async def connect(self) -> SQLiteConnection:
        import sqlite3  # noqa: PLC0415 - the driver, imported only when a connection is opened

        from .connection import SQLiteConnection  # noqa: PLC0415 - imports the driver

        try:
            return await SQLiteConnection.open(
                self.path, uri=self.memory, busy_timeout=self.busy_timeout, pragmas=self._pragmas()
            )
        except sqlite3.Error as exc:
            raise ConnectionError(f"cannot open SQLite database {self.path!r}: {exc}") from exc

    async def create_pool(self) -> SQLitePool:
        import sqlite3  # noqa: PLC0415 - the driver, imported only when a pool is created

        from .pool import SQLitePool  # noqa: PLC0415 - imports the driver

        if sqlite3.sqlite_version_info >= (3, 35):
            self.capabilities = attrs.evolve(self.capabilities, returning=RETURNING)
        if self.memory and self._anchor is None:
            # Keeps the in-memory database alive between pools of different event loops.
            self._anchor = sqlite3.connect(self.path, uri=True, check_same_thread=False)
        elif not self.memory:
            directory = os.path.dirname(self.path)
            if not os.path.isdir(directory):
                raise ConnectionError(
                    f"cannot open SQLite database {self.path!r}: directory {directory!r} does not exist"
                )
            await asyncio.get_running_loop().run_in_executor(None, self._use_wal)
        size = 1 if self.memory else self.config.pool_size
        return SQLitePool(self.connect, size=size, timeout=self.config.pool_timeout, label=str(self.url))

    def _use_wal(self) -> None:
        """Put the file in WAL mode (a persistent setting of the file), once per pool.

        Switching the journal mode takes an exclusive lock that the busy
        timeout does not wait for: two processes opening a new file at once
        would make one fail. Retry until the busy timeout instead.
        """
        import sqlite3  # noqa: PLC0415 - the driver (create_pool, the caller, imported it)

        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                raw = sqlite3.connect(self.path, timeout=self.busy_timeout)
                try:
                    raw.execute("PRAGMA journal_mode = WAL")
                    return
                finally:
                    raw.close()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise ConnectionError(f"cannot open SQLite database {self.path!r}: {exc}") from exc
                time.sleep(0.02)

    @classmethod
    def bulk_strategies(cls) -> Sequence[BulkStrategy]:
        return STRATEGIES

    def introspector(self) -> SQLiteIntrospector:
        from .introspect import SQLiteIntrospector  # noqa: PLC0415 - migration code loads only when a migration runs

        return SQLiteIntrospector()

    def schema_editor(self, tables: Mapping[str, ModelSchema]) -> SQLiteSchemaEditor:
        from .schema_editor import SQLiteSchemaEditor  # noqa: PLC0415 - migration code loads only when one runs

        return SQLiteSchemaEditor(self, tables)

    def dispose(self) -> None:
        if self._anchor is not None:
            self._anchor.close()
            self._anchor = None

    def translate_error(self, error: BaseException, schema: ModelSchema | None) -> DataFlowError:
        return translate_error(error, schema, self.path)

    async def server_version(self, connection: Any) -> str:
        import sqlite3  # noqa: PLC0415 - loaded already: a connection is open

        return sqlite3.sqlite_version
