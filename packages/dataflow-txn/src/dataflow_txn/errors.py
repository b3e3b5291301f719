"""dataflow-txn's errors, under DataFlow's own hierarchy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dataflow.errors import TransactionError, WorkflowError


class RetryError(WorkflowError):
    """A run failed for good; ``attempts`` says how many times it was tried.

    ``cause`` is the last attempt's error (usually a ``WorkflowError`` whose own
    ``cause`` is the ``SerializationError`` or ``DeadlockError``).
    """

    def __init__(
        self,
        message: str,
        *,
        attempts: int,
        cause: BaseException,
        node_id: str | None = None,
        results: Mapping[str, Any] | None = None,
        run_id: str | None = None,
    ) -> None:
        super().__init__(message, node_id=node_id, cause=cause, results=results, run_id=run_id)
        self.attempts = attempts


class TwoPhaseError(TransactionError):
    """A two-phase commit did not commit: every participant was rolled back.

    ``participant`` names the participant that failed, when one did.
    """

    def __init__(self, message: str, *, participant: str | None = None, transaction_id: str | None = None) -> None:
        super().__init__(message)
        self.participant = participant
        self.transaction_id = transaction_id


class InDoubtError(TransactionError):
    """A two-phase commit's outcome is not known yet: participants stay prepared until recovery.

    Run ``await coordinator.recover()`` (or ``dataflow txn recover``): it
    commits where the commit decision was logged and rolls back otherwise.
    """

    def __init__(self, message: str, *, transaction_id: str) -> None:
        super().__init__(message)
        self.transaction_id = transaction_id


class SagaError(WorkflowError):
    """A saga step failed; the completed steps were compensated (in reverse order).

    ``saga_id`` is the saga's id (its idempotency key), ``step`` the failed
    step, ``compensated`` the steps undone, and ``compensation_failed`` the
    steps whose compensation failed too (recovery retries them).
    """

    def __init__(
        self,
        message: str,
        *,
        saga_id: str,
        step: str | None,
        compensated: Sequence[str] = (),
        compensation_failed: Sequence[str] = (),
        cause: BaseException | None = None,
        results: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, node_id=step, cause=cause, results=results, run_id=saga_id)
        self.saga_id = saga_id
        self.step = step
        self.compensated = tuple(compensated)
        self.compensation_failed = tuple(compensation_failed)


class SagaInProgressError(TransactionError):
    """A saga with this idempotency key is being run (or recovered) by another process."""
