"""Checking records before they are written: one record, or many at bulk speed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ValidationError
from ..fields import FieldKind, FieldSchema
from ..schema import ModelSchema, suggest
from ..sql import TableSQL

_EXACT_TYPES: dict[FieldKind, type] = {
    FieldKind.STR: str,
    FieldKind.INT: int,
    FieldKind.FLOAT: float,
    FieldKind.BOOL: bool,
}

_MISSING = object()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def check_known(schema: ModelSchema, names: Any, what: str, *, writable_only: bool = True) -> None:
    """Raise for a name that is not a field (or not one a caller may set)."""
    for name in names:
        field = schema.by_name.get(name) if isinstance(name, str) else None
        if field is None:
            raise ValidationError(
                f"{schema.name} has no field {name!r}{suggest(name, schema.by_name)} (in {what})",
                model=schema.name,
                field=str(name),
            )
        if writable_only and field.managed:
            raise ValidationError(
                f"{schema.name}.{name} is kept by DataFlow and cannot be set (in {what})",
                model=schema.name,
                field=name,
            )


def new_record(schema: ModelSchema, data: Mapping[str, Any], now: dt.datetime | None = None) -> dict[str, Any]:
    """A complete, validated record for Create: defaults filled, timestamps set."""
    check_known(schema, data, "the record")
    record: dict[str, Any] = {}
    for field in schema.fields:
        if field.managed:
            continue
        if field.name in data:
            if field.auto_increment and data[field.name] is None:
                continue
            record[field.name] = field.validate(data[field.name], schema.name)
        elif field.required:
            raise ValidationError(f"{schema.name}.{field.name} is required", model=schema.name, field=field.name)
        elif not field.auto_increment:
            record[field.name] = field.make_default()
    if schema.timestamps:
        now = now or utcnow()
        record["created_at"] = record["updated_at"] = now
    return record


def changes(schema: ModelSchema, fields: Any, now: dt.datetime | None = None) -> dict[str, Any]:
    """Validated values for Update's ``fields``; the key cannot change."""
    if not isinstance(fields, Mapping):
        raise ValidationError(f"{schema.name} update: 'fields' must be an object", model=schema.name, field="fields")
    check_known(schema, fields, "fields")
    if schema.primary_key in fields:
        raise ValidationError(
            f"{schema.name}.{schema.primary_key} is the primary key and cannot be updated",
            model=schema.name,
            field=schema.primary_key,
        )
    values = {name: schema.by_name[name].validate(value, schema.name) for name, value in fields.items()}
    if schema.timestamps and values:
        values["updated_at"] = now or utcnow()
    return values


def key_value(schema: ModelSchema, value: Any, what: str = "id") -> Any:
    """The primary-key value ``value``, validated as the key's type."""
    if value is None:
        raise ValidationError(f"{schema.name}: {what} is required", model=schema.name, field=what)
    try:
        return schema.pk.validate(value, schema.name)
    except ValidationError as exc:
        raise ValidationError(exc.message, model=schema.name, field=what) from None


class RowPreparer:
    """Validates and encodes many records into parameter rows, as fast as Python allows.

    The common types are checked with one ``type(value) is T`` test; anything
    else goes through the field's full validation.
    """

    def __init__(self, table: TableSQL, columns: Sequence[str], *, fill_defaults: bool = True) -> None:
        schema = table.schema
        self.table = table
        self.schema = schema
        self.columns = tuple(columns)
        self.fill_defaults = fill_defaults
        self.allowed = frozenset(c for c in columns if not schema.by_name[c].managed)
        self.spec: list[tuple[str, FieldSchema, type | None, Any, bool]] = []
        for name in self.columns:
            field = schema.by_name[name]
            exact = _EXACT_TYPES.get(field.kind) if field.max_length is None else None
            self.spec.append((name, field, exact, table.encoders.get(name), field.managed))

    def prepare(self, rows: Sequence[Any], what: str = "data") -> list[list[Any]]:
        schema = self.schema
        model = schema.name
        allowed = self.allowed
        now = utcnow() if schema.timestamps else None
        prepared: list[list[Any]] = []
        append = prepared.append
        spec = self.spec
        for index, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise ValidationError(f"{model} {what}[{index}] is not an object", model=model, field=what)
            if not allowed.issuperset(row):
                self._unknown(row, index, what)
            out = []
            try:
                for name, field, exact, encoder, managed in spec:
                    value = row.get(name, _MISSING)
                    if managed:
                        value = now
                    elif value is _MISSING:
                        value = self._missing(field)
                    elif type(value) is not exact:
                        value = field.validate(value, model)
                    if encoder is not None and value is not None:
                        value = encoder(value)
                    out.append(value)
            except ValidationError as exc:
                raise ValidationError(f"{what}[{index}]: {exc.message}", model=model, field=exc.field) from None
            append(out)
        return prepared

    def _missing(self, field: FieldSchema) -> Any:
        if field.required or not self.fill_defaults:
            raise ValidationError(
                f"{self.schema.name}.{field.name} is required", model=self.schema.name, field=field.name
            )
        return field.make_default()

    def _unknown(self, row: Mapping[str, Any], index: int, what: str) -> None:
        for name in row:
            if name not in self.allowed:
                check_known(self.schema, [name], f"{what}[{index}]")
                raise ValidationError(
                    f"{what}[{index}]: {self.schema.name}.{name} cannot be written here "
                    "(give it in every row, or in none)",
                    model=self.schema.name,
                    field=str(name),
                )
