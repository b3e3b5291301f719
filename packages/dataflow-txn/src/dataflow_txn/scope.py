"""Transaction scopes: part of a workflow in a savepoint, or in a transaction of its own.

    scope = transaction_scope(db, inner_workflow, on_error="continue")
    wf.add_node(scope, "reserve", {"parameters": {...}})
    # or: add_transaction_scope(wf, "reserve", db, inner_workflow)

Inside a transactional run the scope is a SAVEPOINT: when a node inside
fails, the scope rolls back to it and (with ``on_error="continue"``) outputs
``{"ok": False, ...}`` so that the workflow carries on with the rest of its
transaction; ``on_error="raise"`` fails the run instead. Retryable errors
(serialization failures, deadlocks) always fail the run, so that a
retrying runtime can run it again. In a run without a transaction the scope
begins its own, which is where an isolation level can be chosen.

A read-only scope refuses writes: PostgreSQL through ``SET TRANSACTION READ
ONLY`` inside its savepoint (undone with it), SQLite through an authorizer
that denies every write, and a scope that begins its own transaction through ``BEGIN
... READ ONLY``. MySQL cannot make part of a transaction read-only: there a
read-only scope must begin its own transaction.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from dataflow.errors import DataFlowError, TransactionError, WorkflowBuildError
from dataflow.nodes.base import Node
from dataflow.workflow import Workflow, WorkflowBuilder

from .executor import built, check_bound, check_parameters, run_on_sessions
from .retry import retryable

if TYPE_CHECKING:
    from dataflow import DataFlow
    from dataflow.session import Session

ON_ERROR = ("continue", "raise")
_names = itertools.count(1)


class TransactionScopeNode(Node):
    """Runs a sub-workflow of one database in a savepoint, or in its own transaction.

    Made by :func:`transaction_scope`; its input ``parameters`` holds the
    inner nodes' run-time parameters by node id (connections can fill it:
    ``add_connection("a", "id", "scope", "parameters.read.id")``).
    """

    type_name: ClassVar[str] = "TransactionScopeNode"
    parameters: ClassVar[frozenset[str] | None] = frozenset({"parameters"})
    workflow: ClassVar[Workflow]
    isolation: ClassVar[str | None] = None
    read_only: ClassVar[bool] = False
    on_error: ClassVar[str] = "continue"

    async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
        if session is None:
            raise TransactionError(f"{self.type_name} needs a session of its database")
        params = inputs.get("parameters") or {}
        if not isinstance(params, Mapping):
            raise TransactionError(f"{self.type_name}: 'parameters' must map inner node ids to their parameters")
        check_parameters(self.workflow, params, f"scope {self.node_id!r}")
        if session.in_transaction:
            return await self._in_savepoint(session, params)
        return await self._in_own_transaction(session, params)

    async def _in_savepoint(self, session: Session, params: Mapping[str, Any]) -> dict[str, Any]:
        dialect = session.dialect
        if self.isolation is not None:
            raise TransactionError(
                f"scope {self.node_id!r} asks for isolation {self.isolation!r}, but the run's transaction has "
                "begun: an isolation level is set by the scope that begins the transaction (run the workflow "
                "without transaction=True) or by the run (execute(..., isolation=...))"
            )
        if self.read_only and dialect.name not in ("postgresql", "sqlite"):
            raise TransactionError(
                f"scope {self.node_id!r}: {dialect.name} cannot make part of a transaction read-only; "
                "run the workflow without transaction=True so that the scope begins its own READ ONLY transaction"
            )
        if not dialect.capabilities.savepoints:
            raise TransactionError(f"scope {self.node_id!r}: {dialect.name} has no savepoints")
        name = dialect.quote(f"dftxn_scope_{next(_names)}")
        await session.execute(f"SAVEPOINT {name}")
        try:
            if self.read_only:
                await _read_only(session, True)
            results = await run_on_sessions(self.workflow, {self.database_of(): session}, params, run_id=session.run_id)
        except Exception as exc:
            if not await _rollback_to(session, name) or self.on_error == "raise" or retryable(exc):
                raise
            return _failed(exc)
        finally:
            if self.read_only and dialect.name == "sqlite" and not session.broken:
                await _read_only(session, False)
        if self.read_only:
            # Nothing was written; rolling back also ends PostgreSQL's READ ONLY for the rest of the run.
            await session.execute(f"ROLLBACK TO SAVEPOINT {name}")
        await session.execute(f"RELEASE SAVEPOINT {name}")
        return {"ok": True, "results": results}

    async def _in_own_transaction(self, session: Session, params: Mapping[str, Any]) -> dict[str, Any]:
        sqlite_read_only = self.read_only and session.dialect.name == "sqlite"
        await session.begin(self.isolation, self.read_only)
        try:
            if sqlite_read_only:
                await _read_only(session, True)
            results = await run_on_sessions(self.workflow, {self.database_of(): session}, params, run_id=session.run_id)
        except Exception as exc:
            if session.in_transaction:
                await session.rollback()
            if self.on_error == "raise" or retryable(exc):
                raise
            return _failed(exc)
        finally:
            if sqlite_read_only and not session.broken:
                await _read_only(session, False)
        await session.commit()
        return {"ok": True, "results": results}

    def database_of(self) -> DataFlow:
        db = type(self).database
        assert db is not None
        return db


# SQLite's authorizer codes (sqlite3.h; fixed by its C API), named here rather than read from the
# sqlite3 module, so that importing this package does not import the driver before a pool opens.
SQLITE_OK, SQLITE_DENY = 0, 1
_SQLITE_READS = frozenset({
    21,  # SQLITE_SELECT
    20,  # SQLITE_READ
    31,  # SQLITE_FUNCTION
    22,  # SQLITE_TRANSACTION
    32,  # SQLITE_SAVEPOINT
    19,  # SQLITE_PRAGMA
    33,  # SQLITE_RECURSIVE
})  # fmt: skip


def _sqlite_reads_only(action: int, *details: object) -> int:
    return SQLITE_OK if action in _SQLITE_READS else SQLITE_DENY


async def _read_only(session: Session, on: bool) -> None:
    if session.dialect.name == "sqlite":
        # An authorizer, not PRAGMA query_only: SQLite reports a query_only write as a read-only
        # database, which the dialect takes for a lost connection. Setting one re-prepares
        # cached statements, so a cached INSERT is refused too.
        authorizer = _sqlite_reads_only if on else None

        async def action(connection: Any) -> None:
            await connection.run(lambda raw: raw.set_authorizer(authorizer))

        await session.call(action, sql="-- read-only scope" if on else "-- end of read-only scope")
    elif on:
        await session.execute("SET TRANSACTION READ ONLY")


async def _rollback_to(session: Session, name: str) -> bool:
    """Roll back to the savepoint; False when that is impossible (the database aborted the whole transaction)."""
    if session.broken:
        return False
    try:
        await session.execute(f"ROLLBACK TO SAVEPOINT {name}")
        await session.execute(f"RELEASE SAVEPOINT {name}")
    except DataFlowError:
        return False
    return True


def _failed(error: Exception) -> dict[str, Any]:
    cause = getattr(error, "cause", None) or error
    return {
        "ok": False,
        "error": getattr(error, "message", None) or str(error),
        "error_type": type(cause).__name__,
        "failed_node": getattr(error, "node_id", None),
        "results": dict(getattr(error, "results", None) or {}),
    }


def transaction_scope(
    db: DataFlow,
    workflow: Workflow | WorkflowBuilder,
    *,
    isolation: str | None = None,
    read_only: bool = False,
    on_error: str = "continue",
    type_name: str = "TransactionScopeNode",
) -> type[TransactionScopeNode]:
    """A node type running ``workflow`` (nodes of ``db`` only) as a scope; checked now, not at run time."""
    inner = built(workflow, inputs_at_run=True)
    check_bound(inner, [db], "transaction scope")
    if on_error not in ON_ERROR:
        raise WorkflowBuildError(f"on_error must be one of {', '.join(ON_ERROR)}, got {on_error!r}")
    levels = db.dialect.capabilities.isolation_levels
    if isolation is not None and isolation not in levels:
        raise WorkflowBuildError(f"isolation {isolation!r} is not supported by {db.dialect.name}; use one of {levels}")
    attributes: dict[str, Any] = {
        "type_name": type_name,
        "database": db,
        "workflow": inner,
        "isolation": isolation,
        "read_only": read_only,
        "on_error": on_error,
        "repeatable": all(inner.nodes[node_id].node_class.repeatable for node_id in inner.order),
        "__doc__": TransactionScopeNode.__doc__,
    }
    return type(type_name, (TransactionScopeNode,), attributes)


def add_transaction_scope(
    builder: WorkflowBuilder,
    node_id: str,
    db: DataFlow,
    workflow: Workflow | WorkflowBuilder,
    parameters: Mapping[str, Mapping[str, Any]] | None = None,
    **options: Any,
) -> str:
    """Add a :func:`transaction_scope` node to ``builder``; ``options`` are its isolation, read_only, on_error."""
    node_class = transaction_scope(db, workflow, **options)
    return builder.add_node(node_class, node_id, {"parameters": dict(parameters or {})})
