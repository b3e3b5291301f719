"""``ORDER BY`` text for List and includes: fields, and dotted paths through forward relations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .errors import FilterError
from .filters import FilterCompiler, RelatedTables
from .sql import Params, TableSQL


def compile_order_by(
    order_by: Any, table: TableSQL, params: Params | None = None, related: RelatedTables | None = None
) -> str:
    """``ORDER BY`` text for ``["-age", "name", "team.name"]``; unknown fields raise ``FilterError``.

    A dotted name follows forward relations (with ``related`` and ``params``):
    the related row's value, or null when there is none or it is out of scope.
    """
    if order_by is None:
        return ""
    if isinstance(order_by, str):
        order_by = [order_by]
    if not isinstance(order_by, Sequence):
        raise FilterError(f"{table.schema.name} order_by takes a list of field names", model=table.schema.name)
    compiler = FilterCompiler(table, params or Params(table.dialect), related)
    parts = []
    for item in order_by:
        if not isinstance(item, str):
            raise FilterError(f"{table.schema.name} order_by: {item!r} is not a field name", model=table.schema.name)
        name, direction = (item[1:], "DESC") if item.startswith("-") else (item.lstrip("+"), "ASC")
        parts.append(f"{compiler.path_value(name, 'order_by')} {direction}")
    return " ORDER BY " + ", ".join(parts) if parts else ""
