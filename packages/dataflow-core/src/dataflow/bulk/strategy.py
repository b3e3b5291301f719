"""Bulk strategies: named ways to run one bulk operation, chosen per dialect and request."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

import attrs

from ..errors import ValidationError
from ..plugins import plugin_host

if TYPE_CHECKING:
    from ..dialect import Dialect
    from ..session import Session
    from ..sql import TableSQL

Operation = Literal["create", "update", "delete", "upsert"]


@attrs.frozen
class BulkRequest:
    """One bulk operation, validated and ready to write.

    ``rows`` hold parameter values already encoded for the driver, in the
    order of ``columns``. For ``update``, ``columns`` are the fields set and
    each row ends with the key; for ``delete``, ``keys`` are the primary keys.
    """

    operation: Operation
    table: TableSQL
    columns: tuple[str, ...] = ()
    rows: Sequence[Sequence[Any]] = ()
    keys: Sequence[Any] = ()
    batch_size: int = 1000
    return_ids: bool = False
    conflict_on: tuple[str, ...] = ()
    update_fields: tuple[str, ...] = ()
    scope: Any = None
    """The tenancy/soft-delete filter every touched row must satisfy, or None."""

    @property
    def increments(self) -> tuple[str, ...]:
        """Columns an upsert's update adds 1 to, besides ``update_fields``: a versioned model's version."""
        version = self.table.schema.version_field
        return (version,) if version is not None and self.update_fields else ()


@attrs.frozen
class BulkResult:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    ids: list[Any] | None = None


class BulkStrategy(Protocol):
    """A way to run one kind of bulk operation."""

    # Read-only properties, so that frozen attrs classes and plain class attributes both satisfy them.
    @property
    def name(self) -> str: ...

    @property
    def operation(self) -> Operation: ...

    @property
    def priority(self) -> int:
        """Higher wins among applicable strategies."""

    # Optional: ``whole_request = True`` asks for one call with every row of a node, instead of one call
    # per slice while the next slice is validated. The rows are then validated as the strategy reads them:
    # a streaming strategy (COPY) that reads them once, in order, overlaps validation with the server's
    # work, and a bad row raises from the iteration (the node's transaction takes back what was sent).

    def cannot_run(self, dialect: Dialect, request: BulkRequest) -> str | None:
        """None when this strategy can run ``request`` on ``dialect``, else why not, as a short phrase.

        The phrase ends the error of a forced ``strategy=`` that cannot run
        ("... cannot run this create on sqlite: it cannot return ids"). A
        dialect's own strategies (:meth:`Dialect.bulk_strategies`) are only
        offered on that dialect, so they need not check which dialect it is.
        """

    async def run(self, session: Session, request: BulkRequest) -> BulkResult:
        """Write the request; called inside ``session.atomic()``."""


def offered_strategies(generic: Iterable[BulkStrategy], dialect: Dialect) -> list[BulkStrategy]:
    """Every strategy a database of ``dialect`` can be offered: the generic ones, then the dialect's own."""
    return [*generic, *dialect.bulk_strategies()]


def choose_strategy(
    generic: Iterable[BulkStrategy], dialect: Dialect, request: BulkRequest, forced: str | None
) -> BulkStrategy:
    """The strategy to run: the one named by ``forced``, else the best one that can run ``request``.

    ``generic`` are the strategies plugins registered for every dialect; the
    dialect's own come from ``dialect.bulk_strategies()``.
    """
    candidates = [s for s in offered_strategies(generic, dialect) if s.operation == request.operation]
    model = request.table.schema.name
    operation = f"{request.operation} on {dialect.name}"
    if forced is not None:
        for strategy in candidates:
            if strategy.name == forced:
                reason = strategy.cannot_run(dialect, request)
                if reason is not None:
                    raise ValidationError(
                        f"bulk strategy {forced!r} cannot run this {operation}: {reason}", model=model, field="strategy"
                    )
                return strategy
        names = ", ".join(sorted(s.name for s in candidates)) or "none"
        raise ValidationError(
            f"unknown bulk {request.operation} strategy {forced!r} for {dialect.name}; available on {dialect.name}: "
            f"{names}",
            model=model,
            field="strategy",
        )
    refusals = {s.name: s.cannot_run(dialect, request) for s in candidates}
    applicable = [s for s in candidates if refusals[s.name] is None]
    if not applicable:
        reasons = "; ".join(f"{name}: {reason}" for name, reason in sorted(refusals.items())) or "none is registered"
        raise ValidationError(f"no bulk strategy can run this {operation} ({reasons})", model=model)
    return max(applicable, key=lambda s: s.priority)


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def registered_bulk_strategies() -> list[BulkStrategy]:
    """Every bulk strategy the loaded plugins register (core's own included), read once per plugin set."""
    return plugin_host().cached("dataflow_register_bulk_strategies", list)
