"""Blink scoring: labelled blinks found, false blinks, long closures reported once."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

BLINK_TOLERANCE = 3
_OPTIONAL_BLINK = re.compile(r"(\d+)-(\d+) is a partial blink")
TOTAL_KEYS = ("tp_pred", "fp", "required", "found", "closures", "closures_ok", "stray_closed")

Span = tuple[int, int]


def optional_blinks(notes: str) -> set[Span]:
    """Blinks the labeller marked partial in the clip's notes: neither a miss nor a false alarm."""
    return {(int(a), int(b)) for a, b in _OPTIONAL_BLINK.findall(notes)}


def overlaps(a: Span, b: Span, tolerance: int) -> bool:
    return a[0] <= b[1] + tolerance and b[0] - tolerance <= a[1]


def score_blink_clip(
    truths: Sequence[Span],
    optional: set[Span],
    closures: Sequence[Span],
    blinks: Sequence[Span],
    closed: Sequence[int],
    tolerance: int = BLINK_TOLERANCE,
) -> dict[str, Any]:
    """One clip: labelled blinks and long closures against the blinks and long closures the rule recorded.

    Args:
        truths: labelled blinks (inclusive frame ranges), optional ones included.
        optional: the labelled blinks that count neither way.
        closures: labelled long eye closures.
        blinks: recorded blinks as (start, end) frames.
        closed: start frames of recorded long closures.
        tolerance: frames of slack at either end when matching.
    """
    required = [t for t in truths if t not in optional]
    tp_pred = fp = 0
    matched: set[Span] = set()
    unmatched: list[Span] = []
    for event in blinks:
        hits = [t for t in truths if overlaps(event, t, tolerance)]
        if hits:
            matched.update(hits)
            tp_pred += any(h not in optional for h in hits)
        else:
            fp += 1
            unmatched.append(event)
    # A long closure is right when exactly one eyes_closed event starts in it and no blink
    # event overlaps it (a drowsy closure is not a blink).
    closures_ok = sum(
        1 for a, b in closures
        if sum(a - tolerance <= s <= b for s in closed) == 1 and not any(overlaps(p, (a, b), 0) for p in blinks)
    )  # fmt: skip
    stray = sum(1 for s in closed if not any(a - tolerance <= s <= b for a, b in closures))
    return {
        "blinks": len(required), "found": sum(1 for t in required if t in matched),
        "predicted": tp_pred + fp, "false": fp, "tp_pred": tp_pred,
        "closures": len(closures), "closures_ok": closures_ok, "stray_closed": stray,
        "false_events": unmatched,
    }  # fmt: skip


def summarise(per_clip: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Precision, recall and totals; every total is present (zero) even with no blink-labelled clip."""
    rows = per_clip.values()
    totals = {
        "tp_pred": sum(r["tp_pred"] for r in rows),
        "fp": sum(r["false"] for r in rows),
        "required": sum(r["blinks"] for r in rows),
        "found": sum(r["found"] for r in rows),
        "closures": sum(r["closures"] for r in rows),
        "closures_ok": sum(r["closures_ok"] for r in rows),
        "stray_closed": sum(r["stray_closed"] for r in rows),
    }
    predicted = totals["tp_pred"] + totals["fp"]
    return {
        "per_clip": per_clip,
        "precision": totals["tp_pred"] / predicted if predicted else 1.0,
        "recall": totals["found"] / totals["required"] if totals["required"] else 1.0,
        **totals,
    }
