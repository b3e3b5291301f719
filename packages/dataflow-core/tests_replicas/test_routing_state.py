"""The state routing decides from, kept cheap per node: which node classes read, write marks, the replica order.

No server: a ``DataFlow`` with replicas connects only when a session opens,
and these decisions are made before any I/O.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator, Mapping
from time import monotonic
from typing import Any, ClassVar

import pytest

from dataflow import DataFlow
from dataflow.nodes.base import READ_OPERATIONS, Node
from dataflow.routing import PRIMARY_ONLY, UNREAD, RunRoute, WriteMarks, caller_context, reads_only
from dataflow.workflow.sql_node import SQLNode


@pytest.fixture
def db() -> Iterator[DataFlow]:
    db = DataFlow("postgresql://app@127.0.0.1:1/shop", env="test", replicas=["127.0.0.1:2", "127.0.0.1:3"])

    @db.model
    class Item:
        sku: str

    try:
        yield db
    finally:
        db.close()


def _caught_up(db: DataFlow) -> None:
    assert db.replicas is not None
    for replica in db.replicas.replicas:
        replica.lag, replica.lag_checked, replica.replayed = 0.0, monotonic(), "0/2000"


def test_generated_nodes_know_per_class_whether_they_only_read(db: DataFlow) -> None:
    for name, node_class in db.nodes.items():
        operation = getattr(node_class, "operation", None)
        if operation is None:
            continue
        assert node_class.reads is (operation in READ_OPERATIONS), name
        assert node_class.reads_only({}) is node_class.reads


def test_a_node_class_that_does_not_know_is_asked_with_its_inputs() -> None:
    class Lookup(Node):
        type_name: ClassVar[str] = "Lookup"

        @classmethod
        def reads_only(cls, inputs: Mapping[str, Any]) -> bool:
            return inputs.get("mode") == "peek"

    assert Lookup.reads is None
    assert reads_only(Lookup, {"mode": "peek"}) and not reads_only(Lookup, {"mode": "poke"})
    assert SQLNode.reads is None
    assert reads_only(SQLNode, {"read_only": True}) and not reads_only(SQLNode, {})
    assert not reads_only(Node, {})


def test_a_write_mark_pins_reads_until_its_window_ends(db: DataFlow) -> None:
    assert db.replicas is not None
    marks = WriteMarks()
    assert not marks and marks.needs(db.replicas) is None
    marks.wrote(db.replicas, "0/1000", 0.2)
    assert marks and marks.needs(db.replicas) == "0/1000"
    marks.wrote(db.replicas, None, 0.2)  # a position that could not be read: only the primary will do
    assert marks.needs(db.replicas) == PRIMARY_ONLY
    time.sleep(0.25)
    assert marks.needs(db.replicas) is None
    assert not marks.pending


def test_an_unread_write_pins_reads_to_the_primary_until_its_position_is_read(db: DataFlow) -> None:
    assert db.replicas is not None
    marks = WriteMarks()
    marks.wrote(db.replicas, UNREAD, 0.3)
    assert marks.unread(db.replicas) and marks.needs(db.replicas) == PRIMARY_ONLY
    marks.read(db.replicas, "0/3000")  # read later, by the caller's next primary session
    assert not marks.unread(db.replicas) and marks.needs(db.replicas) == "0/3000"
    marks.read(db.replicas, "0/9000")  # only an unread mark takes a position
    assert marks.needs(db.replicas) == "0/3000"
    marks.wrote(db.replicas, UNREAD, 0.3)
    marks.read(db.replicas, None)  # no position to be had: the primary for the rest of the window
    assert marks.needs(db.replicas) == PRIMARY_ONLY and not marks.unread(db.replicas)
    time.sleep(0.35)
    assert marks.needs(db.replicas) is None and not marks.pending


def test_a_write_mark_of_a_closed_replica_set_is_forgotten(db: DataFlow) -> None:
    other = DataFlow("postgresql://app@127.0.0.1:1/other", env="test", replicas=["127.0.0.1:4"])
    assert db.replicas is not None and other.replicas is not None
    marks = WriteMarks()
    marks.wrote(other.replicas, "0/1", 60.0)
    other.close()
    del other
    gc.collect()  # a DataFlow and its nodes refer to each other
    marks.wrote(db.replicas, "0/2", 60.0)
    assert marks.needs(db.replicas) == "0/2"
    assert len(marks._marks) == 1


def test_round_robin_takes_every_replica_in_turn_and_skips_one_that_is_down(db: DataFlow) -> None:
    assert db.replicas is not None
    first, second = db.replicas.replicas
    orders = [tuple(db.replicas.candidates()) for _ in range(4)]
    assert set(orders) == {(first, second), (second, first)}
    assert orders[0] != orders[1]
    first.failed(OSError("gone"))
    assert [list(db.replicas.candidates()) for _ in range(3)] == [[second]] * 3


def test_what_is_known_of_a_replica_decides_without_asking_it(db: DataFlow) -> None:
    assert db.replicas is not None
    replicas = db.replicas
    replica = replicas.replicas[0]
    assert replicas.known_fresh(replica, None) is None  # lag never read: ask
    _caught_up(db)
    assert replicas.known_fresh(replica, None) is True
    assert replicas.known_fresh(replica, "0/1000") is True and replica.covered == "0/1000"
    assert replicas.known_fresh(replica, "0/3000") is None  # not seen that far yet: ask
    replica.lag = 60.0
    assert replicas.known_fresh(replica, None) is False


def test_a_read_node_wants_a_replica_unless_the_caller_wrote_with_no_position(db: DataFlow) -> None:
    assert db.replicas is not None
    read, create = db.nodes["ItemReadNode"], db.nodes["ItemCreateNode"]
    with caller_context() as marks:
        route = RunRoute()
        assert route.wants_replica(db, read, {"id": 1}, None)
        assert not route.wants_replica(db, create, {"sku": "a"}, None)
        assert not route.wants_replica(db, read, {"id": 1}, False)
        marks.wrote(db.replicas, None, 60.0)
        assert not route.wants_replica(db, read, {"id": 1}, None)
    assert not RunRoute(replica=False).wants_replica(db, read, {"id": 1}, None)
    assert not RunRoute(pinned=True).wants_replica(db, read, {"id": 1}, None)
