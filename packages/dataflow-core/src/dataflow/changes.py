"""Change capture: the before and after images of the rows a write touched, for plugins that ask.

A plugin registers a :class:`ChangeListener` (``dataflow_register_change_listeners``);
``captures(schema)`` is asked once per model when ``db.model`` generates its nodes,
so a model no listener wants pays one attribute check per write and nothing more.
For a captured model every write node runs inside ``session.atomic()`` and hands
one :class:`ChangeSet` per node run to ``changed(session, changes)`` on the same
session, before the transaction ends: rows a listener writes there commit or roll
back with the write itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

import attrs

if TYPE_CHECKING:
    from .batches import Program
    from .schema import ModelSchema
    from .session import Session
    from .sql import Params

ChangeKind = Literal["create", "update", "delete"]


@attrs.frozen
class RowChange:
    """One row a write touched: its key, and the row before and after (None where it did not exist).

    A soft delete is a ``delete`` whose ``after`` is the row with its ``deleted_at`` set.
    """

    kind: ChangeKind
    key: Any
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None


class CreatedRows(Sequence[RowChange]):
    """The rows a bulk create wrote, held column-wise as the node knew them, without reading them back.

    It reads as a sequence of ``create`` :class:`RowChange` (each made when it is
    read); a listener that handles many rows may read :attr:`columns` instead:
    every field of the model, as a list of values in row order (``keys[i]`` is
    the key of row ``i``).
    """

    __slots__ = ("columns", "keys")

    def __init__(self, keys: Sequence[Any], columns: Mapping[str, Sequence[Any]]) -> None:
        self.keys = keys
        self.columns = columns

    def __len__(self) -> int:
        return len(self.keys)

    def _row(self, index: int) -> RowChange:
        return RowChange("create", self.keys[index], None, {n: c[index] for n, c in self.columns.items()})

    @overload
    def __getitem__(self, index: int) -> RowChange: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[RowChange]: ...
    def __getitem__(self, index: int | slice) -> RowChange | Sequence[RowChange]:
        if isinstance(index, slice):
            return [self._row(i) for i in range(*index.indices(len(self.keys)))]
        if index < 0:
            index += len(self.keys)
        if not 0 <= index < len(self.keys):
            raise IndexError(index)
        return self._row(index)

    def __iter__(self) -> Iterator[RowChange]:
        return (self._row(i) for i in range(len(self.keys)))


@attrs.frozen
class ChangeSet:
    """Every row one node run changed, read set-wise (never one statement per row).

    ``operation`` is the node's (``update``, ``bulk_create``, ...); ``node_id`` the
    workflow node's id (``express.update`` for the direct API). ``rows`` is a
    :class:`CreatedRows` when a bulk create's rows were known without reading them back.
    """

    schema: ModelSchema
    operation: str
    node_id: str
    rows: Sequence[RowChange]


class ChangeListener(Protocol):
    """Receives the changes of the models it captures."""

    def captures(self, schema: ModelSchema) -> bool:
        """Does this listener want the changes of ``schema``? Asked once, when the model is defined."""

    async def changed(self, session: Session, changes: ChangeSet) -> None:
        """Called inside the write's transaction, on its session; raising rolls the write back."""


FUSED_ROW = "written"
"""The name of the common table expression that holds the row a fused update wrote (see :class:`FusedUpdate`)."""


@attrs.frozen
class FusedUpdate:
    """A captured one-record update by key that may run in one go, its change recorded in that same go.

    The core offers an ``Update`` by ``id`` to every listener of the model that has
    ``fuse_update`` (:class:`UpdateFuser`), in one of two forms:

    - one statement, on a dialect with writable CTEs (``Capabilities.writable_cte``)::

        WITH written AS (UPDATE <table> SET ... FROM (<before image, locked>) ... RETURNING ...),
             <each listener's CTEs>
        SELECT <the record> FROM written

      ``written`` (:data:`FUSED_ROW`) holds the updated row, or no row when none
      matched; :meth:`after` and :meth:`before` name its columns. One statement is
      atomic by itself: outside a transaction it runs in autocommit.
    - one program (``in_program``), on a connection that runs a program in one call
      (SQLite's, on its thread): the before image, the UPDATE, then each listener's
      :data:`FusedSteps` with the two images, all or nothing (a transaction of its
      own outside one, a savepoint inside), in one hop. ``params`` and ``quote``
      serve the statement form only.
    - one call (``in_call``), on a dialect that has neither (MySQL/MariaDB): one
      listener returns a :class:`FusedCall`, a statement (a stored procedure's
      CALL) that makes the write itself, with ``written``, and records it, all or
      nothing, and returns the record as written as its result set (no row when
      none matched); the other listeners must return ``""``. Offered only
      when the session's scope adds nothing to the key (no tenancy filter, no
      soft delete).

    Either way a listener's rows commit or fail with the write.
    """

    schema: ModelSchema
    node_id: str
    key: Any
    """The record's key, validated (the value the statement binds)."""
    assigned: tuple[str, ...]
    """The columns the SET list writes: only these can differ between before and after."""
    params: Params
    """The statement's bound values so far: a listener binds its own values with ``params.add``, in text order."""
    quote: Callable[[str], str]
    in_program: bool = False
    """The update runs as a program: a listener returns :data:`FusedSteps`, not CTEs."""
    in_call: bool = False
    """The update runs as one call that a listener makes: it returns a :class:`FusedCall`."""
    written: tuple[Any, ...] = ()
    """For ``in_call``: the assigned columns' values as the dialect binds them (``assigned``'s order), then the key."""

    def after(self, name: str) -> str:
        """SQL for column ``name`` of the row as written (a column of ``written``)."""
        return f"{self.quote(FUSED_ROW)}.{self.quote(name)}"

    def before(self, name: str) -> str:
        """SQL for assigned column ``name`` as it was before the update, read under the row's lock."""
        if name not in self.assigned:
            raise KeyError(f"{name!r} is not assigned by this update: its value before is its value after")
        return f"{self.quote(FUSED_ROW)}.{self.quote(before_column(name))}"


@attrs.frozen
class FusedCall:
    """A listener's whole fused update (``FusedUpdate.in_call``): one statement, its result set the record.

    ``unavailable`` tells an error that means the statement could not start (a stored procedure
    dropped since it was made): the update then runs the usual way instead, in the same run.
    """

    sql: str
    params: tuple[Any, ...]
    unavailable: Callable[[BaseException], bool] | None = None


FusedSteps = Callable[[Mapping[str, Any], Mapping[str, Any]], "Program[None]"]
"""A listener's part of a fused update's program: called with the assigned fields' values before
(decoded, only those) and the whole record as written (decoded), it yields the listener's statements.
It runs between the UPDATE and the COMMIT on the connection's thread: plain Python, no awaiting, and
called only when a row matched."""


def before_column(name: str) -> str:
    """The name ``written`` gives to column ``name``'s before image (a dot: never a model field's name)."""
    return f"old.{name}"


class UpdateFuser(Protocol):
    """A change listener that can record a one-record update inside the update's own statement (optional)."""

    async def fuse_update(self, session: Session, update: FusedUpdate) -> str | FusedSteps | FusedCall | None:
        """The CTEs (``name AS (...)``, comma-separated) that record ``update``, reading ``written``;
        for an update ``in_program``, the :data:`FusedSteps` that record it; ``in_call``, the :class:`FusedCall`.

        Return ``""`` when this update needs no record from this listener, or None when
        it cannot be recorded so (a value it must transform with awaits, ...): the write
        is then captured as usual and ``changed`` called. Called before the update
        runs; it may still match no row (``written`` is empty then; no steps are called).
        """
