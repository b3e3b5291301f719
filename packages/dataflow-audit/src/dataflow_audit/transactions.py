"""One transaction on a session of its own, with a context (tenant, actor) for the nodes run on it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from dataflow.express import Express

if TYPE_CHECKING:
    from dataflow import DataFlow
    from dataflow.session import Session


@asynccontextmanager
async def transaction(db: DataFlow, context: Mapping[str, Any]) -> AsyncIterator[tuple[Session, Express]]:
    """Committed when the block ends, rolled back when it raises (``db.transaction()`` carries no context)."""
    session = await db.open_session(run_id=uuid.uuid4().hex, context=context)
    try:
        await session.begin()
        yield session, Express(db, session, context)
        await session.commit()
    finally:
        await db.close_session(session)
