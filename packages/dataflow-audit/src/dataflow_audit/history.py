"""Reading the trail back: one record's entries newest first, and the record as it was at a moment."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from dataflow.errors import ConfigError, ValidationError
from dataflow.schema import ModelSchema
from dataflow.sql import Params, TableSQL

from .created import record_changes
from .values import loads

if TYPE_CHECKING:
    from dataflow.session import Session

OPERATIONS = ("create", "update", "delete")
CHUNK = 500
"""Keys per statement of :func:`histories`."""


@attrs.frozen
class AuditEntry:
    """One recorded change of one record: ``changes`` maps each field to ``[before, after]``."""

    id: int
    model: str
    key: str
    operation: str
    changes: dict[str, list[Any]]
    at: dt.datetime
    actor: str | None
    tenant: str | None
    run_id: str | None
    node_id: str | None
    chain: str
    seq: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the timestamp as ISO text."""
        return {**attrs.asdict(self), "at": self.at.isoformat()}


def micros(moment: dt.datetime, what: str) -> int:
    if not isinstance(moment, dt.datetime):
        raise ValidationError(f"{what} must be a datetime, got {moment!r}", field=what)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)  # naive datetimes are UTC, as everywhere in DataFlow
    return int(moment.timestamp() * 1_000_000)


def moment(value: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(value / 1_000_000, dt.UTC)


def integer_key(key: Any) -> int | None:
    """The key as an integer when its text is one (as a bulk entry's range holds it), else None."""
    text = str(key)
    try:
        number = int(text)
    except ValueError:
        return None
    return number if str(number) == text else None


def to_entry(row: Mapping[str, Any], key: int | None = None, parsed: Any = None) -> AuditEntry | None:
    """The entry of one record; for a bulk entry, that of record ``key`` in it (None when it holds no such row).

    ``parsed`` is the bulk entry's ``changes`` already read, when several of its records are wanted.
    """
    if row.get("key_low") is not None:
        found = parsed if parsed is not None else loads(row["changes"])
        changes = None if key is None else record_changes(found, row["key_low"], key)
        if changes is None:
            return None
        record_key = str(key)
    else:
        changes, record_key = loads(row["changes"]), row["record_key"]
    return AuditEntry(
        id=row["id"],
        model=row["model"],
        key=record_key,
        operation=row["operation"],
        changes=changes,
        at=moment(row["at"]),
        actor=row["actor"],
        tenant=row["tenant"],
        run_id=row["run_id"],
        node_id=row["node_id"],
        chain=row["chain"],
        seq=row["seq"],
    )


def visible_tenant(session: Session, schema: ModelSchema) -> tuple[bool, str | None]:
    """Whose entries of ``schema`` the session may read: ``(False, None)`` all, ``(True, t)`` tenant ``t``'s only.

    The model's tenancy decides, as for its rows: the scope a tenancy filter puts
    on the model (``{"tenant_id": t}``) narrows its history; an admin scope does not.
    A scope of another shape is refused (fail closed).
    """
    scope = session.scope(schema) if session.db.tenancy_filters else None
    if scope is None:
        return False, None
    tenant = scope.get("tenant_id") if isinstance(scope, Mapping) and len(scope) == 1 else None
    if not isinstance(tenant, str):
        raise ConfigError(
            f"{schema.name}: its tenancy scope {scope!r} cannot narrow the audit trail", model=schema.name
        )
    return True, tenant


def _conditions(table: TableSQL, params: Params, equal: Mapping[str, Any]) -> list[str]:
    return [f"{table.quoted[name]} = {params.add(value)}" for name, value in equal.items() if value is not None]


async def history(
    session: Session,
    table: TableSQL,
    schema: ModelSchema,
    key: Any,
    *,
    actor: str | None = None,
    operation: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int | None = None,
) -> list[AuditEntry]:
    """One record's entries, newest first; only the session's tenant's under tenancy."""
    if operation is not None and operation not in OPERATIONS:
        raise ValidationError(f"operation must be one of {', '.join(OPERATIONS)}, got {operation!r}", field="operation")
    if limit is not None and (type(limit) is not int or limit < 1):
        raise ValidationError(f"limit must be a positive integer, got {limit!r}", field="limit")
    params = Params(table.dialect)
    scoped, tenant = visible_tenant(session, schema)
    q = table.quoted
    number = integer_key(key)

    def part(own: Callable[[], str]) -> str:
        # A SELECT per way an entry is the key's, each searching its own index: SQLite plans
        # "record_key = ? OR (key_low <= ? ...)" as a scan of every entry of the model.
        equal = {"model": schema.name, "actor": actor, "operation": operation}
        conditions = _conditions(table, params, equal)
        if scoped:
            conditions.append(f"{q['tenant']} = {params.add(tenant)}")
        if since is not None:
            conditions.append(f"{q['at']} >= {params.add(micros(since, 'since'))}")
        if until is not None:
            conditions.append(f"{q['at']} <= {params.add(micros(until, 'until'))}")
        conditions.append(own())  # placeholders in the order of the text (SQLite's ?)
        return f"SELECT {table.select_list} FROM {table.table} WHERE {' AND '.join(conditions)}"

    sql = part(lambda: f"{q['record_key']} = {params.add(str(key))}")
    if number is not None:
        # A bulk entry whose range holds the key (the index on (model, key_low)); its first record is in the first part.
        sql += " UNION ALL " + part(
            lambda: (
                f"{q['key_low']} <= {params.add(number)} AND {q['key_high']} >= {params.add(number)} "
                f"AND {q['record_key']} <> {params.add(str(key))}"
            )
        )
    sql += f" ORDER BY {q['at']} DESC, {q['id']} DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    rows = await session.fetch(sql, params.values, operation="audit")
    return [entry for row in rows if (entry := to_entry(table.decode(row), number)) is not None]


async def histories(session: Session, table: TableSQL, schema: ModelSchema, keys: Sequence[Any]) -> list[AuditEntry]:
    """Every entry of each record of ``keys``, in no order; a bulk entry is read once for all its records asked."""
    scoped, tenant = visible_tenant(session, schema)
    found: list[AuditEntry] = []
    for start in range(0, len(keys), CHUNK):
        chunk = [str(key) for key in keys[start : start + CHUNK]]
        numbers = sorted({number for key in chunk if (number := integer_key(key)) is not None})
        sql, values = _histories_sql(table, schema, chunk, numbers, tenant if scoped else None, scoped=scoped)
        for row in map(table.decode, await session.fetch(sql, values, operation="audit")):
            if row["key_low"] is None:
                found += [entry] if (entry := to_entry(row)) is not None else []
                continue
            parsed = loads(row["changes"])
            inside = [n for n in numbers if row["key_low"] <= n <= row["key_high"]]
            found += [entry for n in inside if (entry := to_entry(row, n, parsed)) is not None]
    return found


def _histories_sql(
    table: TableSQL, schema: ModelSchema, keys: list[str], numbers: list[int], tenant: str | None, *, scoped: bool
) -> tuple[str, list[Any]]:
    """The entries of ``keys``: those naming one of them, and (``numbers``) the bulk entries whose range overlaps."""
    params = Params(table.dialect)
    q = table.quoted

    def part(own: Callable[[], str]) -> str:
        # Bound in the order of the text (SQLite's ?); one SELECT per index, as in history.
        conditions = [f"{q['model']} = {params.add(schema.name)}", own()]
        if scoped:
            conditions.append(f"{q['tenant']} = {params.add(tenant)}")
        return f"SELECT {table.select_list} FROM {table.table} WHERE {' AND '.join(conditions)}"

    def listed() -> str:
        return f"({', '.join(params.add(key) for key in keys)})"

    sql = part(lambda: f"{q['record_key']} IN {listed()}")
    if numbers:
        sql += " UNION ALL " + part(
            lambda: (
                f"{q['key_low']} <= {params.add(numbers[-1])} AND {q['key_high']} >= {params.add(numbers[0])} "
                f"AND {q['record_key']} NOT IN {listed()}"
            )
        )
    return sql, params.values


async def as_of(
    session: Session,
    table: TableSQL,
    schema: ModelSchema,
    key: Any,
    at: dt.datetime,
    opener: Callable[[list[AuditEntry]], Awaitable[list[AuditEntry]]] | None = None,
) -> dict[str, Any] | None:
    """Replay the record's entries up to ``at``: its audited fields as they were, or None (absent then).

    ``opener`` opens sealed personal values first.
    """
    entries = await history(session, table, schema, key, until=at)
    if opener is not None:
        entries = await opener(entries)
    record: dict[str, Any] | None = None
    for entry in reversed(entries):
        if entry.operation == "delete" and all(after is None for _, after in entry.changes.values()):
            record = None
            continue
        record = dict(record or {})
        if entry.operation == "create":
            record = {schema.primary_key: schema.pk.validate(key, schema.name) if key is not None else None}
        for name, (_, after) in entry.changes.items():
            record[name] = after
    return record
