"""``DataFlow``: one database, its models, their nodes and its pools."""

from __future__ import annotations

import asyncio
import functools
import os
import weakref
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from time import perf_counter
from typing import TYPE_CHECKING, Any, TypeVar

from .config import Config, load_config
from .dialect import Dialect, Pool
from .echo import enable_echo
from .errors import ConfigError
from .events import Monitors, PoolState, emit
from .express import Express, ExpressSync
from .express import transaction as express_transaction
from .extensions import Extensions
from .loops import existing_thread_loop, run_sync, running_loop
from .plugins import plugin_host
from .pooling import LoopPools
from .registered import KNOWN_DIALECT_PACKAGES, registered_dialects, registered_model_options
from .registers import SchemaExtension
from .relations import RelationMap
from .replicas import ReplicaSession, ReplicaSet, split_replica_option
from .routing import note_position, note_writes, position_unread
from .schema import ModelSchema, creation_order, schema_from_class, suggest
from .session import Session
from .sql import TableSQL
from .url import DatabaseURL
from .versioning import add_version_field

if TYPE_CHECKING:
    from .changes import ChangeListener
    from .migrate.runner import Applied, Migrator
    from .migrate.steps import Plan
    from .nodes.base import Node
    from .scoping import SessionHook, TenancyFilter

C = TypeVar("C", bound=type)

_live: weakref.WeakSet[DataFlow] = weakref.WeakSet()


async def close_loop_pools(loop: asyncio.AbstractEventLoop) -> None:
    """Close every open instance's pool bound to ``loop`` (a temporary loop about to end)."""
    for db in live_instances():
        await db.close_loop(loop)


def live_instances() -> list[DataFlow]:
    """The open ``DataFlow`` instances of this process, for resolving node type names."""
    return list(_live)


class DataFlow:
    """A database and its models.

    ``DataFlow()`` reads ``DATAFLOW_DATABASE_URL`` or ``DATABASE_URL``; with
    neither it uses a dialect's development default (an SQLite file in the
    working directory), except in production, where a missing URL is an error.
    """

    def __init__(self, database_url: str | None = None, **options: Any) -> None:
        if database_url is not None:
            options["database_url"] = database_url
        self.config: Config = load_config(options)
        if self.config.echo:
            enable_echo()
        dialects = registered_dialects()
        self.url, replicas_in_url = split_replica_option(
            DatabaseURL.parse(self.config.database_url or self._default_url(dialects))
        )
        dialect_cls = dialects.get(self.url.scheme)
        if dialect_cls is None:
            package = KNOWN_DIALECT_PACKAGES.get(self.url.scheme)
            hint = f"install it with: pip install {package}" if package else "no installed plugin provides it"
            raise ConfigError(f"no DataFlow dialect for {self.url.scheme}:// URLs is installed; {hint}")
        self.dialect: Dialect = dialect_cls(self.url, self.config)
        self.replicas: ReplicaSet | None = ReplicaSet.configure(self, replicas_in_url, dialect_cls)
        """The read replicas (docs/scaling.md); None when there are none."""
        self.label = str(self.url)
        self.schemas: dict[str, ModelSchema] = {}
        self.relations = RelationMap()
        # os.urandom is what secrets.token_hex reads, without importing secrets (and random) with dataflow.
        self.cursor_key = (self.config.cursor_secret or os.urandom(32).hex()).encode()
        """Signs List's keyset cursors (``next``/``after``)."""
        self.nodes: dict[str, type[Node]] = {}
        self._classes: dict[type, ModelSchema] = {}
        self._tables: dict[str, TableSQL] = {}
        self._schema_ready: set[str] = set()
        self._pools = LoopPools(self.dialect.create_pool)
        self.extensions = Extensions(self.label, reserved=lambda: dir(self))
        """Per-instance objects of plugins, by class (``Tenancy.of(db)`` reads ``db.extensions``)."""
        host = plugin_host()
        self.monitors = Monitors(host.collect("dataflow_register_monitors", db=self))
        self.tenancy_filters: list[TenancyFilter] = host.collect("dataflow_register_tenancy_filters", db=self)
        self.schema_extensions: list[SchemaExtension] = host.collect("dataflow_register_schema_extensions", db=self)
        self.session_hooks: list[SessionHook] = host.collect("dataflow_register_session_hooks", db=self)
        self.change_listeners: list[ChangeListener] = host.collect("dataflow_register_change_listeners", db=self)
        self.captured: dict[str, tuple[ChangeListener, ...]] = {}
        """The listeners of each model some listener captures, by model name (raw SQL on their tables is checked)."""
        self.closed = False
        _live.add(self)
        host.notify("dataflow_instance_created", db=self)

    def _default_url(self, dialects: Mapping[str, type[Dialect]]) -> str:
        if self.config.production:
            raise ConfigError(
                "DATAFLOW_ENV=production and no database URL: set DATAFLOW_DATABASE_URL or DATABASE_URL, "
                "or pass DataFlow(url)"
            )
        for cls in dict.fromkeys(dialects.values()):
            url = cls.default_url(self.config)
            if url is not None:
                return url
        raise ConfigError("no database URL is configured and no installed dialect offers a default")

    def __repr__(self) -> str:
        return f"DataFlow({self.label!r}, models={list(self.schemas)})"

    if not TYPE_CHECKING:
        # Hidden from type checkers on purpose: shortcuts are for users who already call
        # ``db.tenant(...)``; typed code reads the plugin's object with ``X.of(db)``.
        def __getattr__(self, name: str) -> Any:
            extensions = self.__dict__.get("extensions")
            if extensions is None or name.startswith("__"):
                raise AttributeError(name)
            try:
                return extensions.shortcut_value(name)
            except AttributeError:
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}") from None

    # -- models -----------------------------------------------------------------

    def model(self, cls: C) -> C:
        """Register a type-hinted class as a model and generate its twelve nodes."""
        schema = schema_from_class(cls, self._classes, registered_model_options())
        for extend in self.schema_extensions:
            schema = extend(schema)
        # After the extensions, so that a version field one of them declared is adopted, not doubled.
        schema = add_version_field(schema)
        self._refuse_unserved_options(schema)
        if schema.name in self.schemas:
            raise ConfigError(f"model {schema.name!r} is already registered on this DataFlow", model=schema.name)
        for other in self.schemas.values():
            if other.table == schema.table:
                raise ConfigError(
                    f"models {other.name} and {schema.name} both map to table {schema.table!r}", model=schema.name
                )
        self.dialect.check_identifier(schema.table, schema.name)
        for field in schema.fields:
            self.dialect.check_identifier(field.name, schema.name)
        self.dialect.check_schema(schema, {**self.schemas, schema.name: schema})
        self.relations.add(schema, {**self.schemas, schema.name: schema})
        self.schemas[schema.name] = schema
        self._classes[cls] = schema
        # The node classes are imported with the first model, not with ``import dataflow``.
        from .nodes.generate import model_nodes  # noqa: PLC0415 - lazy on purpose, see above

        self.nodes.update(model_nodes(self, schema))
        return cls

    def _refuse_unserved_options(self, schema: ModelSchema) -> None:
        """Fail closed: a model asking for isolation that no installed plugin provides."""
        if schema.options.get("multi_tenant") and not self.tenancy_filters:
            raise ConfigError(
                f"{schema.name} is multi_tenant but no tenancy plugin is loaded; install dataflow-tenancy "
                "(or check DATAFLOW_PLUGINS / DATAFLOW_DISABLE_PLUGINS)",
                model=schema.name,
            )

    @functools.cached_property
    def express(self) -> Express:
        """The direct API, async: ``await db.express.read("User", 1)`` (see :mod:`dataflow.express`)."""
        return Express(self)

    @functools.cached_property
    def express_sync(self) -> ExpressSync:
        """The direct API for synchronous code: ``db.express_sync.read("User", 1)``."""
        return ExpressSync(self)

    async def sql_async(
        self,
        query: str,
        params: Mapping[str, Any] | None = None,
        *,
        result: str = "rows",
        model: str | type | None = None,
    ) -> Any:
        """Raw SQL with ``:name`` placeholders, values bound: ``await db.sql_async("SELECT ...", {"x": 1})``.

        ``model`` names the captured model an ``INSERT``/``DELETE ... RETURNING *`` writes
        (:mod:`dataflow.raw_capture`).
        """
        return await self.express.sql(query, params, result=result, model=model)

    def sql(
        self,
        query: str,
        params: Mapping[str, Any] | None = None,
        *,
        result: str = "rows",
        model: str | type | None = None,
    ) -> Any:
        """The synchronous face of :meth:`sql_async`."""
        return self.express_sync.sql(query, params, result=result, model=model)

    def transaction(self, isolation: str | None = None) -> AbstractAsyncContextManager[Express]:
        """``async with db.transaction() as tx:`` the direct API on one connection, in one transaction."""
        return express_transaction(self, isolation)

    def model_classes(self) -> list[type]:
        """The classes registered with :meth:`model`, in registration order."""
        return list(self._classes)

    def schema(self, model: str | type) -> ModelSchema:
        name = model if isinstance(model, str) else model.__name__
        if name not in self.schemas:
            raise ConfigError(f"no model {name!r} on this DataFlow{suggest(name, self.schemas)}", model=name)
        return self.schemas[name]

    def table_sql(self, schema: ModelSchema) -> TableSQL:
        table = self._tables.get(schema.name)
        if table is None:
            table = self._tables[schema.name] = TableSQL(self.dialect, schema)
        return table

    # -- pools and sessions -----------------------------------------------------

    async def pool(self) -> Pool:
        """The pool of the running event loop, created on first use."""
        if self.closed:
            raise ConfigError(f"this DataFlow ({self.label}) is closed")
        return await self._pools.get()

    async def open_session(self, *, run_id: str | None = None, context: Mapping[str, Any] | None = None) -> Session:
        """Acquire a connection and wrap it in a session; give it back with :meth:`close_session`."""
        pool = self._pools.current()
        if pool is None or self.closed:
            pool = await self.pool()
        if self.monitors:
            started = perf_counter()
            connection = await pool.acquire()
            self._report_pool(pool, perf_counter() - started)
        else:
            connection = await pool.acquire()
        session = Session(self, connection, run_id=run_id, context=context or {}, pool=pool)
        try:
            if len(self._schema_ready) < len(self.schemas):
                await self._prepare_schema(session)
            for hook in self.session_hooks:
                await hook.session_opened(session)
        except BaseException:
            await pool.release(connection, discard=True)
            raise
        return session

    def _report_pool(self, pool: Pool, waited: float) -> None:
        state = pool.state()
        emit(
            self.monitors,
            PoolState(self.label, state["size"], state["in_use"], state["idle"], state["waiting"], waited),
        )

    def pools(self) -> list[Pool]:
        """The open pools of this instance, one per event loop that used it (for monitoring)."""
        return self._pools.pools()

    async def close_session(self, session: Session) -> None:
        replicas = self.replicas
        if replicas is not None and not isinstance(session, ReplicaSession):
            if session.wrote:
                note_writes(self, session)
            elif position_unread(replicas):
                await note_position(self, session)
        pool = session.pool
        discard = session.broken
        if not discard and session.in_transaction:
            try:
                await session.rollback()
            except Exception:  # noqa: BLE001 - the connection is discarded below instead
                discard = True
        for hook in self.session_hooks:
            if discard or session.broken:
                break
            try:
                await hook.session_closing(session)
            except Exception:  # noqa: BLE001 - a connection in an unknown state is not reused
                discard = True
        await pool.release(session.connection, discard=discard or session.broken)

    @asynccontextmanager
    async def standalone_session(self, context: Mapping[str, Any] | None = None) -> AsyncIterator[Session]:
        """A session outside any run, without the schema check or session hooks: for DDL and admin work.

        A transaction it leaves open is rolled back; a connection that broke,
        or whose rollback failed, is discarded instead of going back to the pool.
        """
        pool = await self.pool()
        connection = await pool.acquire()
        session = Session(self, connection, run_id=None, context=dict(context or {}), pool=pool)
        try:
            yield session
        finally:
            discard = session.broken
            if session.in_transaction and not discard:
                try:
                    await session.rollback()
                except Exception:  # noqa: BLE001 - the connection is discarded below instead
                    discard = True
            await pool.release(connection, discard=discard or session.broken)

    @property
    def schema_ready(self) -> bool:
        """Have every model's tables been created or checked (the first session of a loop does it)?"""
        return len(self._schema_ready) >= len(self.schemas)

    async def _prepare_schema(self, session: Session) -> None:
        """Once per model set: create what is missing (development) or check it (production)."""
        # Lazy on purpose: migration code loads at the first schema check, not at ``import dataflow``,
        # whose time is a benchmark target (benchmarks/bench_sqlite.py).
        from .migrate.startup import prepare_schema  # noqa: PLC0415

        async with self._pools.lock():
            if len(self._schema_ready) < len(self.schemas):
                names = set(self.schemas)
                await prepare_schema(self, session)
                self._schema_ready.update(names)

    def creation_order(self) -> list[ModelSchema]:
        """Models ordered so that every referenced table is created first."""
        return creation_order(self.schemas.values())

    async def create_tables_async(self) -> None:
        """Create every model's table and indexes that does not exist yet (never alters or drops)."""
        from .migrate.startup import create_missing_tables  # noqa: PLC0415 - lazy on purpose, see _prepare_schema

        self.migrator.refuse_existing_schema("create_tables")
        async with self.standalone_session() as session:
            await create_missing_tables(self, session)

    def create_tables(self) -> None:
        """Synchronous :meth:`create_tables_async`."""
        run_sync(self.create_tables_async, cleanup=self.close_loop)

    # -- migrations ---------------------------------------------------------------

    @property
    def migrator(self) -> Migrator:
        """Plans and applies schema changes for these models (see :mod:`dataflow.migrate`)."""
        from .migrate.runner import Migrator  # noqa: PLC0415 - lazy on purpose, see _prepare_schema

        return Migrator(self)

    def migration_plan(self, renames: Iterable[str] = ()) -> Plan:
        """Synchronous ``await db.migrator.plan()``: the pending steps; ``print()`` it to review them."""
        return run_sync(lambda: self.migrator.plan(renames), cleanup=self.close_loop)

    async def migrate_async(self, *, allow_destructive: bool = False, renames: Iterable[str] = ()) -> Applied | None:
        """Bring the database to the models; destructive steps need ``allow_destructive``."""
        return await self.migrator.apply(allow_destructive=allow_destructive, renames=renames)

    def migrate(self, *, allow_destructive: bool = False, renames: Iterable[str] = ()) -> Applied | None:
        """Synchronous :meth:`migrate_async`."""
        return run_sync(
            lambda: self.migrate_async(allow_destructive=allow_destructive, renames=renames), cleanup=self.close_loop
        )

    # -- closing ----------------------------------------------------------------

    async def close_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close the pool bound to ``loop`` (the running one), if any."""
        await self._pools.close_loop(loop)
        if self.replicas is not None:
            await self.replicas.close_loop(loop)

    async def close_async(self) -> None:
        """Close every pool: the running loop's cleanly, the others' at once."""
        await self.close_loop(asyncio.get_running_loop())
        self._pools.close_all()
        self._finish_close()

    def close(self) -> None:
        """Close every pool and connection of this instance; it cannot be used again."""
        current = running_loop()
        if current is not None and self._pools.serves(current):
            raise ConfigError("DataFlow.close() called inside a running event loop; use 'await db.close_async()'")
        private = existing_thread_loop()
        if private is not None and not private.is_running():
            self._pools.end_loop(private)
            if self.replicas is not None:
                self.replicas.end_loop(private)
        self._pools.close_all()
        self._finish_close()

    def _finish_close(self) -> None:
        if self.replicas is not None:
            self.replicas.close_all()
        self.dialect.dispose()
        self.closed = True
        _live.discard(self)

    def __enter__(self) -> DataFlow:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> DataFlow:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close_async()
