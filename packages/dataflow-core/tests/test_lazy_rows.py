"""LazyRows: a bulk node's rows, prepared once per slice however a strategy reads them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from dataflow.nodes.lazy_rows import LazyRows


class Source:
    """``count`` rows ``(i,)``; records each slice it is asked to make."""

    def __init__(self, count: int, bad: int | None = None) -> None:
        self.count = count
        self.bad = bad
        self.calls: list[tuple[int, int]] = []

    def prepare(self, start: int, stop: int) -> list[Sequence[Any]]:
        self.calls.append((start, stop))
        if self.bad is not None and start <= self.bad < stop:
            raise ValueError(f"row {self.bad} is bad")
        return [(i,) for i in range(start, stop)]

    def rows(self, slice_rows: int) -> LazyRows:
        return LazyRows(self.count, self.prepare, slice_rows)


def test_iterating_prepares_each_slice_once_in_order() -> None:
    source = Source(10)
    rows = source.rows(4)
    assert len(rows) == 10 and source.calls == []
    assert list(rows) == [(i,) for i in range(10)]
    assert source.calls == [(0, 4), (4, 8), (8, 10)]
    assert list(rows) == [(i,) for i in range(10)]
    assert rows[3] == (3,) and list(rows[8:]) == [(8,), (9,)]
    assert source.calls == [(0, 4), (4, 8), (8, 10)]


def test_slices_are_made_only_when_read() -> None:
    source = Source(10)
    iterator = iter(source.rows(4))
    assert [next(iterator) for _ in range(5)] == [(i,) for i in range(5)]
    assert source.calls == [(0, 4), (4, 8)]


def test_indexing_after_a_partial_read_reuses_the_slices_made() -> None:
    source = Source(10)
    rows = source.rows(4)
    next(iter(rows))
    assert rows[-1] == (9,)
    assert source.calls == [(0, 4), (4, 8), (8, 10)]


def test_an_error_while_preparing_reaches_the_reader_and_earlier_rows_were_read() -> None:
    source = Source(10, bad=6)
    read: list[Sequence[Any]] = []
    with pytest.raises(ValueError, match="row 6 is bad"):
        for row in source.rows(4):
            read.append(row)
    assert read == [(i,) for i in range(4)]


def test_resliced_reads_in_other_slices_but_only_before_reading() -> None:
    source = Source(10)
    rows = source.rows(4)
    assert [len(s) for s in rows.resliced(5).slices()] == [5, 5]
    read = source.rows(4)
    next(iter(read))
    with pytest.raises(RuntimeError, match="resliced"):
        read.resliced(5)


def test_a_prepare_that_returns_the_wrong_number_of_rows_is_caught() -> None:
    rows = LazyRows(3, lambda start, stop: [(0,)])
    with pytest.raises(AssertionError, match=r"prepare\(0, 3\) made 1 rows"):
        list(rows)


def test_no_rows_need_no_preparing() -> None:
    source = Source(0)
    assert list(source.rows(4)) == [] and source.calls == []
    with pytest.raises(ValueError, match="slice_rows"):
        LazyRows(1, source.prepare, 0)


def test_without_keep_a_read_slice_is_dropped_and_reading_again_prepares_again() -> None:
    source = Source(10)
    rows = LazyRows(10, source.prepare, 4, keep=False)
    assert list(rows) == [(i,) for i in range(10)]
    assert rows._made == []
    assert list(rows) == [(i,) for i in range(10)]
    assert source.calls == [(0, 4), (4, 8), (8, 10)] * 2
    assert rows[9] == (9,) and [len(s) for s in rows.resliced(5).slices()] == [5, 5]
