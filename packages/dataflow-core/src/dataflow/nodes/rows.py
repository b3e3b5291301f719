"""Checking records before they are written: one record, or many at bulk speed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

from ..errors import ValidationError
from ..fields import COLUMN_CHECKS, FieldSchema, utcnow
from ..schema import ModelSchema, suggest
from ..sql import TableSQL
from .columns import EXACT_TYPES, ColumnPlan

_MISSING = object()


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


def changes(
    schema: ModelSchema, fields: Any, protected: frozenset[str] = frozenset(), now: dt.datetime | None = None
) -> dict[str, Any]:
    """Validated values for Update's ``fields``; the key and ``protected`` fields cannot change."""
    if not isinstance(fields, Mapping):
        raise ValidationError(f"{schema.name} update: 'fields' must be an object", model=schema.name, field="fields")
    check_known(schema, fields, "fields")
    check_unprotected(schema, fields, protected)
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


def check_unprotected(schema: ModelSchema, names: Any, protected: frozenset[str]) -> None:
    """Refuse a write to a field a tenancy filter protects (such as ``tenant_id``)."""
    for name in names:
        if name in protected:
            raise ValidationError(
                f"{schema.name}.{name} is protected and cannot be changed by an update", model=schema.name, field=name
            )


def key_value(schema: ModelSchema, value: Any, what: str = "id") -> Any:
    """The primary-key value ``value``, validated as the key's type."""
    if value is None:
        raise ValidationError(f"{schema.name}: {what} is required", model=schema.name, field=what)
    try:
        return schema.pk.validate(value, schema.name)
    except ValidationError as exc:
        raise ValidationError(exc.message, model=schema.name, field=what) from None


def _encode(values: tuple[Any, ...], encoded: list[tuple[int, Any]]) -> tuple[Any, ...]:
    changed = list(values)
    for position, encoder in encoded:
        changed[position] = encoder(changed[position])
    return tuple(changed)


class RowPreparer:
    """Validates and encodes many records into parameter rows, as fast as Python allows.

    Uniform rows (the same keys in every row, plain values of their fields'
    exact types) are checked a column at a time (:class:`~.columns.ColumnPlan`).
    Otherwise a row with every value present and of its field's exact type is
    checked at once: the values are taken with one ``itemgetter`` call and
    their types compared as one tuple. Any other row goes through each
    field's full validation, which gives the same result with a precise error.
    """

    def __init__(self, table: TableSQL, columns: Sequence[str], *, fill_defaults: bool = True) -> None:
        schema = table.schema
        self.table = table
        self.schema = schema
        self.columns = tuple(columns)
        self.fill_defaults = fill_defaults
        self.allowed = frozenset(c for c in columns if not schema.by_name[c].managed)
        self.spec: list[tuple[str, FieldSchema, type | None, Any, bool]] = []
        self.length_limits: list[tuple[int, int]] = []
        # Values of the exact type that may still be unstorable (lone surrogates, NaN, ints beyond 64 bits).
        self.value_checks: list[tuple[int, Any]] = []
        for name in self.columns:
            field = schema.by_name[name]
            exact = EXACT_TYPES.get(field.kind)
            if not field.managed:
                if field.max_length is not None:
                    self.length_limits.append((len(self.spec), field.max_length))
                if field.kind in COLUMN_CHECKS:
                    self.value_checks.append((len(self.spec), COLUMN_CHECKS[field.kind]))
            self.spec.append((name, field, exact, table.encoders.get(name), field.managed))
        managed = [field.managed for field in (schema.by_name[c] for c in self.columns)]
        value_columns = [c for c, m in zip(self.columns, managed, strict=True) if not m]
        # The fast path needs the managed columns (timestamps) last, and plain types only.
        self.fast = (
            bool(value_columns)
            and managed == [False] * len(value_columns) + [True] * (len(managed) - len(value_columns))
            and all(exact is not None for _, _, exact, _, m in self.spec if not m)
        )
        # Encoders of plain types (PostgreSQL refusing NUL in text) run on the fast path too.
        self.encoded = [(i, enc) for i, (_, _, _, enc, m) in enumerate(self.spec) if not m and enc is not None]
        self.getter = itemgetter(*value_columns) if value_columns else None
        self.single = len(value_columns) == 1
        self.fast_types = tuple(exact for _, _, exact, _, m in self.spec if not m)
        self.managed_count = len(managed) - len(value_columns)
        self.columns_plan = ColumnPlan(table, self.columns, fill_defaults=fill_defaults)

    def prepare(self, rows: Sequence[Any], what: str = "data", start: int = 0) -> list[Sequence[Any]]:
        """Parameter rows for ``rows``; errors name ``what[index]``, counting from ``start``."""
        now = utcnow() if self.schema.timestamps else None
        uniform = self.columns_plan.prepare(rows, now)
        if uniform is not None:
            return uniform
        tail = (now,) * self.managed_count
        prepared: list[Sequence[Any]] = []
        append = prepared.append
        getter, fast, single, fast_types = self.getter, self.fast, self.single, self.fast_types
        limits, encoded, checks = self.length_limits, self.encoded, self.value_checks
        width = len(fast_types)
        for index, row in enumerate(rows, start):
            # A dict with exactly the value columns as keys has no unknown keys.
            if fast and type(row) is dict and len(row) == width:
                try:
                    values = getter(row)  # type: ignore[misc]
                except KeyError:
                    pass
                else:
                    if single:
                        values = (values,)
                    if (
                        tuple(map(type, values)) == fast_types
                        and (not limits or all(len(values[i]) <= n for i, n in limits))
                        and (not checks or all(check((values[i],)) for i, check in checks))
                    ):
                        if encoded:
                            try:
                                values = _encode(values, encoded)
                            except ValidationError:
                                append(self._prepare_row(row, index, what, now))  # raises, naming the row
                                continue
                        append(values + tail if tail else values)
                        continue
            append(self._prepare_row(row, index, what, now))
        return prepared

    def _prepare_row(self, row: Any, index: int, what: str, now: Any) -> list[Any]:
        model = self.schema.name
        if not isinstance(row, Mapping):
            raise ValidationError(f"{model} {what}[{index}] is not an object", model=model, field=what)
        if not self.allowed.issuperset(row):
            self._unknown(row, index, what)
        out = []
        try:
            for name, field, exact, encoder, managed in self.spec:
                value = row.get(name, _MISSING)
                if managed:
                    value = now
                elif value is _MISSING:
                    value = self._missing(field)
                elif type(value) is not exact or field.max_length is not None or field.kind in COLUMN_CHECKS:
                    value = field.validate(value, model)
                if encoder is not None and value is not None:
                    value = encoder(value)
                out.append(value)
        except ValidationError as exc:
            raise ValidationError(f"{what}[{index}]: {exc.message}", model=model, field=exc.field) from None
        return out

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
