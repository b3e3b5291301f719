"""Bulk nodes: validate every row first, then hand one request to the best strategy.

Each bulk node runs inside ``session.atomic()``: a bad row or a constraint
violation leaves the table exactly as it was.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..bulk.strategy import BulkRequest, BulkResult, choose_strategy
from ..errors import ValidationError
from ..session import Session
from ..sql import Params, TableSQL
from .base import ModelNode
from .crud import delete_statement
from .rows import RowPreparer, changes, check_known, key_value
from .statements import update_matching, visible_scope, where

DEFAULT_BATCH_SIZE = 1000


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
        if not session.db.tenancy_filters:
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

    def prepare(self, table: TableSQL, rows: Sequence[Any], columns: tuple[str, ...]) -> list[Sequence[Any]]:
        preparer = RowPreparer(table, columns)
        pk = self.schema.pk
        if pk.auto_increment and pk.name in columns:
            for index, row in enumerate(rows):
                if isinstance(row, Mapping) and row.get(pk.name) is None:
                    raise self.error(f"data[{index}] has no {pk.name!r}; give it in every row or in none", pk.name)
        return preparer.prepare(rows)

    async def run_strategy(self, session: Session, request: BulkRequest, inputs: Mapping[str, Any]) -> BulkResult:
        from ..database import registered_bulk_strategies

        strategy = choose_strategy(registered_bulk_strategies(), session.dialect, request, inputs.get("strategy"))
        async with session.atomic():
            return await strategy.run(session, request)


class BulkCreateNode(BulkNode):
    """Insert many records; ``{"inserted": n}`` plus ``"ids"`` when ``return_ids``.

    With ``conflict_on``, rows whose key already exists are skipped (and
    counted in ``"skipped"``) instead of failing the batch.
    """

    operation = "bulk_create"
    parameters = frozenset({"data", "batch_size", "return_ids", "strategy", "conflict_on"})

    @classmethod
    def required_inputs(cls) -> frozenset[str]:
        return frozenset({"data"})

    async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
        assert session is not None
        rows = self.filled(session, self.rows_input(inputs))
        return_ids = bool(inputs.get("return_ids", False))
        if not rows:
            return {"inserted": 0, "ids": []} if return_ids else {"inserted": 0}
        table = self.table(session)
        columns = self.write_columns(rows)
        prepared = self.prepare(table, rows, columns)
        conflict_on = self.field_list(inputs, "conflict_on")
        if conflict_on is not None:
            if return_ids:
                raise self.error("'return_ids' cannot be combined with 'conflict_on'", "return_ids")
            prepared = _unique_rows(self, prepared, columns, conflict_on, keep_last=False)
            request = BulkRequest(
                "upsert",
                table,
                columns,
                prepared,
                batch_size=self.batch_size(inputs),
                conflict_on=conflict_on,
                scope=visible_scope(session, table),
            )
            result = await self.run_strategy(session, request, inputs)
            return {"inserted": result.inserted, "skipped": len(rows) - result.inserted}
        request = BulkRequest(
            "create", table, columns, prepared, batch_size=self.batch_size(inputs), return_ids=return_ids
        )
        result = await self.run_strategy(session, request, inputs)
        output: dict[str, Any] = {"inserted": result.inserted}
        if return_ids:
            output["ids"] = result.ids
        return output


class BulkUpsertNode(BulkNode):
    """Insert or update many records by ``conflict_on``; measured ``{"inserted", "updated"}``.

    Two rows with the same key in one call are an error unless
    ``on_duplicate="last"``, which keeps the last of them.
    """

    operation = "bulk_upsert"
    parameters = frozenset({"data", "conflict_on", "update_fields", "batch_size", "strategy", "on_duplicate"})

    @classmethod
    def required_inputs(cls) -> frozenset[str]:
        return frozenset({"data"})

    async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
        assert session is not None
        rows = self.filled(session, self.rows_input(inputs))
        on_duplicate = inputs.get("on_duplicate", "error")
        if on_duplicate not in ("error", "last"):
            raise self.error(f"'on_duplicate' must be 'error' or 'last', got {on_duplicate!r}", "on_duplicate")
        if not rows:
            return {"inserted": 0, "updated": 0}
        table = self.table(session)
        columns = self.write_columns(rows)
        conflict_on = self.field_list(inputs, "conflict_on") or self._default_conflict(columns)
        for name in conflict_on:
            if name not in columns:
                raise self.error(f"conflict field {name!r} is not in the rows", field=name)
        update_fields = self.field_list(inputs, "update_fields")
        if update_fields is None:
            skip = {*conflict_on, self.schema.primary_key, "created_at"}
            update_fields = tuple(c for c in columns if c not in skip)
        elif self.schema.timestamps and "updated_at" not in update_fields:
            update_fields = (*update_fields, "updated_at")
        for name in update_fields:
            if name not in columns:
                raise self.error(f"update field {name!r} is not in the rows", field=name)
        prepared = _unique_rows(self, self.prepare(table, rows, columns), columns, conflict_on, on_duplicate == "last")
        request = BulkRequest(
            "upsert",
            table,
            columns,
            prepared,
            batch_size=self.batch_size(inputs),
            conflict_on=conflict_on,
            update_fields=update_fields,
            scope=visible_scope(session, table),
        )
        result = await self.run_strategy(session, request, inputs)
        return {"inserted": result.inserted, "updated": result.updated}

    def _default_conflict(self, columns: tuple[str, ...]) -> tuple[str, ...]:
        if self.schema.primary_key in columns:
            return (self.schema.primary_key,)
        if self.schema.unique:
            return self.schema.unique[0]
        raise self.error("'conflict_on' is required: name the fields that identify a record", "conflict_on")


def _unique_rows(
    node: ModelNode, rows: list[Sequence[Any]], columns: tuple[str, ...], conflict_on: tuple[str, ...], keep_last: bool
) -> list[Sequence[Any]]:
    """Rows with distinct conflict keys: a repeat is an error, or the last one wins."""
    positions = [columns.index(c) for c in conflict_on]
    seen: dict[tuple[Any, ...], int] = {}
    for index, row in enumerate(rows):
        key = tuple(row[p] for p in positions)
        if key in seen and not keep_last:
            raise ValidationError(
                f"{node.type_name}: data[{seen[key]}] and data[{index}] have the same "
                f"{', '.join(conflict_on)}; pass on_duplicate='last' to keep the last",
                model=node.schema.name,
                field=conflict_on[0],
            )
        seen[key] = index
    if len(seen) == len(rows):
        return rows
    return [rows[i] for i in sorted(seen.values())]


class BulkUpdateNode(BulkNode):
    """Update rows given with their keys (``data``), or all rows matching ``filter`` with ``fields``."""

    operation = "bulk_update"
    parameters = frozenset({"data", "filter", "fields", "batch_size", "strategy", "confirmed"})

    async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
        assert session is not None
        table = self.table(session)
        if ("data" in inputs) == ("filter" in inputs):
            raise self.error("give exactly one of 'data' or 'filter'", "data")
        if "filter" in inputs:
            return await self._by_filter(session, table, inputs)
        rows = self.rows_input(inputs)
        groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
        pk = self.schema.primary_key
        for index, row in enumerate(rows):
            if not isinstance(row, Mapping) or row.get(pk) is None:
                raise self.error(f"data[{index}] needs its {pk!r}", field=pk)
            fields = tuple(sorted(name for name in row if name != pk))
            groups.setdefault(fields, []).append(row)
        updated = 0
        scope = visible_scope(session, table)
        async with session.atomic():
            for fields, group in groups.items():
                check_known(self.schema, fields, "data")
                if not fields:
                    continue
                columns = (*fields, "updated_at") if self.schema.timestamps else fields
                preparer = RowPreparer(table, (*columns, pk), fill_defaults=False)
                prepared = preparer.prepare(group)
                request = BulkRequest(
                    "update", table, columns, prepared, batch_size=self.batch_size(inputs), scope=scope
                )
                updated += (await self.run_strategy(session, request, inputs)).updated
        return {"updated": updated}

    async def _by_filter(self, session: Session, table: TableSQL, inputs: Mapping[str, Any]) -> dict[str, Any]:
        filter = inputs["filter"]
        if not filter and not inputs.get("confirmed"):
            raise self.error("an empty filter updates every row; pass confirmed=True to mean it", "filter")
        values = changes(self.schema, inputs.get("fields"))
        return await update_matching(session, table, values, filter, self.operation)


class BulkDeleteNode(BulkNode):
    """Delete by ``ids`` or ``filter``; an empty filter needs ``confirmed=True``."""

    operation = "bulk_delete"
    parameters = frozenset({"ids", "filter", "batch_size", "strategy", "confirmed"})

    async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
        assert session is not None
        table = self.table(session)
        if ("ids" in inputs) == ("filter" in inputs):
            raise self.error("give exactly one of 'ids' or 'filter'", "ids")
        if "filter" in inputs:
            filter = inputs["filter"]
            if not filter and not inputs.get("confirmed"):
                raise self.error("an empty filter deletes every row; pass confirmed=True to mean it", "filter")
            params = Params(table.dialect)
            sql = delete_statement(table, params) + where(session, table, params, filter)
            result = await session.execute(sql, params.values, schema=self.schema, operation=self.operation)
            return {"deleted": result.rowcount}
        keys = [key_value(self.schema, key, f"ids[{i}]") for i, key in enumerate(self.rows_input(inputs, "ids"))]
        if not keys:
            return {"deleted": 0}
        encoded = [table.encode(table.pk, key) for key in dict.fromkeys(keys)]
        request = BulkRequest(
            "delete", table, keys=encoded, batch_size=self.batch_size(inputs), scope=visible_scope(session, table)
        )
        return {"deleted": (await self.run_strategy(session, request, inputs)).deleted}
