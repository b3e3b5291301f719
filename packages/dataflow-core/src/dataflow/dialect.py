"""The dialect contract: what a database package gives the core.

A dialect package registers a :class:`Dialect` subclass through the
``dataflow_register_dialects`` hook. The core builds SQL from schemas with the
dialect's quoting, placeholders and type mapping, and runs it on the
:class:`Connection` objects of the dialect's :class:`Pool`. Connections raise
their driver's exceptions; the core passes them to
:meth:`Dialect.translate_error`, which returns DataFlow's own error.
"""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, Protocol

import attrs

from .config import Config
from .errors import ConfigError, DataFlowError, MigrationError
from .fields import FieldSchema
from .schema import ModelSchema
from .url import DatabaseURL

if TYPE_CHECKING:
    from .bulk.strategy import BulkStrategy
    from .migrate.editor import SchemaEditor
    from .migrate.live import Introspector
    from .replication import ReplicationProbe

ISOLATION_LEVELS = ("read uncommitted", "read committed", "repeatable read", "serializable")


@attrs.frozen
class Capabilities:
    """What a database can do; the core and the compliance suite read these flags."""

    returning: frozenset[str] = frozenset()
    """Statements that take RETURNING: a subset of {"insert", "update", "delete"}."""
    upsert: bool = True
    """One-statement insert-or-update (ON CONFLICT / ON DUPLICATE KEY)."""
    upsert_needs_unique_key: bool = False
    """The conflict target cannot be chosen: ``conflict_on`` must match a unique key (MySQL)."""
    copy: bool = False
    savepoints: bool = True
    writable_cte: bool = False
    """``WITH w AS (INSERT ...) UPDATE ...``: one statement may write two tables."""
    two_phase: bool = False
    transactional_ddl: bool = False
    ilike: bool = False
    max_parameters: int = 999
    max_identifier_length: int = 63
    partial_indexes: bool = False
    """``CREATE UNIQUE INDEX ... WHERE``: a soft-delete model's unique fields are unique among live rows."""
    isolation_levels: tuple[str, ...] = ISOLATION_LEVELS
    session_settings: bool = True
    """A setting made on a connection outside a transaction holds until the connection goes back to the pool.

    False behind a transaction-mode pooler (PostgreSQL's ``pgbouncer=true``):
    each transaction may run on another server session, so such a setting may
    be missing from the next statement, or reach another client's. Whatever
    needs such state must make it per transaction then
    (``Session.transaction_setup``: tenancy's row-level-security setting), or
    refuse to run (tenancy's schema-per-tenant search paths).
    """


class ExecuteResult(NamedTuple):
    rowcount: int
    last_id: Any = None
    """The auto-increment id of the last inserted row, where the driver reports it."""


class Connection(Protocol):
    """One driver connection. Used by one task at a time; raises driver errors."""

    @property
    def in_transaction(self) -> bool: ...

    @property
    def raw(self) -> Any:
        """The driver's own connection object, for bulk strategies."""

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> ExecuteResult: ...

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run ``sql`` once per row; return the rows affected in total."""

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        """Run a query and return all rows as sequences in column order."""

    async def fetch_named(self, sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[Sequence[Any]]]:
        """Run any statement; return its result's column names (none for a statement without) and rows."""

    async def begin(self, isolation: str | None = None, read_only: bool = False) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class Pool(Protocol):
    """A dialect's pool, bound to the event loop that created it."""

    in_use: int
    """Connections lent out now (``state()["in_use"]`` without building the dict)."""

    async def acquire(self) -> Connection:
        """A connection; raises ``PoolTimeoutError`` after the configured timeout."""

    async def release(self, connection: Connection, *, discard: bool = False) -> None:
        """Give a connection back; ``discard`` closes it instead (after an error that may have broken it)."""

    async def close(self) -> None:
        """Close every connection, waiting for those in use to come back."""

    def terminate(self) -> None:
        """Close every connection at once, from outside the pool's event loop."""

    def state(self) -> Mapping[str, int]:
        """``{"size": n, "in_use": n, "idle": n, "waiting": n}``."""


Codec = Callable[[Any], Any]


class CheckingCodec(Protocol):
    """An encoder that only checks (returns valid values unchanged) and can check a whole column at once.

    Bulk validation calls ``accepts_all(values)`` on a column of plain values
    instead of the encoder once per value; False sends the rows through the
    per-value path, which raises the precise error.
    """

    def __call__(self, value: Any) -> Any: ...

    def accepts_all(self, values: list[Any]) -> bool: ...


class Dialect(abc.ABC):
    """A database family: SQL flavour, types, pool and error translation.

    One instance per ``DataFlow`` instance. ``capabilities`` may be refined by
    :meth:`create_pool` once the server version is known.
    """

    name: ClassVar[str]
    """Short name shown to users, e.g. ``"sqlite"``."""
    schemes: ClassVar[tuple[str, ...]]
    """URL schemes this dialect answers to, without ``+driver``."""
    capabilities: Capabilities = Capabilities()
    replication: ClassVar[ReplicationProbe | None] = None
    """How to read write/replay positions and lag; None: this database has no read replicas."""

    def __init__(self, url: DatabaseURL, config: Config) -> None:
        self.url = url
        self.config = config

    # -- URLs -------------------------------------------------------------

    @classmethod
    def default_url(cls, config: Config) -> str | None:
        """A URL to use when none was configured (development only), or None."""
        return None

    # -- SQL text ---------------------------------------------------------

    def quote(self, identifier: str) -> str:
        return '"' + identifier.replace('"', '""') + '"'

    @abc.abstractmethod
    def placeholder(self, index: int) -> str:
        """The text of bound parameter number ``index`` (1-based)."""

    def raw_sql_text(self, text: str) -> str:
        """A caller's raw SQL between placeholders (``db.sql``), as the driver must receive it with parameters.

        Drivers that put parameters into the text with ``%`` formatting (the
        DB-API ``format`` paramstyle) need each literal ``%`` doubled; they
        format only statements that have parameters, so this is applied to
        those alone. The default passes the text unchanged.
        """
        return text

    @abc.abstractmethod
    def column_type(self, field: FieldSchema) -> str:
        """The column type for ``field`` in CREATE TABLE."""

    def auto_increment_column(self, field: FieldSchema) -> str:
        """The full column definition of an auto-increment primary key."""
        return f"{self.quote(field.name)} BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"

    def check_schema(self, schema: ModelSchema, tables: Mapping[str, ModelSchema]) -> None:  # noqa: B027
        """Refuse, at model definition, a model this database cannot hold (raise ``ConfigError``)."""

    def insert_default_values(self, table: str) -> str:
        """An INSERT of one row with every column at its default."""
        return f"INSERT INTO {table} DEFAULT VALUES"

    def fast_compression_sql(self, table: str, column: str) -> list[str]:
        """Statements that have the server compress ``column``'s large values the fastest way it can.

        For a column written with values of megabytes (the audit trail's bulk entries),
        where the default compression costs more than the rest of the write. Safe to
        run twice and inside a transaction (nothing fails when the server lacks the
        method); the default, for databases that do not compress on their own, is none.
        """
        return []

    def json_text_sql(self, value: str, field: FieldSchema) -> str | None:
        """SQL for the JSON text of ``value`` (an expression of ``field``'s column), ``null`` when it is NULL.

        The text must read back (``json.loads``) as the field's Python value does
        through DataFlow's JSON (``str``, ``int``, ``float``, ``bool``, or a UUID's
        text). None when this database cannot make it for such a field (the default):
        callers then build the JSON in Python.
        """
        return None

    def sha256_hex_sql(self, text: str, tail: str) -> str | None:
        """SQL for the lowercase hex SHA-256 of text expression ``text`` (UTF-8) followed by the bytes ``tail``.

        ``tail`` is a placeholder bound to ``bytes`` (text parameters cannot hold NUL on
        every database). None when this database has no SHA-256 (the default).
        """
        return None

    def locking_read(self, select: str) -> str:
        """``select`` taking a write lock on the rows it reads, until the transaction ends (``FOR UPDATE``).

        Change capture reads before images so: a concurrent writer cannot change a row
        between its before image and the write. A database whose write transaction
        already holds every row (SQLite) returns ``select`` as it is.
        """
        return f"{select} FOR UPDATE"

    def check_identifier(self, name: str, model: str) -> None:
        limit = self.capabilities.max_identifier_length
        if len(name.encode()) > limit:
            raise ConfigError(
                f"{model}: identifier {name!r} is longer than {self.name}'s limit of {limit} bytes",
                model=model,
            )

    def create_table_sql(self, schema: ModelSchema, tables: Mapping[str, ModelSchema]) -> list[str]:
        """Statements that create the table and its indexes; safe to run twice."""
        q = self.quote
        columns = []
        for field in schema.fields:
            if field.auto_increment:
                columns.append(self.auto_increment_column(field))
                continue
            column = f"{q(field.name)} {self.column_type(field)}"
            if field.primary_key:
                column += " PRIMARY KEY"
            elif not field.nullable:
                column += " NOT NULL"
            columns.append(column)
        live_only = self.live_unique(schema)
        for group in schema.unique if not live_only else ():
            name = self.constraint_name(schema, "uq", group)
            columns.append(f"CONSTRAINT {q(name)} UNIQUE ({', '.join(q(c) for c in group)})")
        for field in schema.fields:
            if field.references is not None:
                target = tables[field.references]
                name = self.constraint_name(schema, "fk", (field.name,))
                columns.append(
                    f"CONSTRAINT {q(name)} FOREIGN KEY ({q(field.name)}) "
                    f"REFERENCES {q(target.table)} ({q(target.primary_key)})"
                )
        columns += self.table_checks(schema)
        statements = [f"CREATE TABLE IF NOT EXISTS {q(schema.table)} (\n  " + ",\n  ".join(columns) + "\n)"]
        for group in schema.indexes:
            name = self.constraint_name(schema, "ix", group)
            statements.append(
                f"CREATE INDEX IF NOT EXISTS {q(name)} ON {q(schema.table)} ({', '.join(q(c) for c in group)})"
            )
        for group in schema.unique if live_only else ():
            statements.append(self.live_unique_index_sql(schema, group, if_not_exists=True))
        return statements

    def live_unique(self, schema: ModelSchema) -> bool:
        """Are ``schema``'s unique groups unique among live rows only (a soft-delete model, where the
        database can say so)? A soft-deleted row is invisible to reads, so it does not hold its values."""
        return schema.soft_delete and self.capabilities.partial_indexes

    def live_unique_index_sql(self, schema: ModelSchema, columns: Sequence[str], *, if_not_exists: bool) -> str:
        """``CREATE UNIQUE INDEX uq_... ON t (...) WHERE deleted_at IS NULL``."""
        q = self.quote
        name = q(self.constraint_name(schema, "uq", columns))
        exists = "IF NOT EXISTS " if if_not_exists else ""
        return (
            f"CREATE UNIQUE INDEX {exists}{name} ON {q(schema.table)} ({', '.join(q(c) for c in columns)}) "
            f"WHERE {q('deleted_at')} IS NULL"
        )

    def conflict_where(self, schema: ModelSchema, conflict_on: Sequence[str]) -> str:
        """`` WHERE deleted_at IS NULL`` after ``ON CONFLICT (...)`` when ``conflict_on`` is a unique group
        that is unique among live rows (the conflict target must name the partial index's predicate)."""
        if self.live_unique(schema) and set(conflict_on) in [set(group) for group in schema.unique]:
            return f" WHERE {self.quote('deleted_at')} IS NULL"
        return ""

    def table_checks(self, schema: ModelSchema) -> list[str]:
        """Table-level ``CONSTRAINT ... CHECK`` clauses of CREATE TABLE (enum members, where the type
        cannot say them); none by default."""
        return []

    def constraint_name(self, schema: ModelSchema, kind: str, columns: Sequence[str]) -> str:
        """A deterministic constraint or index name within the identifier limit."""
        name = f"{kind}_{schema.table}_{'_'.join(columns)}"
        limit = self.capabilities.max_identifier_length
        if len(name.encode()) > limit:
            digest = hashlib.sha1(name.encode()).hexdigest()[:8]
            name = name.encode()[: limit - 9].decode(errors="ignore") + "_" + digest
        return name

    def like(self, column: str, placeholder: str, *, case_insensitive: bool) -> str:
        """SQL for ``column LIKE pattern``; case-sensitive unless asked."""
        if not case_insensitive:
            return f"{column} LIKE {placeholder}"
        if self.capabilities.ilike:
            return f"{column} ILIKE {placeholder}"
        return f"LOWER({column}) LIKE LOWER({placeholder})"

    def list_elements(self, field: FieldSchema, column: str, placeholder: str, *, every: bool) -> str | None:
        """SQL true when the list in ``column`` holds every (or, without ``every``, any) element of the bound list.

        ``placeholder`` is the filter's list, validated and encoded as the
        field's values are. None: the dialect cannot (``$contains`` and
        ``$overlaps`` are then a ``FilterError``).
        """
        return None

    def aggregate(self, function: str, field: FieldSchema, column: str) -> str:
        """SQL for ``function`` (``COUNT``, ``COUNT_DISTINCT``, ``SUM``, ``AVG``, ``MIN``, ``MAX``) over ``column``.

        Its value must decode as the field's does (``SUM``, ``MIN``, ``MAX``) or
        be a number (the counts, ``AVG``): a dialect that stores a kind as text
        (SQLite's Decimal) overrides this for that kind.
        """
        if function == "COUNT_DISTINCT":
            return f"COUNT(DISTINCT {column})"
        return f"{function}({column})"

    def ordered(self, field: FieldSchema, expression: str) -> str:
        """``expression`` (a column or a placeholder) in a form whose SQL order is the field's order.

        Dialects that store a kind as text (SQLite's Decimal) cast it here for
        ``$gt``-style filters and ``order_by``.
        """
        return expression

    def limit_clause(self, limit: str | None, offset: str | None) -> str:
        """`` LIMIT ... OFFSET ...`` from placeholders (either may be None)."""
        text = f" LIMIT {limit}" if limit is not None else ""
        return text + (f" OFFSET {offset}" if offset is not None else "")

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
        """One-row ``INSERT ... ON CONFLICT`` text; MySQL-like dialects override.

        An update also adds 1 to each of ``increment_columns`` (a version);
        ``conflict_where`` is :meth:`conflict_where`'s predicate for the target.
        """
        values = f"VALUES ({', '.join(placeholders)})"
        return on_conflict_sql(self.quote, table, columns, values, conflict_on, update_columns, increment_columns,
                               conflict_where)  # fmt: skip

    # -- values -------------------------------------------------------------

    def encoder(self, field: FieldSchema) -> Codec | None:
        """How to turn a validated Python value into a driver parameter; None for as-is."""
        return None

    def decoder(self, field: FieldSchema) -> Codec | None:
        """How to turn a driver value into the field's Python type; None for as-is."""
        return None

    # -- connections and errors ---------------------------------------------

    @abc.abstractmethod
    async def create_pool(self) -> Pool:
        """A new pool for the running event loop, sized by ``self.config``."""

    @abc.abstractmethod
    def translate_error(self, error: BaseException, schema: ModelSchema | None) -> DataFlowError:
        """DataFlow's error for a driver exception; ``schema`` is the model involved, if any."""

    # -- bulk writes ----------------------------------------------------------------

    @classmethod
    def bulk_strategies(cls) -> Sequence[BulkStrategy]:
        """The bulk strategies of this dialect (COPY, LOAD DATA, ...), offered only on its databases.

        The generic strategies plugins register (``dataflow_register_bulk_strategies``)
        are offered on every dialect besides these; the bulk nodes pick the
        highest ``priority`` among those whose ``cannot_run`` gives no reason.
        """
        return ()

    # -- migrations ---------------------------------------------------------------

    def introspector(self) -> Introspector:
        """The reader of this database's live schema; dialects without one cannot migrate."""
        raise MigrationError(f"the {self.name} dialect cannot read its live schema, so it cannot migrate")

    def schema_editor(self, tables: Mapping[str, ModelSchema]) -> SchemaEditor:
        """The writer of migration SQL; ``tables`` are the models, for foreign keys."""
        # Lazy on purpose: migration code loads at the first schema check, not at ``import dataflow``,
        # whose time is a benchmark target (benchmarks/bench_sqlite.py).
        from .migrate.editor import SchemaEditor  # noqa: PLC0415

        return SchemaEditor(self, tables)

    def dispose(self) -> None:  # noqa: B027 - optional hook, most dialects hold nothing
        """Release what the dialect holds beyond its pools; called by ``DataFlow.close()``."""

    async def server_version(self, connection: Connection) -> str:
        rows = await connection.fetch("SELECT version()")
        return str(rows[0][0])


def on_conflict_sql(
    quote: Callable[[str], str],
    table: str,
    columns: Sequence[str],
    source: str,
    conflict_on: Sequence[str],
    update_columns: Sequence[str],
    increment_columns: Sequence[str] = (),
    conflict_where: str = "",
) -> str:
    """``INSERT INTO table (columns) <source> ON CONFLICT ...``: ``source`` is ``VALUES (...)`` or a SELECT."""
    q = quote
    sql = (
        f"INSERT INTO {q(table)} ({', '.join(q(c) for c in columns)}) {source} "
        f"ON CONFLICT ({', '.join(q(c) for c in conflict_on)}){conflict_where} "
    )
    if update_columns:
        assignments = [f"{q(c)} = excluded.{q(c)}" for c in update_columns]
        assignments += [f"{q(c)} = {q(table)}.{q(c)} + 1" for c in increment_columns]
        return sql + "DO UPDATE SET " + ", ".join(assignments)
    return sql + "DO NOTHING"
