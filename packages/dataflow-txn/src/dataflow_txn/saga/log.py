"""The saga log: ``dataflow_saga`` (one row per saga) and ``dataflow_saga_step`` (one per step).

Saga states: ``running`` -> ``completed``, or ``running`` -> ``compensating``
-> ``compensated``. Step states: ``started`` (written before the step runs)
-> ``done`` (with its output) -> ``compensated``; or ``failed``.

``owner`` names the process running the saga and ``updated_at`` is its
heartbeat. Every change to a saga row checks the owner, so a process whose
saga was taken over by recovery notices and stops.
"""

from __future__ import annotations

import os
import secrets
import socket
from typing import TYPE_CHECKING, Annotated, Any

import attrs

from dataflow.fields import MaxLength

from ..errors import SagaInProgressError
from ..storage import Table, declare, now_ms
from ..values import dumps, loads

if TYPE_CHECKING:
    from dataflow.session import Session

RUNNING = "running"
COMPLETED = "completed"
COMPENSATING = "compensating"
COMPENSATED = "compensated"

STARTED = "started"
DONE = "done"
FAILED = "failed"
UNDONE = "compensated"


class _Saga:
    saga_id: Annotated[str, MaxLength(100)]
    name: Annotated[str, MaxLength(100)]
    state: Annotated[str, MaxLength(16)]
    input: str
    owner: Annotated[str, MaxLength(100)]
    error: str | None = None
    created_at: int = 0
    updated_at: int = 0
    __dataflow__ = {"table": "dataflow_saga", "primary_key": "saga_id", "indexes": [("state",)]}


class _SagaStep:
    step_key: Annotated[str, MaxLength(150)]
    saga_id: Annotated[str, MaxLength(100)]
    position: int
    step: Annotated[str, MaxLength(40)]
    state: Annotated[str, MaxLength(16)]
    params: str | None = None
    output: str | None = None
    updated_at: int = 0
    __dataflow__ = {"table": "dataflow_saga_step", "primary_key": "step_key", "indexes": [("saga_id",)]}


SAGAS = declare(_Saga)
STEPS = declare(_SagaStep)


def process_owner() -> str:
    """This process, as a saga owner: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


@attrs.frozen
class SagaRecord:
    saga_id: str
    name: str
    state: str
    input: dict[str, Any]
    owner: str
    error: str | None
    updated_at: int


@attrs.frozen
class StepRecord:
    position: int
    step: str
    state: str
    params: Any
    output: Any


class SagaLog:
    """Reads and writes of the saga log through one session (each statement commits on its own)."""

    def __init__(self, session: Session) -> None:
        self.sagas = Table(session, SAGAS)
        self.steps = Table(session, STEPS)

    async def ensure(self) -> None:
        await self.sagas.ensure()
        await self.steps.ensure()

    async def create(self, saga_id: str, name: str, input: dict[str, Any], owner: str) -> None:
        stamp = now_ms()
        await self.sagas.insert(
            {
                "saga_id": saga_id,
                "name": name,
                "state": RUNNING,
                "input": dumps(input),
                "owner": owner,
                "error": None,
                "created_at": stamp,
                "updated_at": stamp,
            }
        )

    async def get(self, saga_id: str) -> SagaRecord | None:
        row = await self.sagas.select_one({"saga_id": saga_id})
        return _saga(row) if row is not None else None

    async def unfinished(self) -> list[SagaRecord]:
        rows = [*await self.sagas.select({"state": RUNNING}), *await self.sagas.select({"state": COMPENSATING})]
        return [_saga(row) for row in rows]

    async def set_state(self, saga_id: str, owner: str, state: str, error: str | None = None) -> None:
        """Change the saga's state (and heartbeat); ``SagaInProgressError`` if another process owns it now."""
        values: dict[str, Any] = {"state": state, "updated_at": now_ms()}
        if error is not None:
            values["error"] = error
        if await self.sagas.update(values, {"saga_id": saga_id, "owner": owner}) != 1:
            raise SagaInProgressError(f"saga {saga_id!r} was taken over by another process (recovery); stopping here")

    async def claim(self, record: SagaRecord, owner: str) -> bool:
        """Take ``record`` over for recovery, unless its owner wrote since it was read."""
        claimed = await self.sagas.update(
            {"owner": owner, "updated_at": now_ms()},
            {"saga_id": record.saga_id, "owner": record.owner, "updated_at": record.updated_at},
        )
        return claimed == 1

    async def step_started(self, saga_id: str, position: int, step: str, params: Any) -> None:
        key = f"{saga_id}/{position}"
        row = {"state": STARTED, "params": dumps(params), "output": None, "updated_at": now_ms()}
        if await self.steps.update(row, {"step_key": key}) == 0:
            await self.steps.insert({"step_key": key, "saga_id": saga_id, "position": position, "step": step, **row})

    async def step_state(self, saga_id: str, position: int, state: str, output: Any = None) -> None:
        values: dict[str, Any] = {"state": state, "updated_at": now_ms()}
        if state == DONE:
            values["output"] = dumps(output)
        await self.steps.update(values, {"step_key": f"{saga_id}/{position}"})

    async def steps_of(self, saga_id: str) -> list[StepRecord]:
        rows = await self.steps.select({"saga_id": saga_id}, order_by=("position",))
        return [
            StepRecord(
                int(row["position"]), str(row["step"]), str(row["state"]), loads(row["params"]), loads(row["output"])
            )
            for row in rows
        ]


def _saga(row: dict[str, Any]) -> SagaRecord:
    return SagaRecord(
        saga_id=str(row["saga_id"]),
        name=str(row["name"]),
        state=str(row["state"]),
        input=loads(row["input"]) or {},
        owner=str(row["owner"]),
        error=row["error"],
        updated_at=int(row["updated_at"]),
    )
