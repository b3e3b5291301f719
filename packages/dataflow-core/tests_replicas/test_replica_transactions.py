"""Two-phase commit and sagas (dataflow-txn) run on the primaries, and their writes pin the caller's reads.

Both replicas are delayed: a read inside a participant, or by the caller
right after the commit, that saw a replica would miss the rows.
"""

from __future__ import annotations

import secrets
from typing import Any

from dataflow import DataFlow, WorkflowBuilder
from dataflow.routing import caller_context
from dataflow.testing.helpers import define_people
from dataflow_txn import DistributedTransaction, SagaContext

DELAY = 10


def participant(db: DataFlow, email: str) -> WorkflowBuilder:
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["UserCreateNode"], "create", {"name": "P", "email": email})
    workflow.add_node(db.nodes["UserCountNode"], "count", {})
    workflow.add_connection("create", "id", "count", "filter.id")
    return workflow


def undo(db: DataFlow) -> WorkflowBuilder:
    workflow = WorkflowBuilder()
    workflow.add_node(db.nodes["UserDeleteNode"], "delete", {})
    return workflow


def undo_params(context: SagaContext, results: Any) -> dict[str, Any]:
    return {"delete": {"id": results["create"]["id"]}}


def open_pair(pg_urls: tuple[str, str], mariadb_urls: tuple[str, str]) -> tuple[DataFlow, DataFlow]:
    pg = DataFlow(pg_urls[0], env="test", replicas=[pg_urls[1]], max_replica_lag=60)
    my = DataFlow(mariadb_urls[0], env="test", replicas=[mariadb_urls[1]], max_replica_lag=60)
    for db in (pg, my):
        define_people(db)
        with caller_context():
            db.express_sync.count("User", replica=False)  # tables created
    return pg, my


def test_two_phase_commit_and_sagas_run_on_the_primaries(
    pg_urls: tuple[str, str], mariadb_urls: tuple[str, str], pg_pair: Any, mariadb_pair: Any
) -> None:
    pg, my = open_pair(pg_urls, mariadb_urls)
    try:
        pg_pair.delay(DELAY)
        mariadb_pair.delay(DELAY)
        for pattern, number in (("2pc", 1), ("saga", 2)):
            txn = DistributedTransaction(f"t{secrets.token_hex(4)}", log=pg, pattern=pattern)
            compensations: dict[str, Any] = {}
            for name, db in (("pg", pg), ("my", my)):
                if pattern == "saga":
                    compensations = {"compensation": undo(db), "compensation_params": undo_params}
                txn.add_participant(name, db, participant(db, f"{pattern}-{name}@x"), **compensations)
            with caller_context():
                outcome = txn.execute()
                assert outcome.pattern == pattern
                assert outcome.results["pg"]["count"] == {"count": 1}
                assert outcome.results["my"]["count"] == {"count": 1}
                # The caller's next reads see both parts although the replicas lag 10 s behind.
                assert pg.express_sync.count("User")["count"] == number
                assert my.express_sync.count("User")["count"] == number
    finally:
        pg.close()
        my.close()
