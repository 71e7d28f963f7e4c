"""Fall scoring, per clip and per labelled fall.

A clip with ``falls`` labels is a positive: each labelled fall is found when a ``fall``
condition the rule raised matches it (below); every other one on any clip (the hard negatives under
``negative/``, and every clip that is not about falls) is a false alarm.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from vigil.detectors.base import Condition

FALL_WINDOW_S = 2.0


@dataclasses.dataclass(frozen=True)
class FallCall:
    """A ``fall`` the rule raised, reduced to what scoring needs.

    ``seq`` is the onset the rule reports, ``detected_seq`` the frame on which it raised it,
    ``track`` the person it followed (``None`` while the rule names no track).
    """

    seq: int
    detected_seq: int
    track: str | None = None


@dataclasses.dataclass(frozen=True)
class FallFound:
    """One labelled fall and the event that matched it (``call`` is None when missed)."""

    onset: int
    call: FallCall | None
    delay_s: float | None


@dataclasses.dataclass(frozen=True)
class FallClip:
    """One clip's result: its labelled falls, matched or not, and its false alarms."""

    clip: str
    positive: bool
    falls: tuple[FallFound, ...]
    false_alarms: tuple[FallCall, ...]

    @property
    def found(self) -> int:
        return sum(f.call is not None for f in self.falls)


def fall_calls(onsets: Iterable[Condition]) -> list[FallCall]:
    """The ``fall`` onsets of a run, each condition once (``ClipRun.onsets``); other kinds are not falls.

    Scored from the rule's conditions rather than the incident events, so a false fall that a
    cooldown would merge into a true one's event still counts as a false alarm.
    """
    calls = []
    for onset in onsets:
        if onset.kind != "fall":
            continue
        track = onset.details.get("track")
        detected = int(onset.details.get("detected_seq", onset.details.get("seq", onset.start_seq)))
        calls.append(FallCall(onset.start_seq, detected, None if track is None else str(track)))
    return calls


def score_fall_clip(
    clip: str, onsets: Sequence[int], calls: Sequence[FallCall], fps: float, window_s: float = FALL_WINDOW_S
) -> FallClip:
    """Match events to labelled falls on one clip.

    An event matches a labelled fall when the onset it reports is within ``window_s`` of the
    labelled onset and it was raised within ``window_s`` after that onset (raised before
    the person started to go down, it cannot be about this fall). Each event matches at most
    one fall, taken in labelled order; unmatched events are false alarms.

    Args:
        clip: the clip's name in labels.json.
        onsets: labelled onset frames (empty for a negative clip).
        calls: the clip's fall events.
        fps: the clip's frame rate, to turn the window and delays into frames and seconds.
        window_s: how late after the onset an event still counts.
    """
    window = window_s * fps
    unmatched = list(calls)
    found = []
    for onset in onsets:
        hit = next(
            (c for c in unmatched if abs(c.seq - onset) <= window and onset <= c.detected_seq <= onset + window),
            None,
        )
        if hit is None:
            found.append(FallFound(onset, None, None))
            continue
        unmatched.remove(hit)
        found.append(FallFound(onset, hit, (hit.detected_seq - onset) / fps))
    return FallClip(clip, bool(onsets), tuple(found), tuple(unmatched))


def summarise(per_clip: Sequence[FallClip]) -> dict[str, Any]:
    """Totals over all clips, plus the per-clip results (what the tests and the report read)."""
    return {
        "per_clip": list(per_clip),
        "falls": sum(len(c.falls) for c in per_clip),
        "found": sum(c.found for c in per_clip),
        "delays_s": [f.delay_s for c in per_clip for f in c.falls if f.delay_s is not None],
        "missed": [f"{c.clip}@{f.onset}" for c in per_clip for f in c.falls if f.call is None],
        "false_alarms": {c.clip: [a.seq for a in c.false_alarms] for c in per_clip if c.false_alarms},
    }
