"""TransactionRetried: what the monitors of a run's databases receive before each retry."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from txn_helpers import accounts, open_accounts, run

from dataflow import WorkflowBuilder
from dataflow.errors import DeadlockError
from dataflow.nodes.base import Node
from dataflow.session import Session
from dataflow_txn import RetryError, RetryingRuntime, RetryPolicy, TransactionRetried

FAST = RetryPolicy(attempts=5, base_delay=0.001, max_delay=0.002)


class Recorder:
    """A monitor of the test's own: keeps every event it is given."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def handle(self, event: Any) -> None:
        self.events.append(event)

    def retries(self) -> list[TransactionRetried]:
        return [event for event in self.events if isinstance(event, TransactionRetried)]


def flaky(failures: int) -> type[Node]:
    """A node that fails with a (retryable) DeadlockError on its first ``failures`` runs."""
    calls = {"n": 0}

    class Flaky(Node):
        type_name: ClassVar[str] = "Flaky"
        repeatable = True

        async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
            calls["n"] += 1
            if calls["n"] <= failures:
                raise DeadlockError("deadlock detected (provoked by the test)")
            return {}

    return Flaky


def create_then(db: Any, node: type[Node], name: str) -> WorkflowBuilder:
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["AccountCreateNode"], "create", {"name": name})
    workflow.add_node(node, "flaky", {})
    workflow.add_connection("create", "", "flaky", "")
    return workflow


def test_each_retry_reaches_the_monitor_with_its_attempt_number(sqlite_url: str) -> None:
    async def main() -> tuple[list[TransactionRetried], dict[str, int], str]:
        db = open_accounts(sqlite_url)
        recorder = Recorder()
        db.monitors.append(recorder)
        try:
            _, run_id = await RetryingRuntime(FAST).execute_async(create_then(db, flaky(2), "a"))
            return recorder.retries(), await accounts(db), run_id
        finally:
            await db.close_async()

    retries, balances, _ = run(main())
    assert [event.attempt for event in retries] == [1, 2]
    assert {event.error for event in retries} == {"DeadlockError"}
    assert all(event.databases == (retries[0].databases[0],) for event in retries)
    assert all(0 <= event.delay <= FAST.max_delay for event in retries)
    assert all(event.run_id for event in retries)  # the id of the failed attempt's run
    assert balances == {"a": 0}  # the failed attempts left nothing behind


def test_the_event_names_the_database_and_a_failure_past_the_limit_sends_none_for_the_last(sqlite_url: str) -> None:
    async def main() -> tuple[list[TransactionRetried], str, BaseException | None]:
        db = open_accounts(sqlite_url)
        recorder = Recorder()
        db.monitors.append(recorder)
        try:
            policy = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.002)
            with pytest.raises(RetryError) as raised:
                await RetryingRuntime(policy).execute_async(create_then(db, flaky(10), "b"))
            return recorder.retries(), db.label, raised.value
        finally:
            await db.close_async()

    retries, label, error = run(main())
    assert [event.attempt for event in retries] == [1, 2]  # no wait, and no event, after the last attempt
    assert all(event.databases == (label,) for event in retries)
    assert isinstance(error, RetryError) and error.attempts == 3


def test_a_failing_monitor_does_not_stop_the_retry(sqlite_url: str) -> None:
    class Broken:
        def handle(self, event: Any) -> None:
            raise RuntimeError("this monitor is broken")

    async def main() -> list[TransactionRetried]:
        db = open_accounts(sqlite_url)
        recorder = Recorder()
        db.monitors.extend([Broken(), recorder])
        try:
            await RetryingRuntime(FAST).execute_async(create_then(db, flaky(1), "c"))
            return recorder.retries()
        finally:
            await db.close_async()

    assert [event.attempt for event in run(main())] == [1]
