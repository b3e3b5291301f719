"""Labelled counters, gauges and histograms that cost little to update, exposed through prometheus-client.

prometheus-client's own metric objects take a lock per value and walk the
buckets in Python on every observation; on a hot path that runs for every
statement this doubles the monitor's cost. Here each child (one label set)
has one lock and finds its bucket with ``bisect``; at scrape time a
collector turns the families into prometheus-client metric families, so the
exposition (text format, registries, ASGI and HTTP exporters) is
prometheus-client's.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

MAX_LABEL_SETS = 500
"""Label sets per family; past it, new ones are counted under ``"other"``."""
OTHER = "other"


class CounterChild:
    __slots__ = ("_lock", "value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        with self._lock:
            self.value += amount


class GaugeChild:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def set(self, value: float) -> None:
        self.value = float(value)


class HistogramChild:
    __slots__ = ("_bounds", "_lock", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self._bounds = bounds
        self._lock = threading.Lock()
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, value: float) -> None:
        index = bisect_left(self._bounds, value)
        with self._lock:
            self.counts[index] += 1
            self.sum += value

    def snapshot(self) -> tuple[list[int], float]:
        with self._lock:
            return list(self.counts), self.sum


class Family:
    """One metric name with its label names; ``labels(...)`` returns the child of a label set, cached."""

    def __init__(
        self,
        kind: str,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        buckets: Sequence[float] = (),
        *,
        count: tuple[str, str] | None = None,
    ) -> None:
        """``count=(name, documentation)`` on a histogram also exposes its observation count as a counter."""
        self.kind = kind
        self.count = count
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self.buckets = tuple(float(b) for b in buckets)
        self._children: dict[tuple[str, ...], Any] = {}
        self._lock = threading.Lock()

    def labels(self, *values: str) -> Any:
        child = self._children.get(values)
        if child is None:
            with self._lock:
                child = self._children.get(values)
                if child is None:
                    if len(self._children) >= MAX_LABEL_SETS:
                        # Keep the first label (the database), bucket the rest.
                        values = (values[0], *([OTHER] * (len(values) - 1)))
                        child = self._children.get(values)
                    if child is None:
                        child = self._children[values] = self._new_child()
        return child

    def _new_child(self) -> Any:
        if self.kind == "counter":
            return CounterChild()
        if self.kind == "gauge":
            return GaugeChild()
        return HistogramChild(self.buckets)

    def __len__(self) -> int:
        return len(self._children)

    def collect_all(self) -> Iterator[Metric]:
        if self.count is not None:
            counter = CounterMetricFamily(self.count[0], self.count[1], labels=list(self.labelnames))
            for values, child in list(self._children.items()):
                counter.add_metric(list(values), float(sum(child.snapshot()[0])))
            yield counter
        yield self.collect()

    def collect(self) -> Metric:
        names = list(self.labelnames)
        children = list(self._children.items())
        if self.kind == "counter":
            counter = CounterMetricFamily(self.name, self.documentation, labels=names)
            for values, child in children:
                counter.add_metric(list(values), child.value)
            return counter
        if self.kind == "gauge":
            gauge = GaugeMetricFamily(self.name, self.documentation, labels=names)
            for values, child in children:
                gauge.add_metric(list(values), child.value)
            return gauge
        histogram = HistogramMetricFamily(self.name, self.documentation, labels=names)
        for values, child in children:
            counts, total = child.snapshot()
            cumulative, running = [], 0
            for bound, count in zip((*self.buckets, float("inf")), counts, strict=True):
                running += count
                cumulative.append((_bound_text(bound), running))
            histogram.add_metric(list(values), cumulative, total)
        return histogram


def _bound_text(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)


class FamiliesCollector(Collector):
    """Exposes families to a prometheus-client registry."""

    def __init__(self, families: Sequence[Family]) -> None:
        self.families = list(families)

    def describe(self) -> list[Metric]:
        return [metric for family in self.families for metric in family.collect_all()]

    def collect(self) -> Iterator[Metric]:
        for family in self.families:
            yield from family.collect_all()
