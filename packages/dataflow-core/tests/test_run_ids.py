"""Run ids: 32 hex digits, never the same twice in a process, nor in a forked child and its parent."""

from __future__ import annotations

import os
import string
from pathlib import Path

import pytest

from dataflow import DataFlow, LocalRuntime, WorkflowBuilder
from dataflow.run_ids import new_run_id


def test_run_ids_are_32_hex_digits_and_all_different() -> None:
    ids = [new_run_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 32 and set(i) <= set(string.hexdigits.lower()) for i in ids)


def test_each_run_of_a_workflow_gets_its_own_id(tmp_path: Path) -> None:
    db = DataFlow(f"sqlite:///{tmp_path}/ids.db")

    @db.model
    class Thing:
        name: str

    workflow = WorkflowBuilder()
    workflow.add_node("ThingCreateNode", "create", {"name": "a"})
    built = workflow.build()
    runtime = LocalRuntime()
    try:
        ids = {runtime.execute(built)[1] for _ in range(5)}
    finally:
        db.close()
    assert len(ids) == 5


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_does_not_repeat_its_parents_run_ids() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.close(read)
        os.write(write, " ".join(new_run_id() for _ in range(100)).encode())
        os.close(write)
        os._exit(0)
    os.close(write)
    parent = {new_run_id() for _ in range(100)}
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split())
    os.waitpid(pid, 0)
    assert len(child) == 100
    assert not parent & child
    assert {i[:16] for i in child}.isdisjoint({i[:16] for i in parent})
