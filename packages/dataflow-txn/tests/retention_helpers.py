"""What the retention tests share: a two-step saga, unfinished sagas, backdating rows and reading them back."""

from __future__ import annotations

from typing import Any

import attrs
from txn_helpers import create_account

from dataflow import DataFlow
from dataflow_txn import Saga, SagaContext, SagaError, run_once
from dataflow_txn.idempotency import Markers
from dataflow_txn.saga.log import COMPENSATING, SagaLog, process_owner
from dataflow_txn.storage import now_ms

DAY_MS = 86_400_000


def account_saga(log: DataFlow, steps: DataFlow) -> Saga:
    """open an account, then a second one; ``{"fail": True}`` makes the second clash, so the saga is compensated."""
    saga = Saga("retention", log=log)

    def second(ctx: SagaContext) -> dict[str, Any]:
        return {"name": ctx.input["name"] if ctx.input.get("fail") else ctx.input["name"] + "-2"}

    saga.step(
        "open",
        steps,
        steps.nodes["AccountCreateNode"],
        params=lambda ctx: {"name": ctx.input["name"]},
        compensation=steps.nodes["AccountDeleteNode"],
        compensation_params=lambda ctx, output: {"id": output["id"]},
    )
    saga.step("second", steps, steps.nodes["AccountCreateNode"], params=second)
    return saga


async def completed(saga: Saga, key: str) -> None:
    await saga.execute_async({"name": key}, key=key)


async def compensated(saga: Saga, key: str) -> None:
    try:
        await saga.execute_async({"name": key, "fail": True}, key=key)
    except SagaError:
        return
    raise AssertionError(f"saga {key} should have failed")


async def unfinished(log: DataFlow, steps: DataFlow, key: str, *, compensating: bool = False) -> None:
    """A saga a dead process left: logged ``running`` (or ``compensating``), its first step committed."""
    owner = process_owner()
    session = await log.open_session()
    try:
        saga_log = SagaLog(session)
        await saga_log.ensure()
        await saga_log.create(key, "retention", {"name": key}, owner)
        await saga_log.step_started(key, 0, "open", {"name": key})
        if compensating:
            await saga_log.set_state(key, owner, COMPENSATING)
    finally:
        await log.close_session(session)
    # The step committed with its marker; the process died before logging it done.
    await run_once(steps, f"saga:{key}:open", create_account(steps, key).build())


async def backdate(db: DataFlow, *, sagas: tuple[str, ...] = (), keys: tuple[str, ...] = (), days: int = 60) -> None:
    """Make rows ``days`` old by writing their timestamps: ``sagas`` with their steps and step markers, and ``keys``."""
    stamp = now_ms() - days * DAY_MS
    session = await db.open_session()
    try:
        log, markers = SagaLog(session), Markers(session)
        await log.ensure()
        await markers.ensure()
        for saga_id in sagas:
            assert await log.sagas.update({"created_at": stamp, "updated_at": stamp}, {"saga_id": saga_id}) == 1
            await log.steps.update({"updated_at": stamp}, {"saga_id": saga_id})
        stored = [str(row["key"]) for row in await markers.table.select()]
        step_markers = [key for key in stored for saga_id in sagas if key.startswith(f"saga:{saga_id}:")]
        for key in (*keys, *step_markers):
            assert await markers.table.update({"created_at": stamp}, {"key": key}) == 1
    finally:
        await db.close_session(session)


@attrs.frozen
class Stored:
    """The rows of the three tables in one database."""

    sagas: dict[str, str]
    """saga id -> state"""
    steps: set[tuple[str, str]]
    """(saga id, step)"""
    markers: dict[str, str]
    """key -> state"""


async def stored(db: DataFlow) -> Stored:
    session = await db.open_session()
    try:
        log, markers = SagaLog(session), Markers(session)
        await log.ensure()
        await markers.ensure()
        return Stored(
            sagas={str(row["saga_id"]): str(row["state"]) for row in await log.sagas.select()},
            steps={(str(row["saga_id"]), str(row["step"])) for row in await log.steps.select()},
            markers={str(row["key"]): str(row["state"]) for row in await markers.table.select()},
        )
    finally:
        await db.close_session(session)
