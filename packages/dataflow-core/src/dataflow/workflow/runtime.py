"""Running workflows: async at heart, with a synchronous face.

A run opens at most one session (one connection) per database, on first
need, and keeps it to the end. Nodes whose inputs are ready run
concurrently; nodes of one database take turns on its connection. With
``transaction=True`` every session begins a transaction when it opens and
the run commits them all at the end, or rolls them all back when a node
fails.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping
from time import perf_counter
from typing import TYPE_CHECKING, Any

from ..database import close_loop_pools
from ..errors import DataFlowError, WorkflowBuildError, WorkflowError
from ..events import NodeFinished, WorkflowFinished, emit
from ..loops import run_sync
from ..nodes.base import AS_TENANT, REPLICA, ModelNode, run_model_node
from ..routing import NO_REPLICA, RunRoute, caller_marks, check_replica_run
from ..run_ids import new_run_id
from ..session import Session
from .builder import Connection, NodeSpec, Workflow, WorkflowBuilder, no_such_output
from .delivery import _output_at, _set_input, _Undeliverable
from .expression import MissingOutput

if TYPE_CHECKING:
    from ..database import DataFlow

Results = dict[str, Any]
_ABSENT = object()


class _Run:
    def __init__(
        self,
        workflow: Workflow,
        parameters: Mapping[str, Mapping[str, Any]],
        *,
        transaction: bool,
        isolation: str | None,
        context: Mapping[str, Any],
        sessions: Mapping[DataFlow, Session] | None = None,
        run_id: str | None = None,
        replica: bool | None = None,
    ) -> None:
        self.workflow = workflow
        self.parameters = parameters
        self.transaction = transaction
        self.isolation = isolation
        self.context = context
        self.run_id = run_id or new_run_id()
        self.results: Results = {}
        self.sessions: dict[DataFlow, Session] = dict(sessions or {})
        self.external = sessions is not None
        """The caller holds the sessions: nothing is opened, committed, rolled back or closed here."""
        self.route = RunRoute(replica=replica, pinned=transaction or self.external)
        """Which nodes read on replicas (:mod:`dataflow.routing`)."""
        self.databases: list[DataFlow] = list(self.sessions)
        """Every database the run used a session of (kept after the sessions are released)."""
        # The caller may be a node holding its session's lock (a scope running a sub-workflow):
        # nodes of this run take turns on a lock of the run's own instead.
        self._turns: dict[int, asyncio.Lock] = {}
        self._open_lock: asyncio.Lock | None = None
        """Made when nodes first run concurrently: until then one node at a time asks for sessions."""
        self._inputs: dict[str, dict[str, Any]] = {}
        incoming = workflow.incoming
        self._pending = {node_id: len(incoming[node_id]) for node_id in workflow.nodes} if workflow.connections else {}
        self._blocked: set[str] = set()
        self.skipped: set[str] = set()

    # -- sessions ---------------------------------------------------------------

    async def session_for(self, db: DataFlow) -> Session:
        session = self.sessions.get(db)
        if session is not None:
            return session
        if self.external:
            raise WorkflowError(f"a node needs a session of {db.label}, which this run was not given")
        if self._open_lock is None:
            return await self._open(db)  # no other node of this run is running
        # Concurrent branches may ask at once: the lock makes one of them open it, and a
        # session is shared only once its transaction has begun.
        async with self._open_lock:
            session = self.sessions.get(db)
            return await self._open(db) if session is None else session

    async def _open(self, db: DataFlow) -> Session:
        session = await db.open_session(run_id=self.run_id, context=self.context)
        if self.transaction:
            try:
                await session.begin(self.isolation)
            except BaseException:
                await db.close_session(session)
                raise
        self.sessions[db] = session
        self.databases.append(db)
        return session

    async def finish(self, success: bool) -> BaseException | None:
        """Commit or roll back every session, then release them all; return a commit failure.

        Sessions leave ``self.sessions`` as they are released, so a second call
        (after a cancellation) finishes only what the first did not.
        """
        if self.external:
            return None
        failure: BaseException | None = None
        if self.route.sessions:  # replica sessions to give back (most runs have none: no coroutine then)
            await self.route.finish()
        for session in list(self.sessions.values()):
            try:
                if self.transaction and session.in_transaction:
                    if success and failure is None:
                        await session.commit()
                    else:
                        await session.rollback()
            except DataFlowError as exc:
                failure = failure or exc
        while self.sessions:
            db, session = self.sessions.popitem()
            await db.close_session(session)
        return failure

    # -- scheduling -------------------------------------------------------------

    async def execute(self) -> Results:
        pending = self._pending
        order = self.workflow.order
        ready = deque(order if not pending else (node_id for node_id in order if pending[node_id] == 0))
        running: dict[asyncio.Task[Any], str] = {}
        failure: tuple[str, BaseException] | None = None
        try:
            while ready or running:
                if failure is None and len(ready) == 1 and not running:
                    # A chain of single nodes runs inline: no task, no scheduling round trip.
                    node_id = ready.popleft()
                    try:
                        self.deliver(node_id, await self.run_node(node_id), ready)
                    except Exception as exc:  # noqa: BLE001 - reported as the run's failure
                        failure = (node_id, exc)
                    continue
                if failure is None:
                    if self._open_lock is None:
                        self._open_lock = asyncio.Lock()
                    while ready:
                        node_id = ready.popleft()
                        running[asyncio.get_running_loop().create_task(self.run_node(node_id))] = node_id
                else:
                    ready.clear()
                if not running:
                    break
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    node_id = running.pop(task)
                    error = task.exception()
                    if error is not None:
                        failure = failure or (node_id, error)
                        continue
                    try:
                        self.deliver(node_id, task.result(), ready)
                    except Exception as exc:  # noqa: BLE001
                        failure = failure or (node_id, exc)
        except BaseException:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            raise
        if failure is not None:
            node_id, error = failure
            if isinstance(error, _Undeliverable):
                # The source ran and its result stands; the fault is in the connection.
                raise WorkflowError(str(error), results=self.results, run_id=self.run_id) from None
            spec = self.workflow.nodes[node_id]
            message = getattr(error, "message", None) or str(error) or type(error).__name__
            raise WorkflowError(
                f"node {node_id!r} ({spec.node_class.type_name}) failed: {message}",
                node_id=node_id,
                cause=error,
                results=self.results,
                run_id=self.run_id,
            ) from error
        return self.results

    async def run_node(self, node_id: str) -> Any:
        spec = self.workflow.nodes[node_id]
        inputs = self._inputs.pop(node_id, None)
        if inputs is None:
            inputs = dict(spec.params)
        runtime_params = self.parameters.get(node_id)
        if runtime_params:
            inputs = {**inputs, **runtime_params}
        db = spec.node_class.database
        if db is None:
            return await spec.node_class(node_id, spec.params).run(None, inputs)
        choice = inputs.pop(REPLICA, None) if REPLICA in inputs else None
        if (db.replicas is not None or choice is not None) and self.route.wants_replica(
            db, spec.node_class, inputs, choice
        ):
            output = await self.route.on_replica(
                db, self.run_id, self.context, lambda session: self.run_on(session, node_id, dict(inputs))
            )
            if output is not NO_REPLICA:
                return output
        session = self.sessions.get(db)
        if session is None:  # the common case, one node at a time, opens it here: a coroutine less
            alone = self._open_lock is None and not self.external
            session = await (self._open(db) if alone else self.session_for(db))
        self.route.used_primary(db, spec.node_class, inputs, session)
        return await self.run_on(session, node_id, inputs)

    async def run_on(self, session: Session, node_id: str, inputs: dict[str, Any]) -> Any:
        spec = self.workflow.nodes[node_id]
        node = spec.node_class(node_id, spec.params)
        monitors = session.db.monitors
        started = perf_counter()
        error: str | None = None
        turn: asyncio.Lock | None
        if self.external:
            turn = self._turns.setdefault(id(session), asyncio.Lock())
        else:
            # No turns to take while this run's nodes run one at a time (no lock made for concurrency yet).
            turn = session.lock if self._open_lock is not None else None
        try:
            if turn is not None:
                await turn.acquire()
            try:
                if isinstance(node, ModelNode) and (node.captured_run is not None or AS_TENANT in inputs):
                    return await run_model_node(node, session, inputs)
                return await node.run(session, inputs)  # one coroutine less on every resume of the node
            finally:
                if turn is not None:
                    turn.release()
        except BaseException as exc:
            error = type(exc).__name__
            raise
        finally:
            if monitors:
                emit(
                    monitors,
                    NodeFinished(self.run_id, node_id, spec.node_class.type_name, perf_counter() - started, error),
                )

    def deliver(self, node_id: str, output: Any, ready: deque[str]) -> None:
        self.results[node_id] = output
        source = self.workflow.nodes[node_id]
        for connection in self.workflow.outgoing[node_id]:
            target = connection.target
            if connection.condition is None or self.holds(connection, source, output):
                value = _output_at(output, connection.source_output, connection, source)
                inputs = self._inputs.get(target)
                if inputs is None:
                    inputs = self._inputs[target] = dict(self.workflow.nodes[target].params)
                _set_input(inputs, connection.target_input, value, connection)
            else:
                self._blocked.add(target)
            self._arrive(target, ready)

    def holds(self, connection: Connection, source: NodeSpec, output: Any) -> bool:
        """Whether the connection's condition holds for ``output``; naming a missing output is an error."""
        assert connection.condition is not None
        try:
            return bool(connection.condition.evaluate(output))
        except MissingOutput as missing:
            subject = f"{connection.describe()}, condition {connection.condition_text!r}"
            raise _Undeliverable(
                no_such_output(subject, source, missing.parts, missing.depth, missing.options)
            ) from None

    def _arrive(self, node_id: str, ready: deque[str]) -> None:
        self._pending[node_id] -= 1
        if self._pending[node_id]:
            return
        if node_id not in self._blocked:
            ready.append(node_id)
            return
        # A connection into it did not fire: skip it, and whatever depends on it.
        self.skipped.add(node_id)
        self._inputs.pop(node_id, None)
        for connection in self.workflow.outgoing[node_id]:
            self._blocked.add(connection.target)
            self._arrive(connection.target, ready)


class AsyncLocalRuntime:
    """Runs workflows on the running event loop."""

    async def execute_async(
        self,
        workflow: Workflow | WorkflowBuilder,
        parameters: Mapping[str, Mapping[str, Any]] | None = None,
        *,
        transaction: bool = False,
        isolation: str | None = None,
        tenant: str | None = None,
        actor: str | None = None,
        context: Mapping[str, Any] | None = None,
        sessions: Mapping[DataFlow, Session] | None = None,
        run_id: str | None = None,
        replica: bool | None = None,
    ) -> tuple[Results, str]:
        """Run ``workflow``; return ``(results by node id, run id)``.

        ``parameters`` override node parameters by node id. ``isolation``
        implies ``transaction``. ``tenant`` and ``context`` reach tenancy
        filters and monitors; ``actor`` (who runs it, for audit trails) is
        ``context["actor"]``. A failed node raises ``WorkflowError``.

        ``sessions`` runs the nodes on sessions the caller holds (a two-phase
        participant, a saga step, a savepoint scope): the run opens, commits,
        rolls back and closes nothing, and a node of any other database fails.

        ``replica=False`` keeps every node on the primaries; ``replica=True``
        promises the run only reads and fails before it starts when a node
        would write (see :mod:`dataflow.routing`).
        """
        if sessions is not None and (transaction or isolation is not None):
            raise WorkflowBuildError("a run on the caller's sessions leaves transactions to the caller")
        if isinstance(workflow, WorkflowBuilder):
            workflow = workflow.build()
        if not isinstance(workflow, Workflow):
            raise WorkflowBuildError(f"expected a built workflow, got {type(workflow).__name__}")
        parameters = parameters or {}
        for node_id in parameters:
            if node_id not in workflow.nodes:
                raise WorkflowBuildError(f"parameters name unknown node {node_id!r}", node_id=node_id)
        if replica is True:
            check_replica_run(workflow, parameters, transaction or isolation is not None)
        run_context = dict(context or {})
        if tenant is not None:
            run_context["tenant"] = tenant
        if actor is not None:
            run_context["actor"] = actor
        run = _Run(
            workflow,
            parameters,
            transaction=transaction or isolation is not None,
            isolation=isolation,
            context=run_context,
            sessions=sessions,
            run_id=run_id,
            replica=replica,
        )
        success = False
        started = perf_counter()
        failure: str | None = "CancelledError"
        try:
            results = await run.execute()
            success = True
            failure = None
        except BaseException as exc:
            cause = getattr(exc, "cause", None)
            failure = type(cause if cause is not None else exc).__name__
            raise
        finally:
            commit_error: BaseException | None = None
            try:
                commit_error = await run.finish(success)
            except asyncio.CancelledError:
                # Cancelled while finishing: roll back and release in the background, never leak.
                asyncio.get_running_loop().create_task(run.finish(False))
                raise
            finally:
                if failure is None and commit_error is not None:
                    failure = type(commit_error).__name__
                _report_finished(run, perf_counter() - started, failure)
        if commit_error is not None:
            raise WorkflowError(
                f"the run's transaction failed to commit: {commit_error}",
                cause=commit_error,
                results=results,
                run_id=run.run_id,
            ) from commit_error
        return results, run.run_id


def _report_finished(run: _Run, duration: float, failure: str | None) -> None:
    event: WorkflowFinished | None = None
    for db in run.databases:
        if db.monitors:
            event = event or WorkflowFinished(run.run_id, duration, len(run.results), failure)
            emit(db.monitors, event)


class LocalRuntime:
    """The synchronous face of :class:`AsyncLocalRuntime`; works inside a running loop too."""

    def __init__(self) -> None:
        self._runtime = AsyncLocalRuntime()

    def execute(
        self,
        workflow: Workflow | WorkflowBuilder,
        parameters: Mapping[str, Mapping[str, Any]] | None = None,
        **options: Any,
    ) -> tuple[Results, str]:
        caller_marks()  # in the caller's own context, so that its next runs see what this one writes
        return run_sync(lambda: self._runtime.execute_async(workflow, parameters, **options), cleanup=close_loop_pools)
