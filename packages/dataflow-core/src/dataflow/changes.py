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

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

import attrs

if TYPE_CHECKING:
    from .schema import ModelSchema
    from .session import Session

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
