"""The migration lock on MySQL and MariaDB: ``GET_LOCK`` on the database's name, held by one connection."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dataflow.errors import DataFlowError, MigrationError
from dataflow.session import Session

LOCK_PREFIX = "dataflow_migrate:"
"""``GET_LOCK`` names are server-wide: the lock is named after the database, so databases do not wait on each other."""
MAX_LOCK_NAME = 64
"""MySQL refuses longer user-level lock names."""


def lock_name(database: str) -> str:
    name = LOCK_PREFIX + database
    if len(name) > MAX_LOCK_NAME:
        name = LOCK_PREFIX + hashlib.sha1(database.encode()).hexdigest()
    return name


@asynccontextmanager
async def migration_lock(session: Session, database: str, timeout: float) -> AsyncIterator[None]:
    """A second migrator waits (up to ``timeout`` seconds, then ``MigrationError``), and finds the plan
    already applied when it gets the lock.

    The lock belongs to the connection: if releasing it fails the connection
    is discarded, which makes the server release it.
    """
    name = lock_name(database)
    rows = await session.fetch("SELECT GET_LOCK(%s, %s)", (name, timeout), operation="migrate_lock")
    if rows[0][0] != 1:
        holder = await session.fetch("SELECT IS_USED_LOCK(%s)", (name,), operation="migrate_lock")
        raise MigrationError(
            f"another migration of {database} is running (server connection "
            f"{holder[0][0]} holds the lock {name!r}) and did not finish within {timeout:g} s; "
            "try again when it is done, or raise migrate_lock_timeout"
        )
    try:
        yield
    finally:
        try:
            await session.fetch("SELECT RELEASE_LOCK(%s)", (name,), operation="migrate_lock")
        except DataFlowError:
            session.broken = True
