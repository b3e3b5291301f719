"""Registers one monitor per DataFlow instance, kept in ``db.extensions``: ``StatementCounter.of(db)``."""

from __future__ import annotations

from typing import Any

from dataflow import DataFlow, hookimpl
from dataflow.events import StatementExecuted
from dataflow.registers import MonitorRegister


class StatementCounter:
    """Counts the statements of one instance."""

    def __init__(self) -> None:
        self.statements = 0

    def handle(self, event: Any) -> None:
        if isinstance(event, StatementExecuted):
            self.statements += 1

    @classmethod
    def of(cls, db: DataFlow) -> StatementCounter:
        return db.extensions.require(cls, "install dataflow-example-statement-counter")


@hookimpl
def dataflow_register_monitors(register: MonitorRegister, db: DataFlow) -> None:
    register(db.extensions.add(StatementCounter()))
