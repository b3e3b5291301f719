"""SQL text for one model on one dialect, built once and reused.

Identifiers come from the schema and are quoted by the dialect; values only
ever travel as bound parameters through :class:`Params`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from .dialect import Codec, Dialect
from .errors import StoredValueError
from .fields import FieldSchema, utcnow
from .schema import ModelSchema


class Params:
    """Bound parameters of one statement, numbered as they are added."""

    __slots__ = ("dialect", "values")

    def __init__(self, dialect: Dialect, values: Iterable[Any] = ()) -> None:
        self.dialect = dialect
        self.values: list[Any] = list(values)

    def add(self, value: Any) -> str:
        """Bind ``value``; return the placeholder text that stands for it."""
        self.values.append(value)
        return self.dialect.placeholder(len(self.values))


class TableSQL:
    """A model's table as seen by one dialect: quoting, codecs and the common statements."""

    def __init__(self, dialect: Dialect, schema: ModelSchema) -> None:
        self.dialect = dialect
        self.schema = schema
        q = dialect.quote
        self.table = q(schema.table)
        self.columns = schema.column_names
        self.quoted = {name: q(name) for name in self.columns}
        self.select_list = ", ".join(self.quoted[c] for c in self.columns)
        self.select_by_key = (
            f"SELECT {self.select_list} FROM {self.table} WHERE {self.quoted[schema.primary_key]} = "
            f"{dialect.placeholder(1)}"
        )
        """The row of one key, outside any scope (tenancy, soft delete): one bound parameter."""
        self.encoders: dict[str, Codec] = {}
        self.decoders: list[tuple[int, str, Codec | None]] = []
        for index, field in enumerate(schema.fields):
            encoder = dialect.encoder(field)
            if encoder is not None:
                self.encoders[field.name] = encoder
            self.decoders.append((index, field.name, dialect.decoder(field)))
        self.pk = schema.primary_key
        self.cached = lru_cache(maxsize=256)(self._build_insert)

    # -- values ---------------------------------------------------------------

    def encode(self, field: str, value: Any) -> Any:
        encoder = self.encoders.get(field)
        return value if encoder is None or value is None else encoder(value)

    def encode_row(self, row: Mapping[str, Any], columns: Sequence[str]) -> list[Any]:
        encoders = self.encoders
        out = []
        for column in columns:
            value = row[column]
            encoder = encoders.get(column)
            out.append(value if encoder is None or value is None else encoder(value))
        return out

    def decode(self, row: Sequence[Any], columns: Sequence[str] | None = None) -> dict[str, Any]:
        """A record dict from a row selected with :attr:`select_list` (or ``columns``).

        A value the field cannot hold (an enum member removed from the class)
        is a :class:`StoredValueError` naming the model, field and value.
        """
        try:
            if columns is None:
                return {
                    name: (value if decoder is None or value is None else decoder(value))
                    for (index, name, decoder), value in zip(self.decoders, row, strict=True)
                }
            record = {}
            for name, value in zip(columns, row, strict=True):
                decoder = self.decoders[self.columns.index(name)][2]
                record[name] = value if decoder is None or value is None else decoder(value)
            return record
        except (ValueError, KeyError, TypeError):
            # Only on failure: find the column, so the fast path above stays one comprehension.
            self._raise_undecodable(row, columns or self.columns)
            raise

    def _raise_undecodable(self, row: Sequence[Any], columns: Sequence[str]) -> None:
        for name, value in zip(columns, row, strict=False):
            decoder = self.decoders[self.columns.index(name)][2]
            if decoder is None or value is None:
                continue
            try:
                decoder(value)
            except (ValueError, KeyError, TypeError):
                field = self.schema.by_name[name]
                model = self.schema.name
                # A personal value is not repeated, neither in the message nor on the error.
                shown = "a value (personal data, not shown)" if field.personal else repr(value)
                raise StoredValueError(
                    f"{model}.{name}: the database holds {shown}, which is not a value of {field.type_name}; "
                    f"{_fix(field)}",
                    model=model,
                    field=name,
                    value=None if field.personal else value,
                ) from None

    def select_columns(self, columns: Sequence[str] | None) -> str:
        if columns is None:
            return self.select_list
        return ", ".join(self.quoted[c] for c in columns)

    # -- statements -----------------------------------------------------------

    def insert(self, columns: tuple[str, ...], *, returning: bool) -> str:
        """``INSERT`` of one row with ``columns``; text cached per column set."""
        result: str = self.cached(columns, returning)
        return result

    def _build_insert(self, columns: tuple[str, ...], returning: bool) -> str:
        placeholders = [self.dialect.placeholder(i + 1) for i in range(len(columns))]
        if columns:
            sql = (
                f"INSERT INTO {self.table} ({', '.join(self.quoted[c] for c in columns)}) "
                f"VALUES ({', '.join(placeholders)})"
            )
        else:
            sql = self.dialect.insert_default_values(self.table)
        if returning:
            sql += f" RETURNING {self.select_list}"
        return sql

    def field(self, name: str) -> FieldSchema:
        return self.schema.by_name[name]


def delete_statement(table: TableSQL, params: Params) -> str:
    """``DELETE FROM t``, or for soft-delete models ``UPDATE t SET deleted_at = now``.

    Call before compiling the WHERE clause into ``params``: the timestamp is
    bound first, so positional placeholders stay in text order.
    """
    if not table.schema.soft_delete:
        return f"DELETE FROM {table.table}"
    return f"UPDATE {table.table} SET {table.quoted['deleted_at']} = {params.add(table.encode('deleted_at', utcnow()))}"


def _fix(field: FieldSchema) -> str:
    if field.enum_type is not None:
        return (
            "put the member back in the enum, or update those rows (a migration refuses to drop it while rows hold it)"
        )
    return "update those rows to a value of that type (a migration refuses such a change while rows hold them)"
