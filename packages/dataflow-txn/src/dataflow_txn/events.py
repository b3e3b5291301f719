"""Events dataflow-txn gives to the monitors of the databases involved.

Monitors receive them through their ``handle(event)`` method, like the core's
events (see :mod:`dataflow.events`); a failing monitor never breaks a run.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class TransactionRetried:
    """A transactional run failed with a retryable error and will run again after ``delay`` seconds.

    Sent, before the wait, to the monitors of each database of the run.
    ``attempt`` is the number (1-based) of the attempt that failed; ``error``
    the class name of the error at the root of the failure (``"DeadlockError"``,
    ``"SerializationError"``, ``"LockTimeoutError"``); ``databases`` the labels
    (URLs without passwords) of the run's databases, in order of first use.
    dataflow-monitor matches it by class name and attributes (it does not import dataflow-txn).
    """

    run_id: str | None
    attempt: int
    error: str
    delay: float
    databases: tuple[str, ...] = ()


@attrs.frozen
class InDoubtBranch:
    """Recovery found a prepared two-phase branch on ``database``.

    ``age`` is seconds since its transaction began; ``action`` is what
    recovery did: ``"commit"``, ``"rollback"``, or ``"left"`` (too young, or
    its participant is not known here).
    """

    database: str
    branch: str
    age: float
    action: str


@attrs.frozen
class SagaRecovered:
    """Recovery finished a saga left by another process: ``outcome`` is ``"completed"`` or ``"compensated"``."""

    database: str
    saga_id: str
    saga: str
    outcome: str
