"""The direct API: one model operation at a time, without building a workflow.

    user = await db.express.create("User", {"name": "Ann", "email": "ann@example.com"})
    page = await db.express.list("User", filter={"age": {"$gte": 18}}, include=["team"])
    db.express_sync.count(User, filter={"active": True})

    async with db.transaction(isolation="serializable") as tx:
        await tx.update("Account", 1, {"balance": 90})
        await tx.update("Account", 2, {"balance": 110})

Each call runs the model's node (the same validation, tenancy, versioning and
monitors as in a workflow) on a session of its own, or on the transaction's,
and returns exactly the node's output. The tenant comes from ``db.tenant(...)``
as for runs.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from time import perf_counter
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, ValidationError
from .events import NodeFinished, emit
from .loops import run_sync
from .nodes.base import REPLICA, ModelNode, run_model_node
from .nodes.cursor import keyset_order
from .raw_sql import run_sql
from .routing import NO_REPLICA, RunRoute, caller_marks
from .schema import suggest
from .session import Session

if TYPE_CHECKING:
    from .database import DataFlow

Model = str | type
Record = dict[str, Any]
OPERATIONS = ("create", "read", "update", "delete", "list", "count", "upsert", "aggregate",
              "bulk_create", "bulk_update", "bulk_delete", "bulk_upsert", "sql")  # fmt: skip


class Express:
    """Async model operations on ``db``; on ``session`` (a transaction's) when given, else one session per call."""

    def __init__(self, db: DataFlow, session: Session | None = None, context: Mapping[str, Any] | None = None) -> None:
        self._db = db
        self._session = session
        self._context = dict(context or {})

    def using(self, **context: Any) -> Express:
        """The same API with ``context`` for tenancy filters and monitors (``tenant=``, ``actor=``, ...)."""
        return Express(self._db, self._session, {**self._context, **context})

    async def create(self, model: Model, record: Mapping[str, Any]) -> Record:
        """The created record, key included."""
        return await self._run(model, "Create", dict(record))

    async def read(self, model: Model, id: Any, **options: Any) -> Record | None:
        """The record with key ``id``; ``NotFoundError`` unless ``raise_on_not_found=False`` (then None)."""
        found = await self._output(model, "Read", {**options, "id": id})
        return None if found is None else dict(found)

    async def update(
        self, model: Model, id: Any = None, fields: Mapping[str, Any] | None = None, **options: Any
    ) -> Record:
        """By ``id``: the updated record; by ``filter=``: ``{"updated": n}``."""
        inputs = {**options, "fields": dict(fields or {})}
        if id is not None:
            inputs["id"] = id
        return await self._run(model, "Update", inputs)

    async def delete(self, model: Model, id: Any = None, **options: Any) -> Record:
        """``{"deleted": n}``, by ``id`` or by ``filter=``."""
        return await self._run(model, "Delete", {**options, "id": id} if id is not None else options)

    async def list(self, model: Model, **options: Any) -> Record:
        """``{"records": [...], "count": n}``; ``filter``, ``order_by``, ``limit``, ``include``, ... as keywords."""
        return await self._run(model, "List", options)

    async def count(self, model: Model, **options: Any) -> Record:
        """``{"count": n}`` of the records matching ``filter=``."""
        return await self._run(model, "Count", options)

    async def upsert(self, model: Model, record: Mapping[str, Any], **options: Any) -> Record:
        """``{"record": {...}, "created": bool}``; ``conflict_on=`` names the key."""
        return await self._run(model, "Upsert", {**record, **options})

    async def aggregate(self, model: Model, **options: Any) -> Record:
        """``{"groups": [...], "count": n}``; ``aggregates``, ``group_by``, ``having``, ... as keywords."""
        return await self._run(model, "Aggregate", options)

    async def bulk_create(self, model: Model, rows: Sequence[Mapping[str, Any]], **options: Any) -> Record:
        """``{"inserted": n}`` (and ``"ids"`` with ``return_ids=True``)."""
        return await self._run(model, "BulkCreate", {**options, "data": rows})

    async def bulk_update(
        self, model: Model, rows: Sequence[Mapping[str, Any]] | None = None, **options: Any
    ) -> Record:
        """``{"updated": n}``: rows with their keys, or ``filter=`` and ``fields=``."""
        return await self._run(model, "BulkUpdate", {**options, "data": rows} if rows is not None else options)

    async def bulk_delete(self, model: Model, ids: Sequence[Any] | None = None, **options: Any) -> Record:
        """``{"deleted": n}``: by ``ids`` or by ``filter=`` (an empty filter needs ``confirmed=True``)."""
        return await self._run(model, "BulkDelete", {**options, "ids": ids} if ids is not None else options)

    async def bulk_upsert(self, model: Model, rows: Sequence[Mapping[str, Any]], **options: Any) -> Record:
        """``{"inserted": a, "updated": b}``, measured; ``conflict_on=`` names the key."""
        return await self._run(model, "BulkUpsert", {**options, "data": rows})

    async def stream(
        self, model: Model, *, filter: Mapping[str, Any] | None = None, order_by: Sequence[str] | None = None,
        batch: int = 1000, **options: Any,
    ) -> AsyncIterator[Record]:  # fmt: skip
        """Every matching record, read ``batch`` at a time by keyset pages: memory stays flat however many rows.

        Each page is one List on a session of its own (the transaction's, in
        ``db.transaction()``), so no connection is held between pages; a record
        written while the stream runs may or may not be seen, as with any paging.
        """
        if type(batch) is not int or batch < 1:
            raise ValidationError(f"batch must be a positive integer, got {batch!r}", field="batch")
        # An order keyset pages cannot follow would end the stream after one page: refuse it up front.
        keyset_order(self._db.schema(_model_name(model)), order_by)
        inputs: dict[str, Any] = {**options, "limit": batch}
        if filter is not None:
            inputs["filter"] = filter
        if order_by is not None:
            inputs["order_by"] = order_by
        while True:
            page = await self._run(model, "List", inputs)
            for record in page["records"]:
                yield record
            if page["next"] is None:
                return
            inputs["after"] = page["next"]

    async def sql(
        self,
        query: str,
        params: Mapping[str, Any] | None = None,
        *,
        result: str = "rows",
        model: str | type | None = None,
    ) -> Any:
        """Raw SQL with ``:name`` placeholders (:mod:`dataflow.raw_sql`): rows as dicts, a row, a value or a count.

        ``model`` names the captured model an ``INSERT``/``DELETE ... RETURNING *`` writes
        (:mod:`dataflow.raw_capture`).
        """
        if self._session is not None:
            async with self._session.lock:
                return await run_sql(self._session, query, params, result, model=model, node_id="express.sql")
        session = await self._db.open_session(run_id=uuid.uuid4().hex, context=self._context)
        session.wrote = True  # raw SQL may write: the caller's next reads must see it
        try:
            return await run_sql(session, query, params, result, model=model, node_id="express.sql")
        finally:
            await self._db.close_session(session)

    # -- running ----------------------------------------------------------------

    def node_class(self, model: Model, operation: str) -> type[ModelNode]:
        name = _model_name(model)
        node = self._db.nodes.get(f"{name}{operation}Node")
        if node is None or not issubclass(node, ModelNode):
            raise ConfigError(f"no model {name!r} on this DataFlow{suggest(name, self._db.schemas)}", model=name)
        return node

    async def _run(self, model: Model, operation: str, inputs: dict[str, Any]) -> Record:
        output: Record = await self._output(model, operation, inputs)
        return output

    async def _output(self, model: Model, operation: str, inputs: dict[str, Any]) -> Any:
        node_class = self.node_class(model, operation)
        node_class.check_inputs(frozenset(inputs))
        node = node_class(f"express.{operation.lower()}", {})
        if self._session is not None:
            return await self._timed(node, self._session, inputs)
        db = self._db
        run_id = uuid.uuid4().hex
        choice = inputs.pop(REPLICA, None) if REPLICA in inputs else None
        route: RunRoute | None = None
        if db.replicas is not None or choice is not None:
            route = RunRoute()
            if route.wants_replica(db, node_class, inputs, choice):
                try:
                    output = await route.on_replica(
                        db, run_id, self._context, lambda session: self._timed(node, session, dict(inputs))
                    )
                finally:
                    await route.finish()
                if output is not NO_REPLICA:
                    return output
        session = await db.open_session(run_id=run_id, context=self._context)
        try:
            return await self._timed(node, session, inputs)
        finally:
            if route is not None:
                route.used_primary(db, node_class, inputs, session)
            await db.close_session(session)

    async def _timed(self, node: ModelNode, session: Session, inputs: dict[str, Any]) -> Any:
        monitors = self._db.monitors
        if not monitors:
            async with session.lock:
                return await run_model_node(node, session, inputs)
        started = perf_counter()
        error: str | None = None
        try:
            async with session.lock:
                return await run_model_node(node, session, inputs)
        except BaseException as exc:
            error = type(exc).__name__
            raise
        finally:
            emit(
                monitors,
                NodeFinished(session.run_id or "", node.node_id, node.type_name, perf_counter() - started, error),
            )


def _model_name(model: Model) -> str:
    return model if isinstance(model, str) else getattr(model, "__name__", str(model))


class ExpressSync:
    """The synchronous face of :class:`Express`, for scripts and notebooks (works inside a running loop too)."""

    def __init__(self, db: DataFlow, express: Express | None = None) -> None:
        self._db = db
        self._express = express or Express(db)

    def using(self, **context: Any) -> ExpressSync:
        """The same API with ``context`` for tenancy filters and monitors (``tenant=``, ``actor=``, ...)."""
        return ExpressSync(self._db, self._express.using(**context))

    def __getattr__(self, name: str) -> Any:
        if name not in OPERATIONS:
            raise AttributeError(f"express_sync has no operation {name!r}{suggest(name, OPERATIONS)}")
        method = getattr(self._express, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            caller_marks()  # in the caller's own context, so that its next calls see what this one writes
            # A temporary loop (called inside a running one) closes its pools before it ends.
            return run_sync(lambda: method(*args, **kwargs), cleanup=self._db.close_loop)

        call.__doc__ = method.__doc__
        call.__name__ = name
        return call


@asynccontextmanager
async def transaction(db: DataFlow, isolation: str | None = None) -> AsyncIterator[Express]:
    """One session in one transaction: committed when the block ends, rolled back when it raises."""
    session = await db.open_session(run_id=uuid.uuid4().hex)
    session.wrote = True
    try:
        await session.begin(isolation)
        yield Express(db, session)
        await session.commit()
    finally:
        await db.close_session(session)
