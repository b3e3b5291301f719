"""Retries of whole transactional runs after real serialization failures and deadlocks."""

from __future__ import annotations

import asyncio
import random
from typing import Any, ClassVar

import pytest
from txn_helpers import accounts, create_account, open_accounts, our_prepared, run

from dataflow import AsyncLocalRuntime, DataFlow, UniqueViolationError, WorkflowBuilder, WorkflowError
from dataflow.nodes.base import Node
from dataflow.session import Session
from dataflow_txn import (
    DistributedTransaction,
    RetryError,
    RetryingRuntime,
    RetryPolicy,
    TransactionRetried,
    execute_with_retry,
)

FAST = RetryPolicy(attempts=5, base_delay=0.01, max_delay=0.05)


class Rendezvous:
    """Holds the first ``parties`` arrivals until all have come; later arrivals (retries) pass at once."""

    def __init__(self, parties: int = 2) -> None:
        self.parties = parties
        self.arrived = 0
        self.calls = 0
        self.event = asyncio.Event()

    def node(self, repeatable: bool = True) -> type[Node]:
        rendezvous = self

        class Barrier(Node):
            type_name: ClassVar[str] = "Barrier"

            async def run(self, session: Session | None, inputs: dict[str, Any]) -> dict[str, Any]:
                rendezvous.calls += 1
                if rendezvous.arrived < rendezvous.parties:
                    rendezvous.arrived += 1
                    if rendezvous.arrived == rendezvous.parties:
                        rendezvous.event.set()
                    await asyncio.wait_for(rendezvous.event.wait(), 30)
                return {}

        Barrier.repeatable = repeatable
        return Barrier


def crossing_updates(db: DataFlow, first: str, second: str, barrier: type[Node]) -> WorkflowBuilder:
    """Update ``first``, wait for the other run, then update ``second``: two such runs deadlock."""
    workflow = WorkflowBuilder()
    update = db.nodes["AccountUpdateNode"]
    workflow.add_node(update, "first", {"filter": {"name": first}, "fields": {"balance": 1}})
    workflow.add_node(barrier, "wait", {})
    workflow.add_node(update, "second", {"filter": {"name": second}, "fields": {"balance": 2}})
    workflow.add_connection("first", "", "wait", "")
    workflow.add_connection("wait", "", "second", "")
    return workflow


async def seed(db: DataFlow, *names: str) -> None:
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["AccountBulkCreateNode"], "seed", {"data": [{"name": n} for n in names]})
    await AsyncLocalRuntime().execute_async(workflow)


class Recorder:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def handle(self, event: Any) -> None:
        if isinstance(event, TransactionRetried):
            self.events.append(event)


def test_delays_grow_exponentially_up_to_the_cap_with_jitter() -> None:
    policy = RetryPolicy(attempts=10, base_delay=0.1, max_delay=1.0, multiplier=2.0, jitter=0.5)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (9, 1.0)]:
        delays = [policy.delay(attempt, rng) for _ in range(200)]
        assert all(ceiling * 0.5 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling * 0.3  # jittered, not constant
    assert RetryPolicy(jitter=0.0, base_delay=0.3).delay(1) == 0.3


def test_a_deadlock_is_retried_until_both_runs_commit(server_url: str) -> None:
    async def main() -> None:
        db = open_accounts(server_url)
        recorder = Recorder()
        db.monitors.append(recorder)
        try:
            await seed(db, "a", "b")
            rendezvous = Rendezvous()
            barrier = rendezvous.node()
            runtime = RetryingRuntime(FAST)
            await asyncio.gather(
                runtime.execute_async(crossing_updates(db, "a", "b", barrier)),
                runtime.execute_async(crossing_updates(db, "b", "a", barrier)),
            )
            assert rendezvous.calls == 3  # one of the two ran again
            assert [event.error for event in recorder.events] == ["DeadlockError"]
            assert sorted((await accounts(db)).values()) == [1, 2]
        finally:
            await db.close_async()

    run(main())


def test_a_serialization_failure_is_retried_on_postgres(pg_url: str) -> None:
    """Two serializable runs read the same rows, then each inserts: one must fail, and the retry succeeds."""

    async def main() -> None:
        db = open_accounts(pg_url)
        try:
            await seed(db, "a")
            rendezvous = Rendezvous()
            barrier = rendezvous.node()

            def read_then_insert(name: str) -> WorkflowBuilder:
                workflow = WorkflowBuilder()
                workflow.add_node(db.nodes["AccountCountNode"], "count", {})
                workflow.add_node(barrier, "wait", {})
                workflow.add_node(db.nodes["AccountCreateNode"], "insert", {"name": name})
                workflow.add_connection("count", "count", "wait", "seen")
                workflow.add_connection("count", "count", "insert", "balance")
                return workflow

            runtime = AsyncLocalRuntime()
            outcomes = await asyncio.gather(
                execute_with_retry(runtime, read_then_insert("x"), policy=FAST, isolation="serializable"),
                execute_with_retry(runtime, read_then_insert("y"), policy=FAST, isolation="serializable"),
            )
            assert rendezvous.calls == 3
            # The retried run saw the other's row: the result is as if the runs had been serial.
            assert sorted(results["insert"]["balance"] for results, _ in outcomes) == [1, 2]
        finally:
            await db.close_async()

    run(main())


def test_the_final_error_says_how_many_attempts_were_made(pg_url: str) -> None:
    async def main() -> None:
        db = open_accounts(pg_url)
        try:
            await seed(db, "a", "b")
            barrier = Rendezvous().node()
            runtime = RetryingRuntime(RetryPolicy(attempts=1))
            outcomes = await asyncio.gather(
                runtime.execute_async(crossing_updates(db, "a", "b", barrier)),
                runtime.execute_async(crossing_updates(db, "b", "a", barrier)),
                return_exceptions=True,
            )
            errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
            assert len(errors) == 1 and isinstance(errors[0], RetryError)
            assert errors[0].attempts == 1
            assert "failed after 1 attempt (the retry limit)" in errors[0].message
            assert "deadlock" in errors[0].message
        finally:
            await db.close_async()

    run(main())


def test_a_run_with_a_node_that_is_not_repeatable_is_not_retried(server_url: str) -> None:
    async def main() -> None:
        db = open_accounts(server_url)
        try:
            await seed(db, "a", "b")
            rendezvous = Rendezvous()
            barrier = rendezvous.node(repeatable=False)
            runtime = RetryingRuntime(FAST)
            outcomes = await asyncio.gather(
                runtime.execute_async(crossing_updates(db, "a", "b", barrier)),
                runtime.execute_async(crossing_updates(db, "b", "a", barrier)),
                return_exceptions=True,
            )
            errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
            assert len(errors) == 1 and isinstance(errors[0], RetryError)
            assert errors[0].attempts == 1
            assert "'wait' is not repeatable" in errors[0].message
            assert rendezvous.calls == 2
        finally:
            await db.close_async()

    run(main())


def test_an_error_that_is_not_retryable_is_raised_at_once(any_url: str) -> None:
    db = open_accounts(any_url)
    try:
        workflow = WorkflowBuilder()
        workflow.add_node(db.nodes["AccountCreateNode"], "one", {"name": "a"})
        workflow.add_node(db.nodes["AccountCreateNode"], "two", {"name": "a"})
        workflow.add_connection("one", "balance", "two", "balance")
        with pytest.raises(WorkflowError) as caught:
            RetryingRuntime(FAST).execute(workflow)
        assert not isinstance(caught.value, RetryError)
        assert isinstance(caught.value.cause, UniqueViolationError)
        assert run(accounts(db)) == {}  # the run was one transaction
    finally:
        db.close()


def test_a_distributed_transaction_is_retried_after_a_deadlock(
    pg_url: str, mysql_url: str, coordinator_name: str
) -> None:
    async def main() -> None:
        pg, my = open_accounts(pg_url), open_accounts(mysql_url)
        retried: list[Any] = []
        watcher = type("Watcher", (), {"handle": lambda self, event: retried.append(event)})()
        pg.monitors.append(watcher)
        try:
            await seed(pg, "a", "b")
            rendezvous = Rendezvous()
            barrier = rendezvous.node()
            transactions = []
            for suffix, (first, second) in (("1", ("a", "b")), ("2", ("b", "a"))):
                txn = DistributedTransaction(f"{coordinator_name}{suffix}", log=pg, pattern="2pc")
                txn.add_participant("pg", pg, crossing_updates(pg, first, second, barrier))
                txn.add_participant("my", my, create_account(my, f"x{suffix}"))
                transactions.append(txn)
            outcomes = await asyncio.gather(*(txn.execute_async(retry=FAST) for txn in transactions))
            assert [outcome.pattern for outcome in outcomes] == ["2pc", "2pc"]
            assert rendezvous.calls == 3
            assert await accounts(my) == {"x1": 0, "x2": 0}
            # The retry reached the monitors of the participants' databases.
            events = [e for e in retried if type(e).__name__ == "TransactionRetried"]
            assert len(events) == 1 and events[0].error == "DeadlockError"
            assert set(events[0].databases) == {pg.label, my.label}
        finally:
            await pg.close_async()
            await my.close_async()

    run(main())
    assert our_prepared("postgres") == [] and our_prepared("mysql") == []
