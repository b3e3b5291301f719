"""What the PostgreSQL bulk strategies share: typed unnest sources, key allocation, COPY.

Rows of a :class:`BulkRequest` arrive validated and encoded, in the order
of ``request.columns``. Array parameters are typed from the dialect's type
mapping (``$1::int8[]``), so that one statement text serves every chunk and
stays in asyncpg's prepared-statement cache.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

from dataflow.bulk.strategy import BulkRequest
from dataflow.dialect import Dialect
from dataflow.errors import DataFlowError
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


async def copied_keys(raw: asyncpg.Connection, table: TableSQL, count: int) -> list[int]:
    """The keys the identity sequence gave the ``count`` rows just copied (COPY filled them), ascending.

    COPY numbers its rows in order, so they hold ``count`` keys up to ``currval``.
    They are the ``count`` keys ending there unless a concurrent writer took one
    in between: every row in that range must be one this COPY wrote, which its
    ``xmin`` tells (the COPY runs in a savepoint of its own, so its rows, and
    only they, carry that subtransaction's id; the last row's is read). Else
    the keys are read back below ``currval`` by that id. One statement of about
    10 ms for 100,000 keys, where taking them first cost 40-45 ms of the
    server's time and a tuple per row to send them.
    """
    sequence = "currval(pg_get_serial_sequence($1, $2))"
    q = table.quoted
    mine = f"{table.table}.xmin = (SELECT xmin FROM {table.table} WHERE {q[table.pk]} = h.high)"
    high, ours = await raw.fetchrow(
        f"WITH h AS MATERIALIZED (SELECT {sequence} AS high) SELECT h.high, "
        f"(SELECT count(*) FROM {table.table} WHERE {q[table.pk]} BETWEEN h.high - $3 + 1 AND h.high AND {mine}) "
        "FROM h",
        table.table,
        table.pk,
        count,
    )
    if ours == count:
        return list(range(high - count + 1, high + 1))
    listed = await raw.fetch(
        f"WITH h AS MATERIALIZED (SELECT {sequence} AS high) SELECT {q[table.pk]} FROM {table.table}, h "
        f"WHERE {q[table.pk]} <= h.high AND {mine} ORDER BY {q[table.pk]} DESC LIMIT $3",
        table.table,
        table.pk,
        count,
    )
    keys = [row[0] for row in reversed(listed)]
    if len(keys) != count:
        raise DataFlowError(
            f"{table.schema.name}: the keys of the {count} rows just copied could not be read back "
            f"(found {len(keys)}); does a trigger change {table.pk!r}?"
        )
    return keys


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
