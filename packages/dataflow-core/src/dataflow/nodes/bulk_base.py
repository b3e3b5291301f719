"""What the bulk nodes share: input checks, choosing a strategy, and writing in validated slices.

Each bulk node runs inside ``session.atomic()``: a bad row or a constraint
violation leaves the table exactly as it was.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any

import attrs

from ..bulk.strategy import BulkRequest, BulkResult, BulkStrategy, choose_strategy, registered_bulk_strategies
from ..errors import ValidationError
from ..session import Session
from ..sql import TableSQL
from .base import ModelNode
from .lazy_rows import LazyRows, Row
from .rows import RowPreparer, check_known
from .statements import check_conflict_target, visible_scope

DEFAULT_BATCH_SIZE = 1000
PIPELINE_ROWS = 25_000
"""Rows validated per slice while the driver writes the previous slice; strategies see one call per slice."""


class BulkNode(ModelNode):
    """What the bulk nodes share: input checks and running a strategy."""

    def rows_input(self, inputs: Mapping[str, Any], name: str = "data") -> Sequence[Any]:
        data = inputs.get(name)
        if data is None:
            raise self.error(f"{name!r} is required", field=name)
        if isinstance(data, (str, bytes, Mapping)) or not isinstance(data, Sequence):
            raise self.error(f"{name!r} must be a list", field=name)
        return data

    def batch_size(self, inputs: Mapping[str, Any]) -> int:
        size = inputs.get("batch_size", DEFAULT_BATCH_SIZE)
        if type(size) is not int or size < 1:
            raise self.error(f"'batch_size' must be a positive integer, got {size!r}", field="batch_size")
        return size

    def field_list(self, inputs: Mapping[str, Any], name: str) -> tuple[str, ...] | None:
        value = inputs.get(name)
        if value is None:
            return None
        fields = (value,) if isinstance(value, str) else tuple(value)
        check_known(self.schema, fields, name, writable_only=name != "update_fields")
        return fields

    def filled(self, session: Session, rows: Sequence[Any]) -> Sequence[Any]:
        if not session.db.tenancy_filters or not session.fills(self.schema):
            return rows
        return [session.fill(self.schema, dict(row)) if isinstance(row, Mapping) else row for row in rows]

    def write_columns(self, rows: Sequence[Any]) -> tuple[str, ...]:
        """Columns written for new rows: the writable fields, the key when given, managed stamps."""
        first = rows[0] if rows and isinstance(rows[0], Mapping) else {}
        columns = []
        for field in self.schema.fields:
            if field.auto_increment and field.name not in first:
                continue
            if field.managed and field.name == "deleted_at":
                continue
            columns.append(field.name)
        return tuple(columns)

    def preparer(self, table: TableSQL, columns: tuple[str, ...]) -> Callable[[Sequence[Any], int], list[Row]]:
        """Validates and encodes slices of rows for ``columns``: ``prepare(rows, start)``.

        Made once per request, so that every slice reuses the same compiled checks.
        """
        preparer = RowPreparer(table, columns)
        pk = self.schema.pk
        needs_key = pk.auto_increment and pk.name in columns
        key = pk.name

        def prepare(rows: Sequence[Any], start: int = 0) -> list[Row]:
            if needs_key:
                for index, row in enumerate(rows, start):
                    if isinstance(row, Mapping) and row.get(key) is None:
                        raise self.error(f"data[{index}] has no {key!r}; give it in every row or in none", key)
            return preparer.prepare(rows, start=start)

        return prepare

    def prepare(
        self, table: TableSQL, rows: Sequence[Any], columns: tuple[str, ...], start: int = 0
    ) -> list[Sequence[Any]]:
        return self.preparer(table, columns)(rows, start)

    def strategy(self, session: Session, request: BulkRequest, inputs: Mapping[str, Any]) -> BulkStrategy:
        return choose_strategy(registered_bulk_strategies(), session.dialect, request, inputs.get("strategy"))

    async def run_strategy(self, session: Session, request: BulkRequest, inputs: Mapping[str, Any]) -> BulkResult:
        strategy = self.strategy(session, request, inputs)
        async with session.atomic():
            return await strategy.run(session, request)


class DuplicateKeys:
    """Finds rows that repeat a conflict key, across the slices of one request."""

    def __init__(self, node: ModelNode, columns: tuple[str, ...], conflict_on: tuple[str, ...]) -> None:
        self.node = node
        self.conflict_on = conflict_on
        self.key = itemgetter(*(columns.index(c) for c in conflict_on))
        self.seen: set[Any] = set()
        self.slices: list[tuple[int, Sequence[Sequence[Any]]]] = []

    def refuse(self, rows: Sequence[Sequence[Any]], start: int) -> None:
        """Raise for the first row whose key an earlier row (in any slice) had."""
        before = len(self.seen)
        self.seen.update(map(self.key, rows))
        self.slices.append((start, rows))
        if len(self.seen) - before == len(rows):
            return
        first: dict[Any, int] = {}
        for offset, slice_rows in self.slices:
            for index, key in enumerate(map(self.key, slice_rows), offset):
                if key in first:
                    raise ValidationError(
                        f"{self.node.type_name}: data[{first[key]}] and data[{index}] have the same "
                        f"{', '.join(self.conflict_on)}; pass on_duplicate='last' to keep the last",
                        model=self.node.schema.name,
                        field=self.conflict_on[0],
                    )
                first[key] = index

    def keep_last(self, rows: list[Sequence[Any]]) -> list[Sequence[Any]]:
        """``rows`` without the earlier rows of each repeated key."""
        last = {key: index for index, key in enumerate(map(self.key, rows))}
        return rows if len(last) == len(rows) else [rows[i] for i in sorted(last.values())]


class PipelinedBulkNode(BulkNode):
    """Bulk writes whose row validation overlaps the driver's writing.

    A strategy with ``whole_request = True`` gets every row in one call, as
    :class:`LazyRows` that validate as it reads them (COPY streams them).
    Any other strategy is called once per slice of ``PIPELINE_ROWS``, and the
    next slice is validated while the driver writes the previous one.
    """

    async def write(
        self, session: Session, inputs: Mapping[str, Any], template: BulkRequest, rows: Sequence[Sequence[Any]]
    ) -> list[BulkResult]:
        """Run the strategy on ``rows`` (as ``template`` describes them), all inside one atomic block.

        A bad row in a later slice still rolls back everything.
        """
        strategy = self.strategy(session, template, inputs)
        if getattr(strategy, "whole_request", False):
            async with session.atomic():
                return [await strategy.run(session, attrs.evolve(template, rows=rows))]
        results: list[BulkResult] = []
        running: asyncio.Task[BulkResult] | None = None
        async with session.atomic():
            try:
                for prepared in _pipeline_slices(rows):
                    request = attrs.evolve(template, rows=prepared)
                    if running is not None:
                        results.append(await running)
                    running = asyncio.get_running_loop().create_task(strategy.run(session, request))
                    await asyncio.sleep(0)  # let it reach the driver before the next slice is validated
                if running is not None:
                    results.append(await running)
            except BaseException:
                if running is not None and not running.done():
                    await asyncio.gather(running, return_exceptions=True)
                raise
        return results

    def lazy_rows(
        self, table: TableSQL, rows: Sequence[Any], columns: tuple[str, ...], *, keep: bool = True
    ) -> LazyRows:
        """``rows`` validated and encoded for ``columns`` as they are read (see :class:`LazyRows` for ``keep``)."""
        prepare = self.preparer(table, columns)
        return LazyRows(len(rows), lambda start, stop: prepare(rows[start:stop], start), keep=keep)

    def upsert_rows(
        self,
        session: Session,
        table: TableSQL,
        rows: Sequence[Any],
        columns: tuple[str, ...],
        inputs: Mapping[str, Any],
        conflict_on: tuple[str, ...],
        update_fields: tuple[str, ...],
        keep_last: bool,
    ) -> tuple[BulkRequest, Sequence[Sequence[Any]]]:
        """The upsert request (without rows) and its rows, checked for repeated keys."""
        conflict_on = session.conflict_target(self.schema, conflict_on)
        check_conflict_target(session, self.schema, conflict_on)
        duplicates = DuplicateKeys(self, columns, conflict_on)
        template = BulkRequest(
            "upsert", table, columns, batch_size=self.batch_size(inputs),
            conflict_on=conflict_on, update_fields=update_fields, scope=visible_scope(session, table),
        )  # fmt: skip
        if keep_last:
            # Which row of a key is last is known only once every row is read.
            return template, duplicates.keep_last(self.prepare(table, rows, columns))

        prepare_slice = self.preparer(table, columns)

        def prepare(start: int, stop: int) -> list[Sequence[Any]]:
            prepared = prepare_slice(rows[start:stop], start)
            duplicates.refuse(prepared, start)
            return prepared

        return template, LazyRows(len(rows), prepare)


def _pipeline_slices(rows: Sequence[Sequence[Any]]) -> Iterator[Sequence[Sequence[Any]]]:
    """``rows`` in slices of ``PIPELINE_ROWS``, each validated only when asked for."""
    if isinstance(rows, LazyRows):
        yield from rows.resliced(PIPELINE_ROWS).slices()
        return
    for start in range(0, len(rows), PIPELINE_ROWS):
        yield rows[start : start + PIPELINE_ROWS]
