"""DataFlow's errors: one small hierarchy, each carrying what would fix it.

Driver exceptions never leave DataFlow raw: dialects translate them into these
classes and keep the original as ``__cause__``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class DataFlowError(Exception):
    """Base of every error DataFlow raises.

    ``model`` and ``field`` name where the problem is, when known.
    """

    def __init__(self, message: str, *, model: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.model = model
        self.field = field


class ConfigError(DataFlowError):
    """A setting, URL or model declaration is wrong; raised before any SQL runs where that can tell."""


class MigrationError(DataFlowError):
    """The schema cannot be brought to the models safely (or does not match them in production)."""


class ValidationError(DataFlowError):
    """A node's input is wrong: a missing, unknown or ill-typed field."""


class FilterError(ValidationError):
    """A filter, ``order_by`` or ``fields`` list names an unknown field or operator."""


class StoredValueError(DataFlowError):
    """A value read from the database is not one the model's field can hold.

    An enum member that was removed from the class while rows still hold it,
    or text in a column the model reads as ``int``. ``value`` is what the row holds (None for a ``Personal()``
    field, whose values are never repeated).
    """

    def __init__(self, message: str, *, model: str | None = None, field: str | None = None, value: Any = None) -> None:
        super().__init__(message, model=model, field=field)
        self.value = value


class NotFoundError(DataFlowError):
    """The record asked for does not exist."""


class IntegrityError(DataFlowError):
    """The database refused a write because of a constraint.

    ``constraint`` is the constraint's name where the database reports it;
    ``fields`` the columns involved where they can be told.
    """

    def __init__(
        self,
        message: str,
        *,
        model: str | None = None,
        field: str | None = None,
        constraint: str | None = None,
        fields: Sequence[str] = (),
    ) -> None:
        super().__init__(message, model=model, field=field or (fields[0] if fields else None))
        self.constraint = constraint
        self.fields = tuple(fields)


class UniqueViolationError(IntegrityError):
    """A write would duplicate a unique value."""


class ForeignKeyViolationError(IntegrityError):
    """A write references a missing row, or a delete would orphan one."""


class NotNullViolationError(IntegrityError):
    """A write left a required column empty."""


class CheckViolationError(IntegrityError):
    """A write broke a CHECK constraint."""


class ConnectionError(DataFlowError):
    """The database cannot be reached, or the connection was lost."""


class PoolTimeoutError(ConnectionError):
    """No connection became free within the pool's acquire timeout."""


class TransactionError(DataFlowError):
    """A transaction could not complete; ``retryable`` says whether a retry may succeed."""

    retryable = False


class SerializationError(TransactionError):
    """The database aborted a transaction to keep it serializable (retryable)."""

    retryable = True


class DeadlockError(TransactionError):
    """The database broke a deadlock by aborting this transaction (retryable)."""

    retryable = True


class LockTimeoutError(TransactionError):
    """A lock was not granted in time (retryable)."""

    retryable = True


class ConcurrentUpdateError(TransactionError):
    """A write based on a stale read: a versioned record's version changed since it was read.

    Read the record again (its new ``version``), reapply the change and write
    again. ``key`` is the record's primary key, ``expected`` the version the
    write was based on and ``actual`` the one found.
    """

    def __init__(
        self, message: str, *, model: str | None = None, key: Any = None, expected: Any = None, actual: Any = None
    ) -> None:
        super().__init__(message, model=model, field="version")
        self.key = key
        self.expected = expected
        self.actual = actual


class QueryCancelledError(DataFlowError):
    """The statement was cancelled (timeout or by request)."""


class DatabaseError(DataFlowError):
    """Any other error the database reported."""


class WorkflowError(DataFlowError):
    """A workflow run failed.

    ``node_id`` names the failed node, ``__cause__`` / ``cause`` is why, and
    ``results`` holds the outputs of the nodes that finished before it. When
    a connection could not deliver (its source's output lacks the path or a
    name its condition reads), no node failed: ``node_id`` and ``cause`` are
    None and the message names the connection.
    """

    def __init__(
        self,
        message: str,
        *,
        node_id: str | None = None,
        cause: BaseException | None = None,
        results: Mapping[str, Any] | None = None,
        run_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.node_id = node_id
        self.cause = cause
        self.results: dict[str, Any] = dict(results or {})
        self.run_id = run_id


class WorkflowBuildError(WorkflowError):
    """A workflow is malformed: raised by ``build()``, before anything runs."""
