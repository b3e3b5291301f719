"""Bulk nodes: validate every row first, then hand one request to the best strategy.

The shared machinery (slices, strategy choice, duplicate keys) is in :mod:`.bulk_base`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..bulk.strategy import BulkRequest
from ..session import Session
from ..sql import Params, TableSQL, delete_statement
from .bulk_base import BulkNode, PipelinedBulkNode
from .crud import update_record
from .outputs import SCALAR, Items, Keys, Shape, counts
from .references import check_references
from .rows import RowPreparer, changes, check_known, check_unprotected, key_value
from .statements import check_confirmed, update_matching, visible_scope, where


class BulkCreateNode(PipelinedBulkNode):
    """Insert many records; ``{"inserted": n}`` plus ``"ids"`` in row order when ``return_ids``.

    With ``conflict_on``, rows whose key already exists are skipped (and
    counted in ``"skipped"``) instead of failing the batch.
    """

    operation = "bulk_create"
    parameters = frozenset({"data", "batch_size", "return_ids", "strategy", "conflict_on"})

    @classmethod
    def output_shape(cls) -> Shape:
        return Keys({"inserted": SCALAR, "ids": Items(SCALAR), "skipped": SCALAR})

    @classmethod
    def required_inputs(cls) -> frozenset[str]:
        return frozenset({"data"})

    async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
        assert session is not None
        output, _ = await self.run_written(session, inputs)
        return output

    async def run_written(
        self, session: Session, inputs: dict[str, Any]
    ) -> tuple[dict[str, Any], tuple[tuple[str, ...], Sequence[Sequence[Any]]] | None]:
        """:meth:`run`, and the columns and rows it wrote (encoded), when it kept them (``return_ids``).

        Change capture builds a bulk create's after images from these instead of reading 100,000 rows back.
        """
        rows = self.filled(session, self.rows_input(inputs))
        return_ids = bool(inputs.get("return_ids", False))
        if not rows:
            return ({"inserted": 0, "ids": []} if return_ids else {"inserted": 0}), None
        await check_references(session, self.schema, rows)
        table = self.table(session)
        columns = self.write_columns(rows)
        conflict_on = self.field_list(inputs, "conflict_on")
        if conflict_on is not None:
            if return_ids:
                raise self.error("'return_ids' cannot be combined with 'conflict_on'", "return_ids")
            template, prepared = self.upsert_rows(session, table, rows, columns, inputs, conflict_on, (), False)
            inserted = sum(r.inserted for r in await self.write(session, inputs, template, prepared))
            return {"inserted": inserted, "skipped": len(rows) - inserted}, None
        template = BulkRequest("create", table, columns, batch_size=self.batch_size(inputs), return_ids=return_ids)
        # Validation has no effects here: a streamed slice need not be kept, unless ids are read back from it.
        prepared = self.lazy_rows(table, rows, columns, keep=return_ids)
        results = await self.write(session, inputs, template, prepared)
        output: dict[str, Any] = {"inserted": sum(r.inserted for r in results)}
        if return_ids:
            output["ids"] = [key for r in results for key in r.ids or ()]
            return output, (columns, prepared)
        return output, None


class BulkUpsertNode(PipelinedBulkNode):
    """Insert or update many records by ``conflict_on``; measured ``{"inserted", "updated"}``.

    Two rows with the same key in one call are an error unless
    ``on_duplicate="last"``, which keeps the last of them.
    """

    operation = "bulk_upsert"
    parameters = frozenset({"data", "conflict_on", "update_fields", "batch_size", "strategy", "on_duplicate"})

    @classmethod
    def output_shape(cls) -> Shape:
        return counts("inserted", "updated")

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
        await check_references(session, self.schema, rows)
        table = self.table(session)
        columns = self.write_columns(rows)
        conflict_on = self.field_list(inputs, "conflict_on") or self._default_conflict(columns)
        for name in conflict_on:
            if name not in columns:
                raise self.error(f"conflict field {name!r} is not in the rows", field=name)
        update_fields = self.field_list(inputs, "update_fields")
        version = self.schema.version_field
        if version is not None:
            self._refuse_versions(rows, update_fields or (), version)
        protected = session.protected(self.schema)
        if update_fields is None:
            skip = {*conflict_on, self.schema.primary_key, "created_at", version, *protected}
            update_fields = tuple(c for c in columns if c not in skip)
        elif self.schema.timestamps and "updated_at" not in update_fields:
            update_fields = (*update_fields, "updated_at")
        check_unprotected(self.schema, update_fields, protected)
        for name in update_fields:
            if name not in columns:
                raise self.error(f"update field {name!r} is not in the rows", field=name)
        template, prepared = self.upsert_rows(
            session, table, rows, columns, inputs, conflict_on, update_fields, keep_last=on_duplicate == "last"
        )
        results = await self.write(session, inputs, template, prepared)
        return {"inserted": sum(r.inserted for r in results), "updated": sum(r.updated for r in results)}

    def _refuse_versions(self, rows: Sequence[Any], update_fields: Sequence[str], version: str) -> None:
        """A versioned model's version is DataFlow's to set here: +1 for every record updated.

        BulkUpsert cannot check a given version per row (Update and BulkUpdate
        do), and writing one would let a stale reader's check pass.
        """
        given = version in update_fields or any(isinstance(row, Mapping) and version in row for row in rows)
        if given:
            raise self.error(
                f"{version!r} is kept by BulkUpsert (+1 for each record it updates) and cannot be given; "
                "to write only records still at a version, use BulkUpdate",
                field=version,
            )

    def _default_conflict(self, columns: tuple[str, ...]) -> tuple[str, ...]:
        if self.schema.primary_key in columns:
            return (self.schema.primary_key,)
        if self.schema.unique:
            return self.schema.unique[0]
        raise self.error("'conflict_on' is required: name the fields that identify a record", "conflict_on")


class BulkUpdateNode(BulkNode):
    """Update rows given with their keys (``data``), or all rows matching ``filter`` with ``fields``.

    A filter that matches every row needs ``confirmed=True``.
    """

    operation = "bulk_update"
    parameters = frozenset({"data", "filter", "fields", "batch_size", "strategy", "confirmed"})

    @classmethod
    def output_shape(cls) -> Shape:
        return counts("updated")

    async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
        assert session is not None
        table = self.table(session)
        if ("data" in inputs) == ("filter" in inputs):
            raise self.error("give exactly one of 'data' or 'filter'", "data")
        if "filter" in inputs:
            return await self._by_filter(session, table, inputs)
        rows = self.rows_input(inputs)
        await check_references(session, self.schema, rows)
        if self.schema.version_field is not None:
            return await self._versioned(session, table, rows)
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
            protected = session.protected(self.schema)
            for fields, group in groups.items():
                check_known(self.schema, fields, "data")
                check_unprotected(self.schema, fields, protected)
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

    async def _versioned(self, session: Session, table: TableSQL, rows: Sequence[Any]) -> dict[str, Any]:
        """One checked UPDATE per row: a row giving a stale ``version`` fails the whole call."""
        pk = self.schema.primary_key
        protected = session.protected(self.schema)
        updated = 0
        async with session.atomic():
            for index, row in enumerate(rows):
                if not isinstance(row, Mapping) or row.get(pk) is None:
                    raise self.error(f"data[{index}] needs its {pk!r}", field=pk)
                key = key_value(self.schema, row[pk], f"data[{index}].{pk}")
                values = changes(self.schema, {n: v for n, v in row.items() if n != pk}, protected)
                if await update_record(session, table, key, values, self.operation) is not None:
                    updated += 1
        return {"updated": updated}

    async def _by_filter(self, session: Session, table: TableSQL, inputs: Mapping[str, Any]) -> dict[str, Any]:
        values = changes(self.schema, inputs.get("fields"), session.protected(self.schema))
        check_confirmed(self.type_name, session, table, inputs, "update")
        await check_references(session, self.schema, [values])
        return await update_matching(session, table, values, inputs["filter"], self.operation)


class BulkDeleteNode(BulkNode):
    """Delete by ``ids`` or ``filter``; a filter that matches every row needs ``confirmed=True``."""

    operation = "bulk_delete"
    parameters = frozenset({"ids", "filter", "batch_size", "strategy", "confirmed"})

    @classmethod
    def output_shape(cls) -> Shape:
        return counts("deleted")

    async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
        assert session is not None
        table = self.table(session)
        if ("ids" in inputs) == ("filter" in inputs):
            raise self.error("give exactly one of 'ids' or 'filter'", "ids")
        if "filter" in inputs:
            check_confirmed(self.type_name, session, table, inputs, "delete")
            params = Params(table.dialect)
            sql = delete_statement(table, params) + where(session, table, params, inputs["filter"])
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
