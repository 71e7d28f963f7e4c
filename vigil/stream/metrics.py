"""A small Prometheus text-format registry: counters, gauges and histograms with labels.

Only what ``/metrics`` needs; no dependency, no global state (the streamer owns one).
"""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Sequence

LATENCY_BUCKETS = (0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
Labels = tuple[tuple[str, str], ...]


def _labels(values: dict[str, object]) -> Labels:
    return tuple(sorted((key, str(value)) for key, value in values.items()))


def _format(labels: Labels, extra: tuple[tuple[str, str], ...] = ()) -> str:
    pairs = labels + extra
    if not pairs:
        return ""
    escaped = (f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"' for k, v in pairs)
    return "{" + ",".join(escaped) + "}"


class _Metric:
    kind = ""

    def __init__(self, name: str, help_text: str) -> None:
        self.name = name
        self.help = help_text
        self._lock = threading.Lock()

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name: str, help_text: str) -> None:
        super().__init__(name, help_text)
        self.values: dict[Labels, float] = {}

    def inc(self, amount: float = 1.0, **labels: object) -> None:
        key = _labels(labels)
        with self._lock:
            self.values[key] = self.values.get(key, 0.0) + amount

    def set_total(self, total: float, **labels: object) -> None:
        """Mirror a counter kept elsewhere (e.g. by a capture daemon)."""
        with self._lock:
            self.values[_labels(labels)] = total

    def render(self) -> list[str]:
        with self._lock:
            return self.header() + [f"{self.name}{_format(k)} {v:g}" for k, v in sorted(self.values.items())]


class Gauge(Counter):
    kind = "gauge"

    def set(self, value: float, **labels: object) -> None:
        self.set_total(value, **labels)


class Histogram(_Metric):
    kind = "histogram"

    def __init__(self, name: str, help_text: str, buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        super().__init__(name, help_text)
        self.buckets = tuple(buckets)
        self.series: dict[Labels, list[float]] = {}  # bucket counts..., +Inf count, sum

    def observe(self, value: float, **labels: object) -> None:
        if math.isnan(value):
            return
        key = _labels(labels)
        with self._lock:
            series = self.series.setdefault(key, [0.0] * (len(self.buckets) + 2))
            series[bisect.bisect_left(self.buckets, value)] += 1
            series[-1] += value

    def render(self) -> list[str]:
        lines = self.header()
        with self._lock:
            for key, series in sorted(self.series.items()):
                cumulative = 0.0
                for bound, count in zip((*self.buckets, math.inf), series[:-1]):
                    cumulative += count
                    le = "+Inf" if bound == math.inf else f"{bound:g}"
                    lines.append(f"{self.name}_bucket{_format(key, (('le', le),))} {cumulative:g}")
                lines.append(f"{self.name}_sum{_format(key)} {series[-1]:g}")
                lines.append(f"{self.name}_count{_format(key)} {cumulative:g}")
        return lines


class Registry:
    """The streamer's metrics, rendered together."""

    def __init__(self) -> None:
        self._metrics: list[_Metric] = []

    def counter(self, name: str, help_text: str) -> Counter:
        return self._add(Counter(name, help_text))

    def gauge(self, name: str, help_text: str) -> Gauge:
        return self._add(Gauge(name, help_text))

    def histogram(self, name: str, help_text: str, buckets: Sequence[float] = LATENCY_BUCKETS) -> Histogram:
        return self._add(Histogram(name, help_text, buckets))

    def render(self) -> str:
        lines: list[str] = []
        for metric in self._metrics:
            lines.extend(metric.render())  # type: ignore[attr-defined]
        return "\n".join(lines) + "\n"

    def _add(self, metric):  # type: ignore[no-untyped-def]
        self._metrics.append(metric)
        return metric
