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

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol

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


@attrs.frozen
class ChangeSet:
    """Every row one node run changed, read set-wise (never one statement per row).

    ``operation`` is the node's (``update``, ``bulk_create``, ...); ``node_id`` the
    workflow node's id (``express.update`` for the direct API).
    """

    schema: ModelSchema
    operation: str
    node_id: str
    rows: tuple[RowChange, ...]


class ChangeListener(Protocol):
    """Receives the changes of the models it captures."""

    def captures(self, schema: ModelSchema) -> bool:
        """Does this listener want the changes of ``schema``? Asked once, when the model is defined."""

    async def changed(self, session: Session, changes: ChangeSet) -> None:
        """Called inside the write's transaction, on its session; raising rolls the write back."""
