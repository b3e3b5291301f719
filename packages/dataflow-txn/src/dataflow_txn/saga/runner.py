"""Running a saga forward, compensating it, and finishing one a dead process left behind.

Every step runs through :func:`run_once` under the key
``saga:<id>:<step>`` (its compensation under ``...:undo``), so the step's
database itself records whether the step committed. The log says what was
planned; the markers say what happened. Recovery trusts the markers: a
step logged ``started`` whose marker exists did commit and is compensated
like the others; one without a marker is fenced, so that it never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dataflow.errors import DataFlowError, UniqueViolationError

from ..errors import SagaError, SagaInProgressError
from ..idempotency import fence, run_once
from .keys import check_saga_id, marker_key
from .log import (
    COMPENSATED,
    COMPENSATING,
    COMPLETED,
    DONE,
    FAILED,
    RUNNING,
    UNDONE,
    SagaLog,
    SagaRecord,
    process_owner,
)
from .steps import SagaContext, SagaOutcome, SagaStep

if TYPE_CHECKING:
    # Annotations only: the definition sits above the runner and calls it.
    from .definition import Saga

Completed = list[tuple[int, SagaStep, Any]]


def step_key(saga_id: str, step: SagaStep, undo: bool = False) -> str:
    return marker_key(saga_id, step.name, undo)


def _message(error: BaseException) -> str:
    return getattr(error, "message", None) or str(error) or type(error).__name__


async def start(saga: Saga, input: dict[str, Any], key: str | None, context: Mapping[str, Any]) -> SagaOutcome:
    saga_id = check_saga_id(key) if key is not None else uuid.uuid4().hex
    owner = process_owner()
    session = await saga.log.open_session(run_id=saga_id, context=context)
    try:
        log = SagaLog(session)
        await log.ensure()
        existing = await log.get(saga_id)
        if existing is None:
            try:
                await log.create(saga_id, saga.name, input, owner)
            except UniqueViolationError:
                existing = await log.get(saga_id)
        if existing is not None:
            return await _settled(saga, log, existing)
        return await forward(saga, log, saga_id, owner, input, context, {}, 0)
    finally:
        await saga.log.close_session(session)


async def _settled(saga: Saga, log: SagaLog, record: SagaRecord) -> SagaOutcome:
    """The outcome of a saga whose key was used before."""
    if record.name != saga.name:
        raise ValueError(f"saga key {record.saga_id!r} was used by saga {record.name!r}, not {saga.name!r}")
    if record.state == COMPLETED:
        results = {step.step: step.output for step in await log.steps_of(record.saga_id) if step.state == DONE}
        return SagaOutcome(record.saga_id, results, replayed=True)
    if record.state == COMPENSATED:
        raise SagaError(
            f"saga {saga.name!r} ({record.saga_id}) failed earlier and was compensated: {record.error}",
            saga_id=record.saga_id,
            step=None,
        )
    raise SagaInProgressError(
        f"saga {saga.name!r} ({record.saga_id}) is {record.state} in another process "
        "(or was left by one that died: db.sagas.recover() finishes it)"
    )


async def forward(
    saga: Saga,
    log: SagaLog,
    saga_id: str,
    owner: str,
    input: dict[str, Any],
    context: Mapping[str, Any],
    results: dict[str, Any],
    first: int,
    completed: Completed | None = None,
) -> SagaOutcome:
    """Run the steps from position ``first``; on a failure compensate and raise ``SagaError``."""
    completed = list(completed or [])
    for position in range(first, len(saga.steps)):
        step = saga.steps[position]
        try:
            params = step.resolve_params(SagaContext(saga_id, input, dict(results)))
            await log.step_started(saga_id, position, step.name, params)
            step_results, _ = await run_once(
                step.db,
                step_key(saga_id, step),
                step.action.workflow,
                step.action.parameters(params),
                context=context,
                run_id=saga_id,
            )
            output = step.action.output(step_results)
        except SagaInProgressError:
            raise
        except Exception as exc:
            await log.step_state(saga_id, position, FAILED)
            await log.set_state(saga_id, owner, COMPENSATING, error=f"step {step.name!r}: {_message(exc)}")
            # A step whose COMMIT failed may still have committed: its marker tells, and the
            # fence makes sure a commit still in flight cannot land after we compensate.
            try:
                marker = await fence(step.db, step_key(saga_id, step))
            except DataFlowError as fence_error:
                raise SagaError(
                    f"saga {saga.name!r} ({saga_id}) failed at step {step.name!r}: {_message(exc)}; whether it "
                    f"committed cannot be told ({_message(fence_error)}), so recovery compensates it later",
                    saga_id=saga_id,
                    step=step.name,
                    cause=exc,
                    results=results,
                ) from exc
            if marker is not None:
                completed.append((position, step, step.action.output(marker.output)))
            undone, failed = await compensate(saga, log, saga_id, owner, input, completed, context)
            text = f"saga {saga.name!r} ({saga_id}) failed at step {step.name!r}: {_message(exc)}"
            text += f"; compensated {', '.join(undone) or 'nothing'}"
            if failed:
                text += f"; the compensation of {', '.join(failed)} failed too (recovery retries it)"
            raise SagaError(
                text,
                saga_id=saga_id,
                step=step.name,
                compensated=undone,
                compensation_failed=failed,
                cause=exc,
                results=results,
            ) from exc
        results[step.name] = output
        completed.append((position, step, output))
        await log.step_state(saga_id, position, DONE, output)
        await log.set_state(saga_id, owner, RUNNING)
    await log.set_state(saga_id, owner, COMPLETED)
    return SagaOutcome(saga_id, results)


async def compensate(
    saga: Saga,
    log: SagaLog,
    saga_id: str,
    owner: str,
    input: dict[str, Any],
    completed: Completed,
    context: Mapping[str, Any],
) -> tuple[list[str], list[str]]:
    """Undo ``completed`` in reverse order; return (undone, failed) step names.

    A compensation that fails does not stop the others; the saga stays
    ``compensating`` so that recovery tries the failed ones again.
    """
    undone: list[str] = []
    failed: list[str] = []
    results = {step.name: output for _, step, output in completed}
    for position, step, output in reversed(completed):
        if step.compensation is None:
            continue
        try:
            params = step.resolve_compensation_params(SagaContext(saga_id, input, results), output)
            await run_once(
                step.db,
                step_key(saga_id, step, undo=True),
                step.compensation.workflow,
                step.compensation.parameters(params),
                context=context,
                run_id=saga_id,
            )
        except SagaInProgressError:
            raise
        except Exception:  # noqa: BLE001 - reported in the outcome, retried by recovery
            failed.append(step.name)
            continue
        await log.step_state(saga_id, position, UNDONE)
        undone.append(step.name)
    if not failed:
        await log.set_state(saga_id, owner, COMPENSATED)
    return undone, failed


async def recover_one(saga: Saga, log: SagaLog, record: SagaRecord, owner: str) -> str:
    """Finish a claimed saga; return ``"completed"`` or ``"compensated"`` (raise if that failed)."""
    saga_id = record.saga_id
    logged = {step.position: step for step in await log.steps_of(saga_id)}
    going_forward = record.state == RUNNING and saga.forward_recoverable
    completed: Completed = []
    results: dict[str, Any] = {}
    first = len(saga.steps)
    for position, step in enumerate(saga.steps):
        entry = logged.get(position)
        if entry is not None and entry.state == UNDONE:
            continue
        if entry is not None and entry.state == DONE:
            completed.append((position, step, entry.output))
            results[step.name] = entry.output
            continue
        first = position
        if entry is not None and not going_forward:
            # Logged as started (or failed): the step's own database says whether it committed.
            marker = await fence(step.db, step_key(saga_id, step))
            if marker is not None:
                output = step.action.output(marker.output)
                await log.step_state(saga_id, position, DONE, output)
                completed.append((position, step, output))
        break
    if going_forward:
        await forward(saga, log, saga_id, owner, record.input, {}, results, first, completed)
        return "completed"
    await log.set_state(saga_id, owner, COMPENSATING)
    _, failed = await compensate(saga, log, saga_id, owner, record.input, completed, {})
    if failed:
        raise SagaError(
            f"saga {saga.name!r} ({saga_id}): the compensation of {', '.join(failed)} failed again",
            saga_id=saga_id,
            step=None,
            compensation_failed=failed,
        )
    return "compensated"
