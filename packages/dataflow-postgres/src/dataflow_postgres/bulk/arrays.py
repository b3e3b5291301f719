"""What the PostgreSQL bulk strategies share: typed unnest sources, key allocation, COPY.

Rows of a :class:`BulkRequest` arrive validated and encoded, in the order
of ``request.columns``. Array parameters are typed from the dialect's type
mapping (``$1::int8[]``), so that one statement text serves every chunk and
stays in asyncpg's prepared-statement cache.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

from dataflow.bulk.strategy import BulkRequest
from dataflow.dialect import Dialect
from dataflow.nodes.lazy_rows import LazyRows
from dataflow.sql import Params, TableSQL

from ..connection import rowcount
from ..types import is_array

if TYPE_CHECKING:
    import asyncpg

    from ..dialect import PostgresDialect

SOURCE_ALIAS = "_v"
"""Alias of an unnest source; its columns are ``_0``, ``_1``, ... and ``_k`` for the key.

Model fields cannot start with ``_``, so these names never shadow a column
that a scope filter names without qualification.
"""


def postgres(dialect: Dialect) -> PostgresDialect:
    """``dialect`` as the PostgresDialect it is: these strategies are offered by it alone."""
    return cast("PostgresDialect", dialect)


def array_refusal(request: BulkRequest) -> str | None:
    """Why an ``unnest`` strategy cannot run ``request``: it writes a native array column; else None.

    A parameter of type ``bigint[][]`` is one 2-D array (rectangular only),
    and ``unnest`` flattens it to its scalars, not to one array per row.
    """
    table = request.table
    arrays = [c for c in request.columns if is_array(table.field(c))]
    if not arrays:
        return None
    return f"unnest would flatten the native array column(s) {', '.join(arrays)}"


def column_list(table: TableSQL, columns: Sequence[str]) -> str:
    return ", ".join(table.quoted[c] for c in columns)


def unnest_source(table: TableSQL, columns: Sequence[str], params: Params) -> str:
    """``unnest($1::text[], $2::int8[], ...)``, one typed array placeholder per column."""
    dialect = postgres(table.dialect)
    arrays = [f"{params.add(None)}::{dialect.array_type(table.field(c))}[]" for c in columns]
    return f"unnest({', '.join(arrays)})"


def transpose(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Column arrays from rows: the parameters of an unnest source."""
    if not rows:
        return [[] for _ in range(width)]
    return [list(column) for column in zip(*rows, strict=True)]


def generates_keys(request: BulkRequest) -> bool:
    """Does the database make up the primary keys of these rows (an identity column not given)?"""
    pk = request.table.schema.pk
    return pk.auto_increment and pk.name not in request.columns


async def allocate_keys_meanwhile(raw: asyncpg.Connection, table: TableSQL, rows: Sequence[Any]) -> list[int]:
    """:func:`allocate_keys` for ``rows``, validating them (:class:`LazyRows` that keep theirs) meanwhile.

    The server takes 100,000 keys in about 40 ms, during which the client had
    nothing to do; the slices validated in that time are not validated again
    when the rows are read, so the COPY that follows streams them at once.
    A bad row raises once the keys have arrived: the connection is never left
    with a statement in flight.
    """
    if not isinstance(rows, LazyRows):
        return await allocate_keys(raw, table, len(rows))
    pending = asyncio.ensure_future(allocate_keys(raw, table, len(rows)))
    try:
        await asyncio.sleep(0)  # let the statement leave before the first slice is validated
        while not pending.done() and rows.make_next():
            await asyncio.sleep(0)  # reads the answer as soon as it is there
    except BaseException:
        await asyncio.gather(pending, return_exceptions=True)
        raise
    return await pending


async def allocate_keys(raw: asyncpg.Connection, table: TableSQL, count: int) -> list[int]:
    """``count`` fresh values of the table's identity sequence, in ascending order.

    Taking the keys first and writing them with the rows gives ids in row
    order with any insert method (COPY included), instead of relying on
    the order of RETURNING. The sequence is looked up once (``MATERIALIZED``):
    inlined, the planner called ``pg_get_serial_sequence`` for every key,
    which made 100,000 keys cost 0.35-0.45 s instead of 0.1 s. Keys that came
    out consecutive (no concurrent writer took one in between, increment 1)
    travel as their two ends; any others as one array, which is only built
    then (a subquery in CASE runs when its branch is taken; an aggregate
    beside the others would sort 100,000 keys every time, about 5 ms).
    """
    if count == 0:
        return []
    low, high, listed = await raw.fetchrow(
        "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence($1, $2)::regclass AS seq), "
        "k AS MATERIALIZED (SELECT nextval(s.seq) AS n FROM s, generate_series(1, $3)), "
        "b AS (SELECT min(n) AS low, max(n) AS high, count(*) AS taken FROM k) "
        "SELECT low, high, CASE WHEN high - low + 1 = taken THEN NULL "
        "ELSE (SELECT array_agg(n ORDER BY n) FROM k) END FROM b",
        table.table,
        table.pk,
        count,
    )
    return list(range(low, high + 1)) if listed is None else list(listed)


async def copy_rows(
    raw: asyncpg.Connection, table_name: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Binary COPY of ``rows`` into ``table_name`` (unquoted; asyncpg quotes it); rows copied.

    ``rows`` are read once, as they are sent: an error raised while reading
    them (a row that fails validation) aborts the COPY and is raised here.
    """
    status = await raw.copy_records_to_table(table_name, records=rows, columns=list(columns))
    return rowcount(status)


def with_keys(rows: Iterable[Sequence[Any]], keys: Sequence[Any]) -> Iterator[list[Any]]:
    """Each row with its key in front, as the rows are read."""
    return ([key, *row] for key, row in zip(keys, rows, strict=True))
