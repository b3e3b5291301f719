"""Single-record nodes: Create, Read, Update, Delete, Upsert."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ConcurrentUpdateError, NotFoundError, UniqueViolationError, ValidationError
from ..schema import ModelSchema
from ..session import Session
from ..sql import Params, TableSQL, delete_statement
from .base import ModelNode
from .include import attach, parse_includes
from .outputs import SCALAR, Keys, Shape, counts, record_shape
from .references import check_references
from .rows import changes, check_known, check_unprotected, key_value, new_record
from .statements import (
    assignments,
    check_confirmed,
    check_conflict_target,
    key_where,
    read_record,
    update_matching,
    where,
)


def not_found(node: ModelNode, key: Any) -> NotFoundError:
    return NotFoundError(
        f"{node.schema.name} with {node.schema.primary_key}={key!r} not found", model=node.schema.name, field="id"
    )


async def insert_record(session: Session, table: TableSQL, record: dict[str, Any], operation: str) -> dict[str, Any]:
    """Insert a validated record and return it as stored."""
    columns = tuple(record)
    params = table.encode_row(record, columns)
    schema = table.schema
    if "insert" in table.dialect.capabilities.returning:
        rows = await session.fetch(table.insert(columns, returning=True), params, schema=schema, operation=operation)
        return table.decode(rows[0])
    async with session.atomic():
        result = await session.execute(
            table.insert(columns, returning=False), params, schema=schema, operation=operation
        )
        key = record.get(table.pk, result.last_id)
        stored = await read_record(session, table, key, operation)
    if stored is None:
        raise _lost_write(schema.name)
    return stored


def _lost_write(model: str) -> NotFoundError:
    return NotFoundError(f"{model}: the written record could not be read back", model=model)


async def update_record(
    session: Session, table: TableSQL, key: Any, values: Mapping[str, Any], operation: str
) -> dict[str, Any] | None:
    """Update one record by key; return it as stored, or None when no such record is visible.

    On a versioned model a version in ``values`` is the one the caller read:
    the update applies only to that version, else ``ConcurrentUpdateError``.
    """
    version = table.schema.version_field
    expected = None
    if version is not None:
        values = dict(values)
        expected = values.pop(version, None)
    elif not values:
        return await read_record(session, table, key, operation)
    params = Params(table.dialect)
    sql = f"UPDATE {table.table} SET {assignments(table, params, values)}{key_where(session, table, params, key)}"
    if version is not None and expected is not None:
        sql += f" AND {table.quoted[version]} = {params.add(table.encode(version, expected))}"
    if "update" in table.dialect.capabilities.returning:
        rows = await session.fetch(
            f"{sql} RETURNING {table.select_list}", params.values, schema=table.schema, operation=operation, key=key
        )
        if rows:
            return table.decode(rows[0])
        return _unless_stale(await read_record(session, table, key, operation), table, key, expected)
    async with session.atomic():
        result = await session.execute(sql, params.values, schema=table.schema, operation=operation, key=key)
        current = await read_record(session, table, key, operation)
        if result.rowcount == 0:
            return _unless_stale(current, table, key, expected)
        return current


def _unless_stale(current: dict[str, Any] | None, table: TableSQL, key: Any, expected: Any) -> dict[str, Any] | None:
    """``current`` after an UPDATE that matched no row; raise when the row is there at another version."""
    if current is None or expected is None:
        return current
    version = table.schema.version_field
    assert version is not None
    model = table.schema.name
    raise ConcurrentUpdateError(
        f"{model} {table.pk}={key!r} is at version {current[version]}, not {expected}: it changed since it was "
        "read; read it again and reapply the change",
        model=model,
        key=key,
        expected=expected,
        actual=current[version],
    )


class CreateNode(ModelNode):
    """Insert one record from flat fields; returns it with its key."""

    operation = "create"

    @classmethod
    def output_shape(cls) -> Shape:
        return record_shape(cls.schema)

    @classmethod
    def parameters_for(cls, schema: ModelSchema) -> frozenset[str]:
        return frozenset(f.name for f in schema.fields if not f.managed)

    @classmethod
    def required_inputs(cls) -> frozenset[str]:
        return frozenset(f.name for f in cls.schema.fields if f.required)

    async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
        assert session is not None
        data = session.fill(self.schema, inputs) if session.db.tenancy_filters else inputs
        record = new_record(self.schema, data)
        await check_references(session, self.schema, [record])
        return await insert_record(session, self.table(session), record, self.operation)


class ReadNode(ModelNode):
    """Read one record by ``id``; ``raise_on_not_found=False`` returns None instead of raising."""

    operation = "read"
    parameters = frozenset({"id", "raise_on_not_found", "include"})

    @classmethod
    def output_shape(cls) -> Shape:
        return record_shape(cls.schema, cls.db.relations.of(cls.schema.name))

    @classmethod
    def required_inputs(cls) -> frozenset[str]:
        return frozenset({"id"})

    async def run(self, session: Session | None, inputs: dict[str, Any]) -> Any:
        assert session is not None
        key = key_value(self.schema, inputs.get("id"))
        includes = parse_includes(session, self.schema, inputs.get("include"))
        record = await read_record(session, self.table(session), key, self.operation)
        if record is None and inputs.get("raise_on_not_found", True):
            raise not_found(self, key)
        if record is not None and includes:
            await attach(session, [record], includes, None, self.operation)
        return record


class UpdateNode(ModelNode):
    """Update by ``id`` (returns the record) or by ``filter`` (returns ``{"updated": n}``).

    A filter that matches every row needs ``confirmed=True``.
    """

    operation = "update"
    parameters = frozenset({"id", "filter", "fields", "raise_on_not_found", "confirmed"})

    @classmethod
    def output_shape(cls) -> Shape:
        # By id the record, by filter a count: which one is known only from the inputs the run delivers.
        return Keys({**record_shape(cls.schema).fields, "updated": SCALAR})

    @classmethod
    def required_inputs(cls) -> frozenset[str]:
        return frozenset({"fields"})

    async def run(self, session: Session | None, inputs: dict[str, Any]) -> Any:
        assert session is not None
        table = self.table(session)
        values = changes(self.schema, inputs.get("fields"), session.protected(self.schema))
        has_id, has_filter = inputs.get("id") is not None, "filter" in inputs
        if has_id == has_filter:
            raise self.error("give exactly one of 'id' or 'filter'", field="id")
        if has_filter:
            check_confirmed(self.type_name, session, table, inputs, "update")
        await check_references(session, self.schema, [values])
        if has_id:
            key = key_value(self.schema, inputs["id"])
            record = await update_record(session, table, key, values, self.operation)
            if record is None and inputs.get("raise_on_not_found", True):
                raise not_found(self, key)
            return record
        return await update_matching(session, table, values, inputs["filter"], self.operation)


class DeleteNode(ModelNode):
    """Delete by ``id`` or ``filter``; returns ``{"deleted": n}``. Soft-delete models keep the row.

    A filter that matches every row needs ``confirmed=True``.
    """

    operation = "delete"
    parameters = frozenset({"id", "filter", "raise_on_not_found", "confirmed"})

    @classmethod
    def output_shape(cls) -> Shape:
        return counts("deleted")

    async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
        assert session is not None
        table = self.table(session)
        has_id, has_filter = inputs.get("id") is not None, "filter" in inputs
        if has_id == has_filter:
            raise self.error("give exactly one of 'id' or 'filter'", field="id")
        params = Params(table.dialect)
        sql = delete_statement(table, params)
        key = None
        if has_id:
            key = key_value(self.schema, inputs["id"])
            sql += key_where(session, table, params, key)
        else:
            check_confirmed(self.type_name, session, table, inputs, "delete")
            sql += where(session, table, params, inputs["filter"])
        result = await session.execute(sql, params.values, schema=self.schema, operation=self.operation, key=key)
        if has_id and result.rowcount == 0 and inputs.get("raise_on_not_found", True):
            raise not_found(self, key)
        return {"deleted": result.rowcount}


class UpsertNode(ModelNode):
    """Insert, or update the record that matches ``conflict_on``; returns ``{"record", "created"}``."""

    operation = "upsert"

    @classmethod
    def output_shape(cls) -> Shape:
        return Keys({"record": record_shape(cls.schema), "created": SCALAR})

    @classmethod
    def parameters_for(cls, schema: ModelSchema) -> frozenset[str]:
        return frozenset(f.name for f in schema.fields if not f.managed) | {"conflict_on", "update_fields"}

    @classmethod
    def required_inputs(cls) -> frozenset[str]:
        return frozenset(f.name for f in cls.schema.fields if f.required)

    def conflict_fields(self, inputs: dict[str, Any]) -> tuple[str, ...]:
        conflict_on = inputs.pop("conflict_on", None)
        if conflict_on is None:
            if self.schema.primary_key in inputs:
                return (self.schema.primary_key,)
            if self.schema.unique:
                return self.schema.unique[0]
            raise self.error("'conflict_on' is required: name the fields that identify the record", "conflict_on")
        fields = (conflict_on,) if isinstance(conflict_on, str) else tuple(conflict_on)
        check_known(self.schema, fields, "conflict_on", writable_only=False)
        return fields

    async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
        assert session is not None
        inputs = dict(inputs)
        conflict_on = session.conflict_target(self.schema, self.conflict_fields(inputs))
        check_conflict_target(session, self.schema, conflict_on)
        update_fields = inputs.pop("update_fields", None)
        data = session.fill(self.schema, inputs) if session.db.tenancy_filters else inputs
        record = new_record(self.schema, data)
        for name in conflict_on:
            if record.get(name) is None:
                raise ValidationError(
                    f"{self.schema.name} upsert: conflict field {name!r} needs a value",
                    model=self.schema.name,
                    field=name,
                )
        protected = session.protected(self.schema)
        if update_fields is None:
            skip = {*conflict_on, self.schema.primary_key, *protected}
            update_fields = [n for n in data if n not in skip]
        check_known(self.schema, update_fields, "update_fields")
        check_unprotected(self.schema, update_fields, protected)
        await check_references(session, self.schema, [record])
        table = self.table(session)
        async with session.atomic():
            existing = await self._find(session, table, record, conflict_on)
            if existing is None:
                try:
                    async with session.atomic():
                        return {"record": await insert_record(session, table, record, self.operation), "created": True}
                except UniqueViolationError:
                    # Inserted by someone else since we looked: fall through to the update.
                    existing = await self._find(session, table, record, conflict_on)
                    if existing is None:
                        raise
            values = {n: record[n] for n in update_fields}
            if self.schema.timestamps and values:
                values["updated_at"] = record["updated_at"]
            updated = await update_record(session, table, existing[self.schema.primary_key], values, self.operation)
            return {"record": updated, "created": False}

    async def _find(
        self, session: Session, table: TableSQL, record: dict[str, Any], conflict_on: tuple[str, ...]
    ) -> dict[str, Any] | None:
        params = Params(table.dialect)
        condition = where(session, table, params, {name: record[name] for name in conflict_on})
        limit = table.dialect.limit_clause(params.add(2), None)
        rows = await session.fetch(
            f"SELECT {table.select_list} FROM {table.table}{condition}{limit}",
            params.values,
            schema=self.schema,
            operation="upsert",
        )
        if len(rows) > 1:
            # A conflict_on that is not a unique key may match several records; updating one of them is a guess.
            raise ValidationError(
                f"{self.schema.name} upsert: conflict_on ({', '.join(conflict_on)}) matches more than one record; "
                "name the primary key or a unique group",
                model=self.schema.name,
                field="conflict_on",
            )
        return table.decode(rows[0]) if rows else None
