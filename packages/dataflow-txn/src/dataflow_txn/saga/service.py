"""``db.sagas``: the sagas logged in one database, and their recovery.

The plugin attaches a :class:`SagaService` to every ``DataFlow`` through the
``dataflow_instance_created`` hook. A ``Saga(name, log=db)`` registers
itself here; :meth:`SagaService.recover` finishes the sagas of this log that
a dead process left running or compensating, for every saga name defined
in this process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from dataflow.errors import DataFlowError
from dataflow.events import emit

from ..errors import SagaError
from ..events import SagaRecovered
from .log import SagaLog, process_owner
from .runner import recover_one

if TYPE_CHECKING:
    from dataflow import DataFlow

    # Annotations only: a Saga registers itself here, so its module sits above this one.
    from .definition import Saga


@attrs.define
class SagaRecoveryReport:
    """What :meth:`SagaService.recover` did, by saga id."""

    completed: list[str] = attrs.field(factory=list)
    compensated: list[str] = attrs.field(factory=list)
    failed: dict[str, str] = attrs.field(factory=dict)
    """Sagas whose recovery failed this time (tried again next time)."""
    left: dict[str, str] = attrs.field(factory=dict)
    """Sagas left alone: recently active, or claimed by another recovery."""
    unknown: list[str] = attrs.field(factory=list)
    """Sagas whose name no ``Saga`` in this process defines."""

    @property
    def clean(self) -> bool:
        return not self.failed and not self.unknown and not self.left


class SagaService:
    """The sagas whose log is ``db``."""

    def __init__(self, db: DataFlow) -> None:
        self.db = db
        self._sagas: dict[str, Saga] = {}
        self._factories: dict[str, Callable[[], Saga]] = {}

    @classmethod
    def of(cls, db: DataFlow) -> SagaService:
        """``db``'s saga service (``db.sagas``), kept in ``db.extensions``; created now if the plugin did not
        (plugins disabled, or loaded late)."""
        service = db.extensions.get(cls)
        if service is None:
            service = db.extensions.add(cls(db))
            db.extensions.shortcut("sagas", service)
        return service

    def __repr__(self) -> str:
        return f"SagaService({self.db.label!r}, sagas={sorted(self._sagas)})"

    def register(self, saga: Saga) -> None:
        """Make ``saga`` known to recovery; a second saga of the same name replaces the first."""
        self._sagas[saga.name] = saga

    def provide(self, name: str, factory: Callable[[], Saga]) -> None:
        """Make a saga known that is built on demand (a ``DistributedTransaction`` that may run as one)."""
        self._factories[name] = factory

    def get(self, name: str) -> Saga | None:
        saga = self._sagas.get(name)
        if saga is None and name in self._factories:
            saga = self._factories[name]()
        return saga

    @property
    def names(self) -> list[str]:
        return sorted({*self._sagas, *self._factories})

    async def status(self, saga_id: str) -> dict[str, Any] | None:
        """The logged state of a saga and its steps, or None if the log has no such saga."""
        session = await self.db.open_session()
        try:
            log = SagaLog(session)
            await log.ensure()
            record = await log.get(saga_id)
            if record is None:
                return None
            steps = await log.steps_of(saga_id)
            return {
                "saga_id": record.saga_id,
                "saga": record.name,
                "state": record.state,
                "error": record.error,
                "steps": {step.step: step.state for step in steps},
            }
        finally:
            await self.db.close_session(session)

    async def recover(self, *, older_than: float = 30.0) -> SagaRecoveryReport:
        """Finish every saga of this log left running or compensating for more than ``older_than`` seconds.

        A saga defined ``forward_recoverable`` and left running completes its
        remaining steps; any other is compensated. Each recovered saga is first
        claimed (a compare-and-set on its owner and heartbeat), so concurrent
        recoveries do not both act on it, and its original process, should it
        still be alive, stops at its next log write.
        """
        report = SagaRecoveryReport()
        owner = process_owner()
        session = await self.db.open_session()
        try:
            log = SagaLog(session)
            await log.ensure()
            cutoff = (time.time() - older_than) * 1000
            for record in await log.unfinished():
                if record.updated_at > cutoff:
                    report.left[record.saga_id] = f"active {time.time() - record.updated_at / 1000:.1f}s ago"
                    continue
                try:
                    saga = self.get(record.name)
                except DataFlowError as exc:
                    report.failed[record.saga_id] = f"its definition cannot be built: {exc}"
                    continue
                if saga is None:
                    report.unknown.append(record.saga_id)
                    continue
                if not await log.claim(record, owner):
                    report.left[record.saga_id] = "claimed by another process"
                    continue
                try:
                    outcome = await recover_one(saga, log, record, owner)
                except SagaError as exc:
                    if exc.compensation_failed or exc.step is None:
                        report.failed[record.saga_id] = exc.message
                        continue
                    outcome = "compensated"  # going forward failed, and the saga was compensated
                except Exception as exc:  # noqa: BLE001 - one saga's failure must not stop the others
                    report.failed[record.saga_id] = f"{type(exc).__name__}: {exc}"
                    continue
                (report.completed if outcome == "completed" else report.compensated).append(record.saga_id)
                if self.db.monitors:
                    emit(self.db.monitors, SagaRecovered(self.db.label, record.saga_id, record.name, outcome))
        finally:
            await self.db.close_session(session)
        return report
