"""db.standalone_session(): a session outside any run, that always gives its connection back sound."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from dataflow import DataFlow
from dataflow.session import Session


def run_with(db: DataFlow, body: Callable[[DataFlow], Awaitable[object]]) -> dict[str, int]:
    """Run ``body(db)`` on a new loop; the pool's state afterwards."""

    async def main() -> dict[str, int]:
        try:
            await body(db)
            return dict((await db.pool()).state())
        finally:
            await db.close_loop(asyncio.get_running_loop())

    return asyncio.run(main())


def test_an_open_transaction_is_rolled_back_and_the_connection_reused(db: DataFlow) -> None:
    async def body(db: DataFlow) -> None:
        async with db.standalone_session({"purpose": "test"}) as session:
            assert session.context == {"purpose": "test"} and session.run_id is None
            await session.execute("CREATE TABLE note (text TEXT)")
            await session.begin()
            await session.execute("INSERT INTO note VALUES ('kept?')")
        async with db.standalone_session() as session:
            assert session.context == {}
            assert (await session.fetch("SELECT COUNT(*) FROM note"))[0][0] == 0

    assert run_with(db, body) == {"size": 1, "in_use": 0, "idle": 1, "waiting": 0}


def test_a_broken_connection_is_discarded(db: DataFlow) -> None:
    async def body(db: DataFlow) -> None:
        async with db.standalone_session() as session:
            session.broken = True

    assert run_with(db, body) == {"size": 0, "in_use": 0, "idle": 0, "waiting": 0}


def test_a_connection_whose_rollback_fails_is_discarded(db: DataFlow, monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(self: Session) -> None:
        raise RuntimeError("rollback failed")

    async def body(db: DataFlow) -> None:
        async with db.standalone_session() as session:
            await session.begin()
            monkeypatch.setattr(Session, "rollback", refuse)

    assert run_with(db, body) == {"size": 0, "in_use": 0, "idle": 0, "waiting": 0}
