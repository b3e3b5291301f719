"""Retrying whole transactional runs after serialization failures and deadlocks.

A run that fails with an error whose ``retryable`` flag is set
(``SerializationError``, ``DeadlockError``, ``LockTimeoutError``) rolled back
everything it wrote, so running it again from the start is safe, provided
every node in it is safe to repeat (``Node.repeatable``; model nodes are).
Waits grow exponentially with full jitter, so that two runs that collided do
not collide again in lockstep.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

import attrs

from dataflow.database import DataFlow, close_loop_pools
from dataflow.errors import DataFlowError, WorkflowError
from dataflow.events import emit
from dataflow.loops import run_sync
from dataflow.workflow import AsyncLocalRuntime, Workflow, WorkflowBuilder

from .errors import InDoubtError, RetryError
from .events import TransactionRetried
from .executor import built, databases_of

T = TypeVar("T")
Results = dict[str, Any]


@attrs.frozen
class RetryPolicy:
    """How often and how patiently to retry.

    ``attempts`` counts the first run. The n-th wait is drawn uniformly from
    ``[d * (1 - jitter), d]`` with ``d = min(max_delay, base_delay * multiplier ** (n - 1))``.
    """

    attempts: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    base_delay: float = attrs.field(default=0.02, validator=attrs.validators.ge(0))
    max_delay: float = attrs.field(default=1.0, validator=attrs.validators.ge(0))
    multiplier: float = attrs.field(default=2.0, validator=attrs.validators.ge(1))
    jitter: float = attrs.field(default=1.0, validator=[attrs.validators.ge(0), attrs.validators.le(1)])

    def delay(self, failed_attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after attempt number ``failed_attempt`` (1-based) failed."""
        ceiling = min(self.max_delay, self.base_delay * self.multiplier ** (failed_attempt - 1))
        return (rng or random).uniform(ceiling * (1 - self.jitter), ceiling)


def retryable(error: BaseException | None) -> bool:
    """Is ``error``, or an error it wraps (``cause``, ``__cause__``), marked ``retryable``?"""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, InDoubtError):
            return False  # its branches stay prepared: running it again would wait on their locks
        if isinstance(error, DataFlowError) and getattr(error, "retryable", False):
            return True
        error = getattr(error, "cause", None) or error.__cause__
    return False


def not_repeatable(workflow: Workflow) -> list[str]:
    """Ids of the nodes that must not run twice (``repeatable`` is False)."""
    return [node_id for node_id in workflow.order if not workflow.nodes[node_id].node_class.repeatable]


async def retrying(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    blockers: Iterable[str] = (),
    databases: Iterable[DataFlow] = (),
    what: str = "the run",
) -> T:
    """``await attempt()`` until it succeeds, fails for good, or ``policy.attempts`` are spent.

    ``blockers`` name what makes a retry unsafe (non-repeatable nodes): with
    any, a retryable failure is not retried and the error says why. Before
    each wait, the monitors of each of ``databases`` receive a
    :class:`~dataflow_txn.events.TransactionRetried`.
    """
    blocked = list(blockers)
    involved = list(databases)
    number = 0
    while True:
        number += 1
        try:
            return await attempt()
        except Exception as exc:
            if not retryable(exc):
                if number == 1:
                    raise
                raise _final(exc, number, f"{what} failed after {_attempts(number)}") from exc
            if blocked:
                raise _final(
                    exc,
                    number,
                    f"{what} failed after 1 attempt and was not retried: "
                    f"{', '.join(map(repr, blocked))} {'is' if len(blocked) == 1 else 'are'} not repeatable",
                ) from exc
            if number >= policy.attempts:
                raise _final(exc, number, f"{what} failed after {_attempts(number)} (the retry limit)") from exc
            wait = policy.delay(number)
            if involved:
                event = TransactionRetried(
                    run_id=getattr(exc, "run_id", None),
                    attempt=number,
                    error=type(_root(exc)).__name__,
                    delay=wait,
                    databases=tuple(db.label for db in involved),
                )
                for db in involved:
                    emit(db.monitors, event)
            await asyncio.sleep(wait)


def _attempts(number: int) -> str:
    return f"{number} attempt" if number == 1 else f"{number} attempts"


def _root(error: BaseException) -> BaseException:
    cause = getattr(error, "cause", None)
    return _root(cause) if isinstance(cause, BaseException) else error


def _final(error: Exception, attempts: int, prefix: str) -> RetryError:
    message = getattr(error, "message", None) or str(error)
    if isinstance(error, WorkflowError):
        return RetryError(
            f"{prefix}: {message}",
            attempts=attempts,
            cause=error,
            node_id=error.node_id,
            results=error.results,
            run_id=error.run_id,
        )
    return RetryError(f"{prefix}: {message}", attempts=attempts, cause=error)


async def execute_with_retry(
    runtime: AsyncLocalRuntime,
    workflow: Workflow | WorkflowBuilder,
    parameters: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    policy: RetryPolicy | None = None,
    **options: Any,
) -> tuple[Results, str]:
    """``runtime.execute_async`` in one transaction, retried per ``policy`` after retryable failures.

    The run is always transactional (``transaction=True``), so that a failed
    attempt leaves nothing behind. Options are the runtime's (``isolation``,
    ``tenant``, ``context``). The final failure is a ``RetryError`` whose
    ``attempts`` says how many runs were made (a first-run failure that is not
    retryable is raised as it is).
    """
    workflow = built(workflow)
    options["transaction"] = True
    return await retrying(
        lambda: runtime.execute_async(workflow, parameters, **options),
        policy or RetryPolicy(),
        blockers=not_repeatable(workflow),
        databases=databases_of(workflow),
    )


class RetryingRuntime:
    """A runtime whose runs are transactional and retried after serialization failures and deadlocks."""

    def __init__(self, policy: RetryPolicy | None = None, runtime: AsyncLocalRuntime | None = None) -> None:
        self.policy = policy or RetryPolicy()
        self.runtime = runtime or AsyncLocalRuntime()

    async def execute_async(
        self,
        workflow: Workflow | WorkflowBuilder,
        parameters: Mapping[str, Mapping[str, Any]] | None = None,
        **options: Any,
    ) -> tuple[Results, str]:
        return await execute_with_retry(self.runtime, workflow, parameters, policy=self.policy, **options)

    def execute(
        self,
        workflow: Workflow | WorkflowBuilder,
        parameters: Mapping[str, Mapping[str, Any]] | None = None,
        **options: Any,
    ) -> tuple[Results, str]:
        """Synchronous :meth:`execute_async`; works inside a running event loop too."""
        return run_sync(lambda: self.execute_async(workflow, parameters, **options), cleanup=close_loop_pools)
