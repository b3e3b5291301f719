"""Registers one monitor per DataFlow instance; tests read ``COUNTERS`` to see it worked."""

from __future__ import annotations

from typing import Any

from dataflow import hookimpl
from dataflow.events import StatementExecuted


class StatementCounter:
    def __init__(self) -> None:
        self.statements = 0

    def handle(self, event: Any) -> None:
        if isinstance(event, StatementExecuted):
            self.statements += 1


COUNTERS: list[StatementCounter] = []


@hookimpl
def dataflow_register_monitors(register: Any) -> None:
    counter = StatementCounter()
    COUNTERS.append(counter)
    register(counter)
