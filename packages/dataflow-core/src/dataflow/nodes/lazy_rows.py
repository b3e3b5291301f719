"""A bulk node's rows, validated slice by slice as a strategy reads them.

A streaming strategy (PostgreSQL's COPY) iterates the rows once while the
driver sends them: validating the next slice then overlaps the server's
work on the rows already sent, instead of adding to it. A bad row raises
from the iteration, inside the node's transaction, so nothing sent stays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import chain
from typing import Any, overload

Row = Sequence[Any]

STREAM_SLICE_ROWS = 5_000
"""Rows validated at a time while streaming: small, so that the first bytes leave early."""


class LazyRows(Sequence[Row]):
    """``count`` rows, made by ``prepare(start, stop)`` a slice at a time.

    With ``keep`` (the default) each slice is prepared once, in order, however
    the rows are read: iterating twice, or indexing after iterating, reuses
    the slices made. That is needed when ``prepare`` has effects that must
    happen once per row (the duplicate key check of an upsert). Without
    ``keep``, a slice is dropped once read, so that a large COPY does not hold
    a second copy of every row; ``prepare`` must then be a pure function,
    since reading again prepares again.
    """

    def __init__(
        self,
        count: int,
        prepare: Callable[[int, int], list[Row]],
        slice_rows: int = STREAM_SLICE_ROWS,
        *,
        keep: bool = True,
    ) -> None:
        if slice_rows < 1:
            raise ValueError(f"slice_rows must be positive, got {slice_rows}")
        self._count = count
        self._prepare = prepare
        self._slice_rows = slice_rows
        self._keep = keep
        self._made: list[list[Row]] = []
        self._next = 0
        self._all: list[Row] | None = None

    def __len__(self) -> int:
        return self._count

    def resliced(self, slice_rows: int) -> LazyRows:
        """The same rows, made in slices of ``slice_rows``; only before any slice is made."""
        if self._made:
            raise RuntimeError("LazyRows.resliced() after rows were read")
        return LazyRows(self._count, self._prepare, slice_rows, keep=self._keep)

    def slices(self) -> Iterator[list[Row]]:
        """The rows in slices of at most ``slice_rows``, preparing those not made (or not kept)."""
        if not self._keep:
            for start in range(0, self._count, self._slice_rows):
                yield self._make(start, min(start + self._slice_rows, self._count))
            return
        yield from self._made
        while self._next < self._count:
            start, stop = self._next, min(self._next + self._slice_rows, self._count)
            made = self._make(start, stop)
            self._made.append(made)
            self._next = stop
            yield made

    def _make(self, start: int, stop: int) -> list[Row]:
        made = self._prepare(start, stop)
        if len(made) != stop - start:
            raise AssertionError(f"prepare({start}, {stop}) made {len(made)} rows")
        return made

    def __iter__(self) -> Iterator[Row]:
        return chain.from_iterable(self.slices())

    @overload
    def __getitem__(self, index: int) -> Row: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Row]: ...

    def __getitem__(self, index: int | slice) -> Row | Sequence[Row]:
        if self._all is None:
            self._all = list(self)
        return self._all[index]
