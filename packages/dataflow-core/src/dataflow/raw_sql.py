"""Raw SQL on a session: named placeholders bound, tenancy asked, rows returned as dicts.

The one implementation behind ``SQLNode`` and ``db.sql``. Rows are dicts of
what the driver returns: DataFlow does not know the types of columns it did
not declare. Under dataflow-tenancy, raw SQL that DataFlow cannot narrow to
the run's tenant is refused unless the run is an admin run or the database
itself enforces isolation (PostgreSQL row-level security).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ValidationError
from .named_params import bind_named
from .raw_capture import check_raw_write, run_captured_sql
from .session import Session

RESULTS = ("rows", "row", "value", "none")


def check_result(result: Any) -> str:
    if result not in RESULTS:
        raise ValidationError(f"result must be one of {', '.join(RESULTS)}, got {result!r}", field="result")
    return str(result)


def refuse_unscoped(session: Session) -> None:
    """Let every tenancy filter refuse raw SQL in this session (its optional ``refuse_raw_sql(context)``)."""
    for tenancy_filter in session.db.tenancy_filters:
        refuse = getattr(tenancy_filter, "refuse_raw_sql", None)
        if refuse is not None:
            refuse(session.context)


async def run_sql(
    session: Session,
    query: Any,
    params: Mapping[str, Any] | None,
    result: str = "rows",
    *,
    model: str | type | None = None,
    node_id: str = "sql",
) -> Any:
    """Run one raw statement; ``result`` says what to return: all rows, the first row, its first value, or none.

    ``"rows"``: a list of dicts; ``"row"``: the first row or None; ``"value"``:
    the first column of the first row or None; ``"none"``: the rows affected.
    A write of a captured model's table is refused, or captured when ``model``
    names it (:mod:`dataflow.raw_capture`).
    """
    result = check_result(result)
    sql, values = bind_named(query, params, session.dialect)
    refuse_unscoped(session)
    captured = check_raw_write(session, query, model) if session.db.captured or model is not None else None
    if captured is not None:
        names, rows = await run_captured_sql(session, captured, sql, values, node_id)
        return _shaped(names, rows, result, len(rows))
    if result == "none":
        outcome = await session.execute(sql, values, operation="sql")
        return outcome.rowcount
    names, rows = await session.fetch_named(sql, values, operation="sql")
    return _shaped(names, rows, result, len(rows))


def _shaped(names: list[str], rows: list[Any], result: str, affected: int) -> Any:
    if result == "none":
        return affected
    if result == "value":
        return rows[0][0] if rows and names else None
    records = [dict(zip(names, row, strict=True)) for row in rows]
    if result == "row":
        return records[0] if records else None
    return records
