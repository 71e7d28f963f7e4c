"""Printing benchmark tables as aligned text and as Markdown."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from vigil.stats import median_and_spread


def fmt(value: Any, digits: int = 1) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:,.{digits}f}"
    return str(value)


def spread(values: Sequence[float], scale: float = 1.0, digits: int = 1) -> str:
    """'median (min-max)' of repeated measurements."""
    data = [v * scale for v in values if v is not None and not math.isnan(v)]
    if not data:
        return "-"
    median, low, high = median_and_spread(data)
    if len(data) == 1:
        return fmt(median, digits)
    return f"{fmt(median, digits)} ({fmt(low, digits)}-{fmt(high, digits)})"


def within_noise(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether B's runs are within the noise of A's: their medians differ by no more than the
    wider of the two (min-max) spreads. NaN values are ignored; False when either side is empty.
    """
    a = [v for v in a if not math.isnan(v)]
    b = [v for v in b if not math.isnan(v)]
    if not a or not b:
        return False
    (median_a, low_a, high_a), (median_b, low_b, high_b) = median_and_spread(a), median_and_spread(b)
    return abs(median_b - median_a) <= max(high_a - low_a, high_b - low_b)


def text_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[fmt(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [title, "-" * len(title)]
    for index, row in enumerate(cells):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines) + "\n"


def markdown_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = [f"### {title}", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
