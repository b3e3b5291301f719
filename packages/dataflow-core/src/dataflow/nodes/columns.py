"""Bulk rows checked a whole column at a time, in C loops: the fast path of :class:`~.rows.RowPreparer`.

Most bulk data is uniform: every row a ``dict`` with the same keys, every
value of its field's exact Python type (as data read from a file or another
database is). Such rows are checked with one C-level pass per column instead
of Python code per value: ``list(map(type, column)).count(int)`` compares
type objects by identity, so a subclass (``bool`` in an int column, an
``IntEnum``, a ``str`` subclass) never passes for its base type and goes to
the per-row path, which converts or refuses it with the usual error.

A column absent from every row is filled with its field's default when that
is a constant (a ``default=`` value, or None for a nullable field); a default
factory (``uuid4``, a clock) is called once per row, so those rows take the
per-row path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import repeat
from operator import itemgetter
from typing import Any

from ..errors import ValidationError
from ..fields import COLUMN_CHECKS, FieldKind, FieldSchema
from ..sql import TableSQL

EXACT_TYPES: dict[FieldKind, type] = {
    FieldKind.STR: str,
    FieldKind.INT: int,
    FieldKind.FLOAT: float,
    FieldKind.BOOL: bool,
}
"""Kinds whose values the column path checks by type; a column of any other kind takes it only when absent."""

_NONE = object()


class ColumnPlan:
    """What the column path checks for one table and column list, worked out once per request."""

    def __init__(self, table: TableSQL, columns: Sequence[str], *, fill_defaults: bool = True) -> None:
        schema = table.schema
        fields = [schema.by_name[c] for c in columns]
        managed = [field.managed for field in fields]
        value_fields = [field for field in fields if not field.managed]
        self.names = tuple(field.name for field in value_fields)
        self.managed_count = len(fields) - len(value_fields)
        # Managed columns (timestamps, one clock reading for all) must come last: they are appended.
        self.usable = bool(value_fields) and managed == sorted(managed)
        self.exact: dict[int, type] = {}
        self.limits: list[tuple[int, int]] = []
        self.checks: list[tuple[int, Callable[[Sequence[Any]], bool]]] = []
        self.encoders: list[tuple[int, Callable[[Any], Any]]] = []
        self.constants: dict[int, Any] = {}
        for position, field in enumerate(value_fields):
            exact = EXACT_TYPES.get(field.kind)
            encoder = table.encoders.get(field.name)
            if exact is not None and field.element_kind is None:
                self.exact[position] = exact
                if field.max_length is not None:
                    self.limits.append((position, field.max_length))
                if field.kind in COLUMN_CHECKS:
                    self.checks.append((position, COLUMN_CHECKS[field.kind]))
                if encoder is not None:
                    self.encoders.append((position, encoder))
            constant = _constant_default(field, fill_defaults)
            if constant is not _NONE:
                # As the per-row path does: the default is encoded, not validated again.
                self.constants[position] = constant if encoder is None or constant is None else encoder(constant)

    def prepare(self, rows: Sequence[Any], now: Any) -> list[Sequence[Any]] | None:
        """Parameter rows for ``rows`` when they are all uniform and valid; None sends them row by row.

        None is also the answer for a bad value: the per-row path then finds
        the first bad row and raises the error naming it.
        """
        count = len(rows)
        if not self.usable or not count or type(rows[0]) is not dict:
            return None
        width = len(rows[0])
        if list(map(type, rows)).count(dict) != count or list(map(len, rows)).count(width) != count:
            return None
        first = rows[0]
        present = [position for position, name in enumerate(self.names) if name in first]
        if not present or len(present) != width:
            return None  # a key that is not a column here: the per-row path names it
        if any(p not in self.exact for p in present):
            return None
        taken = frozenset(present)
        missing = [p for p in range(len(self.names)) if p not in taken]
        if any(p not in self.constants for p in missing):
            return None
        try:
            # Column by column straight from the dicts: no object is made per value or per row here,
            # so checking adds no garbage-collector work (the one tuple per row is made at the end).
            columns: dict[int, list[Any]] = {p: list(map(itemgetter(self.names[p]), rows)) for p in present}
        except KeyError:
            return None  # as many keys, other names
        if not self._valid(columns, count):
            return None
        for position, encoder in self.encoders:
            if position not in columns:
                continue
            accepts_all = getattr(encoder, "accepts_all", None)
            if accepts_all is not None:
                if not accepts_all(columns[position]):
                    return None
                continue
            try:
                columns[position] = list(map(encoder, columns[position]))
            except ValidationError:
                return None
        full = [columns[p] if p in columns else repeat(self.constants[p], count) for p in range(len(self.names))]
        full += [repeat(now, count) for _ in range(self.managed_count)]  # one iterator per column
        return list(zip(*full, strict=False))  # the repeats are endless; the columns have ``count`` values

    def _valid(self, columns: dict[int, list[Any]], count: int) -> bool:
        for position, column in columns.items():
            if list(map(type, column)).count(self.exact[position]) != count:
                return False
        for position, limit in self.limits:
            if position in columns and max(map(len, columns[position])) > limit:
                return False
        return all(check(columns[p]) for p, check in self.checks if p in columns)


def _constant_default(field: FieldSchema, fill_defaults: bool) -> Any:
    """The value every row lacking ``field`` gets, when it is the same for all; else ``_NONE``."""
    if not fill_defaults or field.required or field.default_factory is not None or field.auto_increment:
        return _NONE
    return field.make_default()
