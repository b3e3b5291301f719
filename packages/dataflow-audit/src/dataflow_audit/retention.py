"""Retention: delete or anonymize the records whose ``__dataflow__['retention']`` field is older than its days.

Records go in batches, each in its own transaction, walking the primary key
upwards: an interrupted run leaves whole batches done, and running it again
goes on (deleted records are gone; anonymizing twice gives the same values).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import attrs

from dataflow.errors import ValidationError
from dataflow.express import Express
from dataflow.fields import FieldKind

from .anonymize import anonymized, personal_of
from .options import RETENTION
from .transactions import transaction

if TYPE_CHECKING:
    from dataflow import DataFlow


@attrs.frozen
class RetentionCount:
    """One model's retention run: records past the rule, and how many were deleted or anonymized."""

    model: str
    action: str
    due: int
    done: int


def _cutoff(kind: FieldKind, days: int, now: dt.datetime) -> Any:
    cutoff = now - dt.timedelta(days=days)
    return cutoff.date() if kind is FieldKind.DATE else cutoff


async def apply_retention(
    db: DataFlow, *, dry_run: bool = False, batch: int = 500, now: dt.datetime | None = None, **context: Any
) -> list[RetentionCount]:
    """Apply every model's retention rule; with ``dry_run`` only count what is due."""
    if type(batch) is not int or batch < 1:
        raise ValidationError(f"batch must be a positive integer, got {batch!r}", field="batch")
    now = now or dt.datetime.now(dt.UTC)
    express = Express(db, context=context)
    report = []
    for schema in list(db.schemas.values()):
        rule = schema.options.get(RETENTION)
        if rule is None:
            continue
        field, action = rule["field"], rule.get("action", "delete")
        cutoff = _cutoff(schema.by_name[field].kind, rule["days"], now)
        due_filter = {field: {"$lt": cutoff}}
        due = int((await express.count(schema.name, filter=due_filter))["count"])
        done = 0
        last: Any = None
        pk = schema.primary_key
        while not dry_run:
            page_filter = due_filter if last is None else {"$and": [due_filter, {pk: {"$gt": last}}]}
            page = await express.list(schema.name, filter=page_filter, order_by=[pk], limit=batch)
            records = page["records"]
            if not records:
                break
            async with transaction(db, context) as (_, scoped):
                if action == "delete":
                    done += int((await scoped.bulk_delete(schema.name, [r[pk] for r in records]))["deleted"])
                else:
                    for record in records:
                        fields = {f.name: anonymized(schema, f, record[pk]) for f in personal_of(schema)}
                        if fields:
                            await scoped.update(schema.name, record[pk], fields)
                            done += 1
            last = records[-1][pk]
        report.append(RetentionCount(schema.name, action, due, done))
    return report
