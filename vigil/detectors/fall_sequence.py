"""One tracked body's fall sequence: upright -> fast descent with the hips dropping -> lying.

Pure: ``FallSequence.step`` is fed what the tracker saw of one body each frame (its
lean and hips, or nothing) and says when a fall completes or clears. ``FallRule`` in
``fall.py`` owns one sequence per track.

Why each condition:
- upright first, then lying within ``descent_s``: a slow lean (lying down to rest,
  getting onto all fours) is not a fall;
- the hips drop by ``drop_radii`` body radii from their highest in the last
  ``descent_s`` of being upright to the lying frames: bending over to pick something
  up leans the body as far as a fall but leaves the hips where they were, and lying
  down on a bed from sitting raises them;
- still lying ``down_s`` later, seen: sitting down leans the body only for a moment
  and comes back upright, which ends the sequence. A frame read half-way between
  upright and lying neither advances nor ends it (a tumbling body's axis is read
  badly on some frames).
  A frame where the body is not seen is no evidence either way (a camera pointed at
  the sky sees nobody), so the sequence only completes on a frame that sees it lying.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Any

# Share of the frames since the descent on which the body must be seen (lying or half-way).
MIN_SEEN_SHARE = 0.5


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """The sequence's settings; ``FallRule`` documents each one."""

    upright_angle: float = 30.0
    lying_angle: float = 50.0
    descent_s: float = 1.0
    down_s: float = 1.0
    drop_radii: float = 0.2
    clear_s: float = 1.0


@dataclasses.dataclass(frozen=True)
class Seen:
    """One frame of a tracked body: lean from vertical (degrees), hips y and body scale (pixels).

    ``radius`` should be steady (the tracker's smoothed radius): the hips' drop is
    measured in it, and the detector's own radius shrinks to a few pixels on some frames.
    """

    angle: float
    hips_y: float
    radius: float
    score: float


@dataclasses.dataclass(frozen=True)
class Completed:
    """A fall the sequence has just confirmed."""

    onset: tuple[int, float]
    down: tuple[int, float]
    confidence: float


class FallSequence:
    """Where one body stands in upright -> descent -> lying, and whether it has fallen."""

    def __init__(self, thresholds: Thresholds) -> None:
        self.t = thresholds
        self.last_upright: tuple[int, float, float, float] | None = None  # seq, time, hips y, radius
        self.down_since: tuple[int, float] | None = None
        self.onset: tuple[int, float] | None = None
        self.drop = 0.0
        self.scores: list[float] = []
        self.unseen = 0
        self.upright_since: float | None = None
        self.fallen: dict[str, Any] | None = None
        # Hips while upright over the last ``descent_s``: people often crouch or buckle at
        # the knees, still upright, before they go down, so the drop counts from the highest.
        self._upright_hips: collections.deque[tuple[float, float]] = collections.deque()

    def hold(self) -> None:
        """The camera moves: forget the descent in progress (lean and hips are not comparable)."""
        self.last_upright = None
        self._upright_hips.clear()
        self._reset_down()
        self.upright_since = None

    def step(self, seq: int, timestamp: float, seen: Seen | None) -> Completed | str | None:
        """Feed one frame. Returns a ``Completed`` fall, ``"cleared"``, or None."""
        if seen is None:
            # Not seen: no evidence of lying, nor of getting up; but it thins the evidence.
            if self.down_since is not None:
                self.unseen += 1
            return None
        if seen.angle < self.t.upright_angle:
            self.last_upright = (seq, timestamp, seen.hips_y, seen.radius)
            self._upright_hips.append((timestamp, seen.hips_y))
            while timestamp - self._upright_hips[0][0] > self.t.descent_s:
                self._upright_hips.popleft()
            self._reset_down()
            if self.upright_since is None:
                self.upright_since = timestamp
            return self._maybe_clear(timestamp)
        self.upright_since = None
        if seen.angle < self.t.lying_angle:
            # Between upright and lying: bending, sitting, or a frame of a tumbling body whose
            # axis the detector reads half-way. Neither evidence for a fall nor against one.
            return None
        return self._lying(seq, timestamp, seen)

    def _lying(self, seq: int, timestamp: float, seen: Seen) -> Completed | None:
        if self.fallen is not None:
            return None
        if self.down_since is None:
            upright = self.last_upright
            if upright is None or timestamp - upright[1] > self.t.descent_s:
                return None  # a slow lean, or never seen upright: not a fall
            self.down_since = (seq, timestamp)
            self.onset = (upright[0] + 1, upright[1])
        assert self.last_upright is not None and self.onset is not None
        highest = min(y for _, y in self._upright_hips)
        if seen.radius > 0:
            self.drop = max(self.drop, (seen.hips_y - highest) / seen.radius)
        self.scores.append(seen.score)
        lying_for = timestamp - self.down_since[1]
        if lying_for < self.t.down_s or self.drop < self.t.drop_radii:
            return None
        if len(self.scores) < MIN_SEEN_SHARE * (len(self.scores) + self.unseen):
            return None  # mostly unseen since the descent: too little evidence of lying
        if lying_for > self.t.down_s + self.t.descent_s:
            return None  # the hips only dropped long after the lean: lowering oneself slowly
        confidence = round(sum(self.scores) / len(self.scores), 3)
        done = Completed(onset=self.onset, down=self.down_since, confidence=confidence)
        self.fallen = {"onset_seq": self.onset[0], "confidence": confidence, "down_seq": self.down_since[0]}
        return done

    def _maybe_clear(self, timestamp: float) -> str | None:
        if self.fallen is None or self.upright_since is None or timestamp - self.upright_since < self.t.clear_s:
            return None
        self.fallen = None
        return "cleared"

    def _reset_down(self) -> None:
        self.down_since = None
        self.onset = None
        self.drop = 0.0
        self.scores = []
        self.unseen = 0
