"""Idempotency keys: a unit of work commits at most once, and its output can be read back.

The marker (``dataflow_idempotency``: key, state, output) lives in the same
database as the work and is inserted in the same transaction, so it exists
exactly when the work committed. Running the same key again returns the
stored output instead of repeating the work; two concurrent runs of one key
collide on the marker's primary key and the loser rolls back.

Recovery can *fence* a key: it inserts a ``fenced`` marker, after which a
straggling run of that key (a process thought dead) can no longer commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

import attrs

from dataflow.errors import UniqueViolationError
from dataflow.fields import MaxLength
from dataflow.workflow import Workflow

from .errors import SagaInProgressError
from .executor import Parameters, run_on_sessions
from .storage import Table, declare, now_ms
from .values import dumps, loads

if TYPE_CHECKING:
    from dataflow import DataFlow
    from dataflow.session import Session

DONE = "done"
FENCED = "fenced"
MAX_KEY = 191


class _Marker:
    key: Annotated[str, MaxLength(MAX_KEY)]
    state: Annotated[str, MaxLength(8)]
    output: str | None = None
    created_at: int = 0
    __dataflow__ = {"table": "dataflow_idempotency", "primary_key": "key"}


SCHEMA = declare(_Marker)


@attrs.frozen
class Marker:
    key: str
    state: str
    output: Any


class Markers:
    """The marker table through one session."""

    def __init__(self, session: Session) -> None:
        self.table = Table(session, SCHEMA)

    async def ensure(self) -> None:
        await self.table.ensure()

    async def get(self, key: str) -> Marker | None:
        row = await self.table.select_one({"key": key})
        if row is None:
            return None
        return Marker(key, str(row["state"]), loads(row["output"]))

    async def put(self, key: str, state: str, output: Any) -> None:
        await self.table.insert({"key": key, "state": state, "output": dumps(output), "created_at": now_ms()})


def check_key(key: str) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY:
        raise ValueError(f"an idempotency key is a non-empty string of at most {MAX_KEY} characters, got {key!r}")
    return key


def _settled(marker: Marker) -> Mapping[str, Any]:
    if marker.state == FENCED:
        raise SagaInProgressError(
            f"{marker.key!r} was fenced by recovery (its process was presumed dead), so it cannot run here"
        )
    output: Mapping[str, Any] = marker.output
    return output


async def run_once(
    db: DataFlow,
    key: str,
    workflow: Workflow,
    parameters: Parameters | None = None,
    *,
    context: Mapping[str, Any] | None = None,
    run_id: str | None = None,
) -> tuple[Mapping[str, Any], bool]:
    """Run ``workflow`` on ``db`` in one transaction at most once per ``key``.

    Returns ``(results by node id, replayed)``; ``replayed`` is true when an
    earlier run of ``key`` had committed and its stored results are returned.
    """
    check_key(key)
    session = await db.open_session(run_id=run_id, context=context)
    try:
        markers = Markers(session)
        await markers.ensure()
        await session.begin()
        existing = await markers.get(key)
        if existing is not None:
            await session.rollback()
            return _settled(existing), True
        results = await run_on_sessions(workflow, {db: session}, parameters, run_id=run_id)
        try:
            await markers.put(key, DONE, results)
        except UniqueViolationError:
            # A concurrent run of the same key committed first (or recovery fenced it).
            await session.rollback()
            existing = await markers.get(key)
            if existing is None:
                raise
            return _settled(existing), True
        await session.commit()
        return results, False
    finally:
        await db.close_session(session)


async def fence(db: DataFlow, key: str) -> Marker | None:
    """Make sure ``key`` can no longer commit; return its marker if it already had.

    After this, the work of ``key`` either committed (the returned ``done``
    marker says so, with its output) or never will.
    """
    check_key(key)
    session = await db.open_session()
    try:
        markers = Markers(session)
        await markers.ensure()
        try:
            await markers.put(key, FENCED, None)
        except UniqueViolationError:
            existing = await markers.get(key)
            if existing is not None and existing.state == DONE:
                return existing
        return None
    finally:
        await db.close_session(session)
