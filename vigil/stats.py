"""Summary statistics for latencies and repeated measurements (reports, benchmarks)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def summarize(values: Iterable[float]) -> dict[str, float]:
    """n, mean, p50, p95, p99 and max of ``values`` (NaN fields when empty)."""
    data = [float(v) for v in values if v is not None and not math.isnan(v)]
    return {
        "n": len(data),
        "mean": statistics.fmean(data) if data else math.nan,
        "p50": percentile(data, 50),
        "p95": percentile(data, 95),
        "p99": percentile(data, 99),
        "max": max(data) if data else math.nan,
    }


def median_and_spread(values: Sequence[float]) -> tuple[float, float, float]:
    """(median, min, max) of repeated measurements."""
    if not values:
        return math.nan, math.nan, math.nan
    return float(statistics.median(values)), float(min(values)), float(max(values))
