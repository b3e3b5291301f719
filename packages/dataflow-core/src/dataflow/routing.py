"""Which database a node runs on, primary or read replica, and read-your-writes across runs.

Outside a transaction, a node that only reads (``Node.reads_only``) runs on a
replica unless its run or the node says ``replica=False``, its run already
wrote to that database (the run's own primary session sees its writes), or
the caller wrote within ``read_your_writes_window`` seconds and no replica has
replayed that write yet. Everything else runs on the primary. A replica that
fails mid-read is taken out and the read runs again elsewhere, so no read
fails because a replica went down.

The caller's writes are kept per *caller context*: the context variables of
the task (or thread, for the synchronous faces) that starts runs and express
calls. :func:`caller_context` starts a fresh one (one per request, say).
"""

from __future__ import annotations

import contextvars
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from time import monotonic
from typing import TYPE_CHECKING, Any

from .errors import ConnectionError, DataFlowError, ValidationError, WorkflowBuildError
from .nodes.base import REPLICA, Node

if TYPE_CHECKING:
    from .database import DataFlow
    from .replicas import ReplicaSession, ReplicaSet
    from .session import Session
    from .workflow.builder import Workflow

PRIMARY_ONLY = ""
"""A write whose position could not be read: until the window ends, only the primary will do."""
UNREAD = "\x00unread"
"""A write whose position is not read yet: only the primary will do until the caller's next primary session
reads it (after the write, so it covers the write). A caller that writes and reads nothing more costs no round trip."""
NO_REPLICA: Any = object()
"""What :meth:`RunRoute.on_replica` returns when no replica would do: run on the primary."""


class WriteMarks:
    """Where one caller context's last writes reached, per replica set, and until when reads must see them."""

    def __init__(self) -> None:
        # Keyed by id, holding the set weakly: a WeakKeyDictionary lookup makes a weakref
        # (about 0.3 us), and this is read for every node of a caller that wrote.
        self._marks: dict[int, tuple[weakref.ref[ReplicaSet], str, float]] = {}
        self.pending = False
        """Has this caller written anything it may still need to read? (An attribute, not ``len``: read per node.)"""

    def __bool__(self) -> bool:
        return self.pending

    def needs(self, replicas: ReplicaSet) -> str | None:
        """The position a replica must have replayed to serve this caller (``PRIMARY_ONLY``: none can); None: any."""
        if not self.pending:
            return None
        mark = self._marks.get(id(replicas))
        if mark is None or mark[0]() is not replicas:
            return None
        if monotonic() >= mark[2]:
            del self._marks[id(replicas)]
            self.pending = bool(self._marks)
            return None
        position = mark[1]
        return PRIMARY_ONLY if position is UNREAD else position

    def unread(self, replicas: ReplicaSet) -> bool:
        """Is this caller's last write to ``replicas``' primary, in its window, without a position yet?"""
        mark = self._marks.get(id(replicas))
        return mark is not None and mark[1] is UNREAD and mark[0]() is replicas and monotonic() < mark[2]

    def read(self, replicas: ReplicaSet, position: str | None) -> None:
        """The position of an unread write, read since: replicas that replayed it may serve the rest of the window."""
        mark = self._marks.get(id(replicas))
        if mark is not None and mark[1] is UNREAD:
            self._marks[id(replicas)] = (mark[0], PRIMARY_ONLY if position is None else position, mark[2])

    def wrote(self, replicas: ReplicaSet, position: str | None, window: float) -> None:
        if window <= 0:
            return
        now = monotonic()
        marks = self._marks
        for key in [key for key, (ref, _, until) in marks.items() if ref() is None or until <= now]:
            del marks[key]  # a replica set since closed, or a window over: nothing reads them again
        marks[id(replicas)] = (weakref.ref(replicas), PRIMARY_ONLY if position is None else position, now + window)
        self.pending = True


_marks: contextvars.ContextVar[WriteMarks | None] = contextvars.ContextVar("dataflow_write_marks", default=None)


def caller_marks() -> WriteMarks:
    """The write marks of the running caller context, made on first use."""
    marks = _marks.get()
    if marks is None:
        marks = WriteMarks()
        _marks.set(marks)
    return marks


@contextmanager
def caller_context() -> Iterator[WriteMarks]:
    """A fresh caller context for the block: writes made before it (or beside it) do not pin its reads."""
    token = _marks.set(WriteMarks())
    try:
        yield _marks.get()  # type: ignore[misc]
    finally:
        _marks.reset(token)


def reads_only(node_class: type[Node], inputs: Mapping[str, Any]) -> bool:
    """Does this node only read? The class's ``reads`` when it knows, else its inputs decide."""
    reads = node_class.reads
    return node_class.reads_only(inputs) if reads is None else reads


def check_replica_run(workflow: Workflow, parameters: Mapping[str, Mapping[str, Any]], transaction: bool) -> None:
    """``replica=True`` on a run: refuse it before anything runs when a node would write."""
    if transaction:
        raise WorkflowBuildError("replica=True and a transaction: transactions run on the primary")
    for node_id, spec in workflow.nodes.items():
        node_class = spec.node_class
        inputs = {**spec.params, **parameters.get(node_id, {})}
        if node_class.database is not None and not reads_only(node_class, inputs):
            raise WorkflowBuildError(
                f"replica=True, but node {node_id!r} ({node_class.type_name}) writes; a run on replicas only "
                "reads (drop replica=True, or mark a reading SQLNode read_only=True)",
                node_id=node_id,
            )


def note_writes(db: DataFlow, session: Session) -> None:
    """A primary session that wrote is going back, committed: the caller's reads need the primary for now.

    Called by ``DataFlow.close_session``, so that every writer (runs, express
    calls, transaction blocks, dataflow-txn's participants) is covered. No
    round trip: the write's position is read by the caller's next primary
    session (:func:`note_position`), if the caller reads again in the window.
    """
    replicas = db.replicas
    if replicas is None or session.broken or session.in_transaction:
        return
    caller_marks().wrote(replicas, UNREAD, db.config.read_your_writes_window)


def position_unread(replicas: ReplicaSet) -> bool:
    """Has the running caller a write to ``replicas``' primary whose position is still to be read? (No allocation.)"""
    marks = _marks.get()
    return marks is not None and marks.pending and marks.unread(replicas)


async def note_position(db: DataFlow, session: Session) -> None:
    """A primary session of a caller with an unread write goes back: read the primary's position now.

    The position is read after the write committed, so it covers it (and
    perhaps later writes of others: a replica then serves the caller a little
    later than it could have, never too early).
    """
    replicas = db.replicas
    if replicas is None or session.broken or session.in_transaction:
        return
    try:
        position = await replicas.probe.write_position(session.connection)
    except Exception:  # noqa: BLE001 - unknown: the window keeps the caller on the primary
        position = None
    caller_marks().read(replicas, position)


class RunRoute:
    """The routing state of one run (or one express call): its replica sessions and which databases it wrote."""

    def __init__(self, *, replica: bool | None = None, pinned: bool = False) -> None:
        self.replica = replica
        self.pinned = pinned
        """A transaction run, or a run on the caller's sessions: everything on the primary."""
        self.primary_only = pinned or replica is False
        """Decided once per run: no node of it reads on a replica."""
        self.marks = caller_marks()
        self.wrote: set[DataFlow] = set()
        self.sessions: dict[DataFlow, ReplicaSession] = {}

    def wants_replica(self, db: DataFlow, node_class: type[Node], inputs: Mapping[str, Any], choice: Any) -> bool:
        """May this node run on one of ``db``'s replicas? (``choice`` is the node's ``replica`` input.)

        Runs for every node of every run on a database with replicas: the common
        case (a reading model node, no choice, no recent write) reads attributes
        only, with no call and no allocation.
        """
        if choice is not None:
            if type(choice) is not bool:
                message = f"{node_class.type_name}: replica must be true or false, got {choice!r}"
                raise ValidationError(message, field=REPLICA)
            if choice is True and not reads_only(node_class, inputs):
                raise ValidationError(
                    f"{node_class.type_name}: replica=True, but this node writes; writes run on the primary",
                    field=REPLICA,
                )
            if choice is False:
                return False
        replicas = db.replicas
        if replicas is None or self.primary_only or db in self.wrote:
            return False
        reads = node_class.reads
        if reads is None:
            reads = node_class.reads_only(inputs)
        if not reads:
            return False
        marks = self.marks
        return not marks.pending or marks.needs(replicas) != PRIMARY_ONLY

    def used_primary(self, db: DataFlow, node_class: type[Node], inputs: Mapping[str, Any], session: Session) -> None:
        """A node ran on the primary: a writing one pins the rest of the run's reads there."""
        if db.replicas is not None and not reads_only(node_class, inputs):
            self.wrote.add(db)
            session.wrote = True

    async def on_replica(
        self, db: DataFlow, run_id: str | None, context: Mapping[str, Any], run: Callable[[Session], Awaitable[Any]]
    ) -> Any:
        """``run(session)`` on a replica session of the run; ``NO_REPLICA`` when none is usable.

        A replica that loses its connection mid-read is taken out and the read
        runs again on the next one (reads are safe to repeat).
        """
        replicas = db.replicas
        assert replicas is not None
        if not db.schema_ready:
            return NO_REPLICA  # the primary's first session creates or checks the tables
        while True:
            session = self.sessions.get(db)
            if session is None:
                needs = self.marks.needs(replicas)
                session = await replicas.open_session(db, run_id=run_id, context=context, needs=needs)
                if session is None:
                    return NO_REPLICA
                self.sessions[db] = session
            try:
                return await run(session)
            except DataFlowError as exc:
                if not session.broken and not isinstance(exc, ConnectionError):
                    raise
                session.replica.failed(exc)
                del self.sessions[db]
                await db.close_session(session)

    async def finish(self) -> None:
        """Give back the replica sessions."""
        while self.sessions:
            db, session = self.sessions.popitem()
            await db.close_session(session)
