"""HAVING conditions: the filter language over computed names (an AggregateNode's aggregates)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from .fields import FieldSchema
from .filter_operators import TRUE
from .filters import Filter, FilterCompiler
from .schema import suggest
from .sql import Params, TableSQL


@attrs.frozen
class Computed:
    """A name a HAVING filter may use: the SQL it stands for and the field its values are checked as."""

    sql: str
    field: FieldSchema
    encode: Callable[[Any], Any] | None = None


class _ComputedCompiler(FilterCompiler):
    """Filters over computed names (aggregates) instead of a table's columns."""

    def __init__(self, table: TableSQL, params: Params, names: Mapping[str, Computed], what: str) -> None:
        super().__init__(table, params)
        self.names = names
        self.what = what

    def clause(self, key: Any, value: Any) -> str:
        if isinstance(key, str) and not key.startswith("$") and key not in self.names:
            raise self.error(f"{self.what}: unknown name {key!r}{suggest(key, self.names)} "
                             f"(known: {', '.join(self.names) or 'none'})", field=key)  # fmt: skip
        return super().clause(key, value)

    def field(self, name: Any) -> FieldSchema:
        return self.names[name].field

    def column(self, field: FieldSchema) -> str:
        return self.names[field.name].sql

    def encode(self, field: FieldSchema, value: Any) -> Any:
        encode = self.names[field.name].encode
        return value if encode is None or value is None else encode(value)


def compile_computed(
    filter: Filter | None, table: TableSQL, params: Params, names: Mapping[str, Computed], what: str
) -> str:
    """A condition over computed ``names`` (``having`` over aggregates), values bound and checked."""
    if filter is None:
        return TRUE
    return _ComputedCompiler(table, params, names, what).compile(filter)
