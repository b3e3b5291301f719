"""Foreign keys within the tenancy scope: a write may reference only rows its scope lets it see.

The database's own foreign key accepts any existing row, another tenant's
included. So before a write, every value of a reference to a scoped model
is looked up under that model's scope, and one it cannot see is refused
exactly like a missing row: the writer learns nothing about rows outside
its scope, and no row of another tenant becomes undeletable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ForeignKeyViolationError
from ..filters import compile_filter
from ..schema import ModelSchema
from ..session import Session
from ..sql import Params

LOOKUP_CHUNK = 500
"""Keys looked up per statement: below every dialect's parameter limit, with room for the scope's."""


async def check_references(session: Session, schema: ModelSchema, rows: Iterable[Any]) -> None:
    """Raise ``ForeignKeyViolationError`` when a row references a row of a scoped model outside the scope.

    ``rows`` are the mappings about to be written (new rows, or an update's
    values); non-mappings are left to validation. Unscoped targets (no
    tenancy, the admin scope) are left to the database's foreign key.
    """
    if not session.db.tenancy_filters:
        return
    references = [field for field in schema.fields if field.references is not None]
    if not references:
        return
    rows = [row for row in rows if isinstance(row, Mapping)]
    for field in references:
        assert field.references is not None
        values = [row[field.name] for row in rows if row.get(field.name) is not None]
        if not values:
            continue
        target = session.db.schemas[field.references]
        scope = session.scope(target)
        if scope is None:
            continue
        # Validated as the field (its kind is the target's key kind), so a bad value names this field.
        keys = list(dict.fromkeys(field.validate(value, schema.name) for value in values))
        for start in range(0, len(keys), LOOKUP_CHUNK):
            chunk = keys[start : start + LOOKUP_CHUNK]
            if await _visible(session, target, chunk, scope) < len(chunk):
                raise _invisible(schema, field.name, target)


async def _visible(session: Session, target: ModelSchema, keys: list[Any], scope: Mapping[str, Any]) -> int:
    table = session.table(target)
    params = Params(table.dialect)
    condition = compile_filter({"$and": [{target.primary_key: {"$in": keys}}, dict(scope)]}, table, params)
    sql = f"SELECT COUNT(*) FROM {table.table} WHERE {condition}"
    rows = await session.fetch(sql, params.values, schema=target, operation="check_references")
    return int(rows[0][0])


def _invisible(schema: ModelSchema, name: str, target: ModelSchema) -> ForeignKeyViolationError:
    # The same words for another tenant's row and for no row: the difference is what must not leak.
    return ForeignKeyViolationError(
        f"{schema.name}.{name} references a {target.name} that does not exist or that the current tenant "
        f"cannot read; reference one of the tenant's own {target.name} records",
        model=schema.name,
        field=name,
        fields=(name,),
    )
