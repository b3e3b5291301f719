"""Related records for Read and List: ``include=["team", "posts.comments"]``, loaded one query per relation.

Each relation is loaded for all the records at once (``key IN (...)``, split
only where the database's parameter limit forces it), never one query per
record. Included rows pass through the same scope as the records they belong
to (tenancy, soft delete), and a reverse relation can be narrowed:
``include={"posts": {"filter": {...}, "order_by": [...], "limit": 3, "fields": [...]}}``
(``limit`` applies per parent record).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ..errors import FilterError
from ..ordering import compile_order_by
from ..relations import Relation
from ..schema import ModelSchema, suggest
from ..session import Session
from ..sql import Params, TableSQL
from .statements import SessionTables, where

SPEC_KEYS = ("fields", "filter", "order_by", "limit", "include")


@attrs.frozen
class Include:
    """One relation to load, how to narrow it, and what to load below it."""

    relation: Relation
    fields: tuple[str, ...] | None = None
    filter: Mapping[str, Any] | None = None
    order_by: Sequence[str] | None = None
    limit: int | None = None
    below: tuple[Include, ...] = ()


def parse_includes(session: Session, schema: ModelSchema, spec: Any, depth: int = 1) -> tuple[Include, ...]:
    """The ``include`` parameter as a tree of :class:`Include`, checked against the relations before any SQL."""
    if spec is None:
        return ()
    if isinstance(spec, str):
        spec = [spec]
    tree: dict[str, dict[str, Any]] = {}
    if isinstance(spec, Mapping):
        for name, options in spec.items():
            if options is not None and options is not True and not isinstance(options, Mapping):
                raise _error(schema, f"include[{name!r}] takes an object of options ({', '.join(SPEC_KEYS)})")
            _merge(tree, str(name), dict(options) if isinstance(options, Mapping) else {})
    elif isinstance(spec, Sequence):
        for path in spec:
            if not isinstance(path, str) or not path:
                raise _error(schema, f"include takes relation names, got {path!r}")
            _merge(tree, path, {})
    else:
        raise _error(schema, "include takes a list of relation names or an object of relation options")
    limit = session.db.config.max_include_depth
    return tuple(_parsed(session, schema, name, options, depth, limit) for name, options in tree.items())


def _merge(tree: dict[str, dict[str, Any]], path: str, options: dict[str, Any]) -> None:
    head, _, rest = path.partition(".")
    entry = tree.setdefault(head, {})
    if rest:
        nested = entry.setdefault("include", {})
        if isinstance(nested, Sequence) and not isinstance(nested, str):
            nested = entry["include"] = {name: {} for name in nested}
        _merge(nested, rest, options)
    else:
        entry.update(options)


def _parsed(
    session: Session, schema: ModelSchema, name: str, options: dict[str, Any], depth: int, limit: int
) -> Include:
    if depth > limit:
        raise _error(schema, f"include {name!r} is {depth} relations deep; the maximum is {limit} (max_include_depth)")
    relations = session.db.relations.of(schema.name)
    relation = relations.get(name)
    if relation is None:
        listed = ", ".join(sorted(relations)) or "none"
        raise _error(schema, f"unknown relation {name!r} in include{suggest(name, relations)} (relations: {listed})")
    for key in options:
        if key not in SPEC_KEYS:
            raise _error(schema, f"include[{name!r}] has no option {key!r}{suggest(key, SPEC_KEYS)}")
    target = session.db.schema(relation.target)
    if not relation.many and set(options) - {"fields", "include"}:
        raise _error(schema, f"include[{name!r}] is one {target.name}: only 'fields' and 'include' apply to it")
    fields = options.get("fields")
    if fields is not None:
        if isinstance(fields, str) or not all(isinstance(f, str) for f in fields):
            raise _error(schema, f"include[{name!r}] fields: expected a list of field names")
        for field in fields:
            if field not in target.by_name:
                raise _error(
                    schema, f"include[{name!r}]: {target.name} has no field {field!r}{suggest(field, target.by_name)}"
                )
    row_limit = options.get("limit")
    if row_limit is not None and (type(row_limit) is not int or row_limit < 0):
        raise _error(schema, f"include[{name!r}] limit must be a non-negative integer, got {row_limit!r}")
    return Include(
        relation=relation,
        fields=tuple(fields) if fields is not None else None,
        filter=options.get("filter"),
        order_by=options.get("order_by"),
        limit=row_limit,
        below=parse_includes(session, target, options.get("include"), depth + 1),
    )


def _error(schema: ModelSchema, message: str) -> FilterError:
    return FilterError(f"{schema.name}: {message}", model=schema.name, field="include")


def needed_columns(
    schema: ModelSchema, columns: Sequence[str] | None, includes: Sequence[Include]
) -> tuple[str, ...] | None:
    """``columns`` plus the keys the includes join on (None: every column)."""
    if columns is None:
        return None
    extra = [i.relation.local for i in includes if i.relation.local not in columns]
    return (*columns, *dict.fromkeys(extra))


async def attach(
    session: Session,
    records: list[dict[str, Any]],
    includes: Sequence[Include],
    shown: Sequence[str] | None,
    operation: str,
) -> None:
    """Load every include for ``records`` and put it under the relation's name; drop keys not asked for."""
    for include in includes:
        await _attach_one(session, records, include, operation)
    if shown is not None:
        hidden = {include.relation.local for include in includes} - set(shown)
        for record in records:
            for key in hidden:
                record.pop(key, None)


async def _attach_one(session: Session, records: list[dict[str, Any]], include: Include, operation: str) -> None:
    relation = include.relation
    table = session.table(session.db.schema(relation.target))
    keys = list(dict.fromkeys(r[relation.local] for r in records if r.get(relation.local) is not None))
    columns = needed_columns(table.schema, include.fields, include.below)
    if columns is not None and relation.remote not in columns:
        columns = (*columns, relation.remote)
    rows = await _related_rows(session, table, include, keys, columns, operation)
    await attach(session, rows, include.below, None, operation)
    if relation.many:
        grouped: dict[Any, list[dict[str, Any]]] = {key: [] for key in keys}
        for row in rows:
            group = grouped[row[relation.remote]]
            if include.limit is None or len(group) < include.limit:
                group.append(row)
        for record in records:
            record[relation.name] = grouped.get(record.get(relation.local), [])
    else:
        by_key = {row[relation.remote]: row for row in rows}
        for record in records:
            record[relation.name] = by_key.get(record.get(relation.local))
    if include.fields is not None:
        hidden = set(columns or ()) - set(include.fields)
        for row in rows:
            for key in hidden:
                row.pop(key, None)


async def _related_rows(
    session: Session,
    table: TableSQL,
    include: Include,
    keys: list[Any],
    columns: tuple[str, ...] | None,
    operation: str,
) -> list[dict[str, Any]]:
    """The target rows whose ``remote`` is one of ``keys``, in scope, filtered and ordered as asked."""
    remote = include.relation.remote
    # A key list longer than the database takes parameters is split; each part is one query.
    chunk = max(1, table.dialect.capabilities.max_parameters - 100)
    order_by = include.order_by if include.order_by is not None else [table.schema.primary_key]
    found: list[dict[str, Any]] = []
    for start in range(0, len(keys), chunk):
        part = {remote: {"$in": keys[start : start + chunk]}}
        condition = part if include.filter is None else {"$and": [include.filter, part]}
        params = Params(table.dialect)
        sql = f"SELECT {table.select_columns(columns)} FROM {table.table}"
        sql += where(session, table, params, condition)
        sql += compile_order_by(order_by, table, params, SessionTables(session))
        rows = await session.fetch(sql, params.values, schema=table.schema, operation=operation)
        found.extend(table.decode(row, columns) for row in rows)
    # Each key is in one part only, so every parent's rows keep the SQL order.
    return found
