"""Statements as data: a program of steps that a connection may run in one call.

A :data:`Program` is a generator that yields :class:`Step` objects and is sent
each step's result (``ExecuteResult`` for ``execute``, the rows for ``fetch``,
the count for ``executemany``); what it returns is the program's result. Python
between the steps must not await, so a connection that lives on a thread of
its own (SQLite) can run the whole program there in one hop, while the others
run it a statement at a time (:meth:`dataflow.session.Session.run_program`).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any, Literal, TypeVar

import attrs

T = TypeVar("T")

StepKind = Literal["execute", "fetch", "executemany"]


@attrs.frozen
class Step:
    """One statement of a program: its SQL, its bound parameters (rows for ``executemany``), and its kind."""

    sql: str
    params: Sequence[Any] = ()
    kind: StepKind = "execute"


Program = Generator[Step, Any, T]
"""Yields steps, is sent their results, returns the program's result."""
