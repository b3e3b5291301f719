"""The tenancy-filter contract: narrowing and filling every statement of a node."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .schema import ModelSchema

if TYPE_CHECKING:
    from .database import DataFlow


class TenancyFilter(Protocol):
    """Registered through ``dataflow_register_tenancy_filters``; both methods fail closed."""

    def scope(self, schema: ModelSchema, context: Mapping[str, Any]) -> dict[str, Any] | None:
        """A filter every statement on ``schema`` must satisfy in this run, or None.

        ``context`` is the run's context (``tenant`` and whatever the caller
        passed). Raise to refuse the statement.
        """

    def fill(self, schema: ModelSchema, row: dict[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
        """The row to write: completed (e.g. with ``tenant_id``) or refused by raising."""

    # Optional, read with getattr so filters may leave them out:
    # ``protected_fields(schema) -> Iterable[str]``: fields no Update, BulkUpdate or upsert may change.
    # ``conflict_fields(schema) -> Iterable[str]``: fields every upsert conflict target must include
    # (``tenant_id``), put in front of the caller's ``conflict_on`` unless that is the primary key.
    # ``fills(schema) -> bool``: False when ``fill`` returns every row of ``schema`` unchanged and never
    # raises (a model the filter does not scope); bulk writes then skip copying and filling each row.


class SessionHook(Protocol):
    """Registered through ``dataflow_register_session_hooks``: per-connection state around a run."""

    async def session_opened(self, session: Any) -> None:
        """Before the session's first statement; raise to refuse the run (the connection is discarded)."""

    async def session_closing(self, session: Any) -> None:
        """After its transaction ended, before the connection is pooled again; undo ``session_opened``."""


class TenancyScope:
    """What a session's tenancy filters ask of its statements: the scope, protected fields, conflict targets, fills.

    A base of :class:`dataflow.session.Session`, which has the ``db`` and ``context`` used here.
    """

    if TYPE_CHECKING:
        db: DataFlow
        context: Mapping[str, Any]

    def scope(self, schema: ModelSchema) -> dict[str, Any] | None:
        """The filters every statement on ``schema`` must also satisfy, ANDed; None when unscoped."""
        clauses = [c for f in self.db.tenancy_filters if (c := f.scope(schema, self.context)) is not None]
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def protected(self, schema: ModelSchema) -> frozenset[str]:
        """Fields of ``schema`` no update may change (the tenancy filters' ``protected_fields``)."""
        names: set[str] = set()
        for tenancy_filter in self.db.tenancy_filters:
            protected_fields = getattr(tenancy_filter, "protected_fields", None)
            if protected_fields is not None:
                names.update(protected_fields(schema))
        return frozenset(names)

    def conflict_target(self, schema: ModelSchema, conflict_on: tuple[str, ...]) -> tuple[str, ...]:
        """``conflict_on`` with the fields tenancy filters require in it (``tenant_id``) in front.

        The primary key alone identifies a row and is left as it is.
        """
        if conflict_on == (schema.primary_key,):
            return conflict_on
        required: list[str] = []
        for tenancy_filter in self.db.tenancy_filters:
            conflict_fields = getattr(tenancy_filter, "conflict_fields", None)
            if conflict_fields is not None:
                required += [name for name in conflict_fields(schema) if name not in conflict_on]
        return (*dict.fromkeys(required), *conflict_on) if required else conflict_on

    def fills(self, schema: ModelSchema) -> bool:
        """May a tenancy filter change or refuse rows of ``schema``? False lets bulk writes skip copying them.

        A filter without the optional ``fills(schema)`` method is asked about every row.
        """
        for tenancy_filter in self.db.tenancy_filters:
            fills = getattr(tenancy_filter, "fills", None)
            if fills is None or fills(schema):
                return True
        return False

    def fill(self, schema: ModelSchema, row: dict[str, Any]) -> dict[str, Any]:
        """``row`` as the tenancy filters complete it, before it is validated and written."""
        for tenancy_filter in self.db.tenancy_filters:
            row = tenancy_filter.fill(schema, row, self.context)
        return row
