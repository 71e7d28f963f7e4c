"""Emotion scoring: labelled ranges and stills against the labels the detector and rule give."""

from __future__ import annotations

import collections
from collections.abc import Sequence
from typing import Any

NO_FACE = "none"


def score_segment(
    clip: str, label: str, span: tuple[int, int], smoothed: Sequence[str], raw: Sequence[str]
) -> dict[str, Any]:
    """Share of a labelled range whose smoothed (rule) and raw (detector) label is ``label``.

    A range that runs past the clip's end is cut to the frames that exist.
    """
    first, last = span
    window, raw_window = list(smoothed[first : last + 1]), list(raw[first : last + 1])
    frames = max(len(window), 1)
    return {
        "clip": clip, "label": label, "range": span, "frames": len(window),
        "share": sum(x == label for x in window) / frames,
        "raw_share": sum(x == label for x in raw_window) / frames,
        "counts": collections.Counter(window),
        "top": collections.Counter(window).most_common(2),
    }  # fmt: skip


def confusion(segments: Sequence[dict[str, Any]], stills: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """Rows: labelled expression; columns: what came out (smoothed label on frames, raw on stills)."""
    table: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for segment in segments:
        table[segment["label"]].update(segment["counts"])
    for truth, got in stills.values():
        table[truth][got] += 1
    return dict(table)


def per_class(table: dict[str, collections.Counter[str]]) -> dict[str, dict[str, Any]]:
    """Frames (and stills) right per labelled class, and the share."""
    result = {}
    for label, counts in table.items():
        total = sum(counts.values())
        result[label] = {"right": counts.get(label, 0), "total": total, "share": counts.get(label, 0) / total}
    return result
