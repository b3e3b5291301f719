"""What a ``DataFlow`` does to the schema when it first meets its database.

In development it creates missing tables and adds missing nullable columns,
never dropping or altering anything; in production it changes nothing and
refuses to run against a schema that does not match the models. Either way
this happens once per instance (and again only when models are added).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..errors import MigrationError
from ..session import Session
from .runner import Migrator

if TYPE_CHECKING:
    from ..database import DataFlow

log = logging.getLogger("dataflow.migrate")


def can_introspect(db: DataFlow) -> bool:
    try:
        db.dialect.introspector()
    except MigrationError:
        return False
    return True


async def prepare_schema(db: DataFlow, session: Session) -> None:
    if not can_introspect(db):
        # A dialect that cannot read its schema can still create what is missing.
        if db.config.creates_tables:
            await create_missing_tables(db, session)
        return
    migrator = Migrator(db)
    if db.config.creates_tables:
        differences = await migrator.ensure_development_schema(session)
        if differences:
            log.warning(
                "the database differs from the models in ways DataFlow does not change by itself: %s; "
                "review `dataflow migrate plan` and apply it",
                "; ".join(differences),
            )
    else:
        await migrator.check_production_schema(session)


async def create_missing_tables(db: DataFlow, session: Session) -> None:
    """``CREATE TABLE IF NOT EXISTS`` for every model, referenced tables first."""
    for schema in db.creation_order():
        for statement in db.dialect.create_table_sql(schema, db.schemas):
            await session.execute(statement, schema=schema, operation="create_table")
