"""Finding what belongs to a data subject: its record, and every record tied to it by foreign keys, through chains.

``Customer`` (``__dataflow__ = {"subject": "id"}``) ties ``Order`` (``customer_id:
Customer``), which ties ``OrderLine`` (``order_id: Order``), and so on: each
level is one List per referring model, ``{fk: {"$in": keys}}``, through the
direct API, so tenancy narrows it like any other read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from dataflow.errors import ConfigError, NotFoundError
from dataflow.express import Express

from .options import SUBJECT

if TYPE_CHECKING:
    from dataflow import DataFlow


@attrs.frozen
class TiedRecords:
    """The subject's record and the records tied to it, by model, in the order they were found (parents first)."""

    model: str
    key: Any
    record: dict[str, Any]
    tied: dict[str, list[dict[str, Any]]]


def subject_model(db: DataFlow, model: str | type) -> str:
    schema = db.schema(model)
    if not schema.options.get(SUBJECT):
        subjects = [name for name, s in db.schemas.items() if s.options.get(SUBJECT)]
        raise ConfigError(
            f"{schema.name} is not a data subject model: declare __dataflow__ = {{'subject': 'id'}} on it "
            f"(subject models here: {', '.join(subjects) or 'none'})",
            model=schema.name,
            field=SUBJECT,
        )
    return schema.name


async def find_tied(db: DataFlow, express: Express, model: str | type, key: Any) -> TiedRecords:
    """The subject and its tied records; ``NotFoundError`` when the subject does not exist (or is not visible)."""
    name = subject_model(db, model)
    schema = db.schema(name)
    record = await express.read(name, key, raise_on_not_found=False)
    if record is None:
        raise NotFoundError(f"data subject {name} {key!r} does not exist; nothing was changed", model=name)
    tied: dict[str, list[dict[str, Any]]] = {}
    frontier: dict[str, set[Any]] = {name: {record[schema.primary_key]}}
    seen: dict[str, set[Any]] = {name: set(frontier[name])}
    while frontier:
        found: dict[str, set[Any]] = {}
        for other in db.schemas.values():
            for field in other.fields:
                keys = frontier.get(field.references or "")
                if not keys or other.name == name:
                    continue
                page = await express.list(other.name, filter={field.name: {"$in": sorted(keys)}})
                for row in page["records"]:
                    pk = row[other.primary_key]
                    if pk in seen.setdefault(other.name, set()):
                        continue
                    seen[other.name].add(pk)
                    tied.setdefault(other.name, []).append(row)
                    found.setdefault(other.name, set()).add(pk)
        frontier = found
    return TiedRecords(name, record[schema.primary_key], record, tied)
