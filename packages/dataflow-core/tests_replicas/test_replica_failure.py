"""A lagging replica is skipped, a stopped one taken out; reads go on, on the primary if need be."""

from __future__ import annotations

import threading
import time
from typing import Any

from replica_helpers import table, write_behind_dataflows_back
from replica_sql import wait_until

from dataflow import DataFlow
from dataflow.replicas import BACKOFF_MAX
from dataflow.routing import caller_context
from dataflow.testing.helpers import define_people, run_node


def open_seeded(replicated: tuple[str, str, Any], **options: Any) -> DataFlow:
    primary, replica, _ = replicated
    db = DataFlow(primary, env="test", replicas=[replica], **options)
    define_people(db)
    with caller_context():
        run_node(db, "UserCreateNode", {"name": "Seed", "email": "seed@x"})

    def caught_up() -> bool:
        with caller_context():
            try:
                return bool(run_node(db, "UserCountNode", {}, replica=True)["count"] == 1)
            except Exception:  # noqa: BLE001 - the table is not replicated yet
                return False

    wait_until(caught_up)
    return db


def test_a_replica_lagging_more_than_max_replica_lag_is_skipped(replicated: tuple[str, str, Any]) -> None:
    pair = replicated[2]
    db = open_seeded(replicated, max_replica_lag=1)
    try:
        pair.delay(30)
        write_behind_dataflows_back(
            db, pair, f"INSERT INTO {table(db, 'User')} (name, email, age, active) VALUES ('B', 'b@x', 1, true)"
        )
        assert db.replicas is not None
        # Once the replica reports more than a second of lag, reads see B: they run on the primary.
        with caller_context():
            wait_until(lambda: db.express_sync.count("User")["count"] == 2)
        [replica] = db.replicas.replicas
        assert replica.lag is not None and replica.lag > 1
        pair.delay(0)
        # Caught up again: back on the replica (a row written behind our back shows it).
        wait_until(lambda: _count(db) == 2 and replica.lag is not None and replica.lag <= 1)
    finally:
        pair.delay(0)
        db.close()


def _count(db: DataFlow) -> int:
    with caller_context():
        return int(db.express_sync.count("User")["count"])


def test_no_read_fails_when_the_replica_stops_in_the_middle_of_a_read_load(replicated: tuple[str, str, Any]) -> None:
    pair = replicated[2]
    db = open_seeded(replicated)
    errors: list[BaseException] = []
    counts: list[int] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                with caller_context():
                    counts.append(run_node(db, "UserCountNode", {})["count"])
                    db.express_sync.list("User", limit=5)
            except BaseException as exc:  # noqa: BLE001 - collected, then asserted on
                errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        wait_until(lambda: len(counts) > 20)
        pair.stop_replica()
        before = len(counts)
        wait_until(lambda: len(counts) > before + 40)
        assert db.replicas is not None
        [replica] = db.replicas.replicas
        assert replica.failures >= 1  # taken out, retried with backoff
        pair.start_replica()
        time.sleep(0.2)
        wait_until(lambda: replica.failures == 0, timeout=BACKOFF_MAX + 20)  # back in after a successful connect
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        db.close()
    assert errors == []
    assert set(counts) == {1}
