"""The generic pool's slots: first come, first served; a wait that ends (timeout, cancellation) loses no slot."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dataflow import DataFlow, PoolTimeoutError
from dataflow.session import Session


def database(tmp_path: Path, **options: float) -> DataFlow:
    return DataFlow(f"sqlite:///{tmp_path / 'slots.db'}", **options)  # type: ignore[arg-type]


async def read_one(session: Session) -> int:
    rows = await session.fetch("SELECT 1")
    return int(rows[0][0])


def test_waiters_get_the_connection_in_the_order_they_asked(tmp_path: Path) -> None:
    async def main() -> list[str]:
        db = database(tmp_path, pool_size=1)
        order: list[str] = []

        async def use(name: str) -> None:
            session = await db.open_session()
            order.append(name)
            await read_one(session)
            await db.close_session(session)

        try:
            held = await db.open_session()
            waiters = [asyncio.ensure_future(use(name)) for name in ("first", "second", "third")]
            await asyncio.sleep(0.05)
            assert order == []  # all three wait for the one connection
            await db.close_session(held)
            await asyncio.wait_for(asyncio.gather(*waiters), timeout=10)
            return order
        finally:
            await db.close_async()

    assert asyncio.run(main()) == ["first", "second", "third"]


def test_a_wait_that_timed_out_leaves_the_slot_to_the_next_caller(tmp_path: Path) -> None:
    async def main() -> int:
        db = database(tmp_path, pool_size=1, pool_timeout=0.1)
        try:
            held = await db.open_session()
            with pytest.raises(PoolTimeoutError, match="pool size 1"):
                await db.open_session()
            await db.close_session(held)
            session = await asyncio.wait_for(db.open_session(), timeout=10)
            try:
                return await read_one(session)
            finally:
                await db.close_session(session)
        finally:
            await db.close_async()

    assert asyncio.run(main()) == 1


def test_a_cancelled_wait_leaves_the_slot_to_the_next_caller(tmp_path: Path) -> None:
    async def main() -> dict[str, int]:
        db = database(tmp_path, pool_size=1)
        try:
            held = await db.open_session()
            cancelled = asyncio.ensure_future(db.open_session())
            after = asyncio.ensure_future(db.open_session())
            await asyncio.sleep(0.05)
            cancelled.cancel()
            await db.close_session(held)
            session = await asyncio.wait_for(after, timeout=10)
            try:
                await read_one(session)
                pool = await db.pool()
                return dict(pool.state())
            finally:
                await db.close_session(session)
        finally:
            await db.close_async()

    state = asyncio.run(main())
    assert state["in_use"] == 1 and state["waiting"] == 0


def test_a_slot_handed_to_a_wait_cancelled_at_that_moment_goes_on_to_the_next(tmp_path: Path) -> None:
    async def main() -> int:
        db = database(tmp_path, pool_size=1)
        try:
            held = await db.open_session()
            late = asyncio.ensure_future(db.open_session())
            next_one = asyncio.ensure_future(db.open_session())
            await asyncio.sleep(0.05)
            await db.close_session(held)  # hands the slot to ``late``, which has not run since
            late.cancel()  # ... and is cancelled before it wakes
            session = await asyncio.wait_for(next_one, timeout=10)
            try:
                return await read_one(session)
            finally:
                await db.close_session(session)
        finally:
            await db.close_async()

    assert asyncio.run(main()) == 1
