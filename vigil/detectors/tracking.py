"""Following every body the detector reports, and deciding which of them are people.

BlazePose's detector also fires on person-shaped things (a black office chair at
0.33-0.67, a coat on a chair, animated letters up to 0.93), and one frame cannot tell
them apart from people. Over time it can: a thing never moves on its own. So every
detection is associated with a track (greedy, nearest hips first, within the body
radius), and a track becomes a *person* only once its hips have travelled at least
``move_radii`` body radii from where the track started, measured while the camera was
still (a pan moves everything in the image, so positions are re-anchored after it).
Jitter of a static thing's hips stayed within 0.15 radii on the shared clips.

Pure and per camera: the rule owns one ``Tracker`` and feeds it every frame in order.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Protocol

SCALE_SMOOTHING = 0.2  # weight of the newest radius in the track's scale


class Body(Protocol):
    """What the tracker needs from a detection (``fall.PersonPose`` has it)."""

    @property
    def score(self) -> float: ...

    @property
    def hips(self) -> list[float]: ...

    @property
    def radius(self) -> float: ...


@dataclasses.dataclass
class Track:
    """One followed body.

    Attributes:
        id: small int, unique within the tracker (events name it).
        hips: last seen hip centre.
        radius: last seen body radius (pixels).
        scale: body radius smoothed over frames (the detector's radius jumps, down to a
            few pixels, on single frames of a tumbling body; association needs a steady one).
        seen_at: time it was last seen.
        anchor: where the hips were when travel started being measured.
        anchor_radius: the body radius then (the detector's radius shrinks to a few
            pixels on some frames; dividing by it alone would turn jitter into travel).
        travel: the farthest the hips got from ``anchor``, in body radii.
        person: it has moved like a person (never reset).
    """

    id: int
    hips: tuple[float, float]
    radius: float
    seen_at: float
    anchor: tuple[float, float]
    anchor_radius: float
    scale: float
    travel: float = 0.0
    person: bool = False


def associate(tracks: Sequence[Track], bodies: Sequence[Body]) -> list[tuple[int, int]]:
    """Pairs (track index, body index), cheapest first, each at most once.

    A body may join a track only if its hips lie within the larger of the two body
    radii (the track's smoothed one) of the track's last position (a fall moves the hips fast, but by less than a
    body radius between frames at 10 fps or more). The cost is that distance in radii
    plus the body's doubt (1 - score): when a person is detected twice, a weak
    duplicate nearer the old position must not take the track from the strong one.
    """
    candidates = []
    for ti, track in enumerate(tracks):
        for bi, body in enumerate(bodies):
            distance = math.dist(body.hips, track.hips)
            reach = max(track.scale, body.radius)
            if distance <= reach:
                candidates.append((distance / max(reach, 1.0) + 1.0 - body.score, ti, bi))
    pairs, used_tracks, used_bodies = [], set(), set()
    for _, ti, bi in sorted(candidates):
        if ti not in used_tracks and bi not in used_bodies:
            pairs.append((ti, bi))
            used_tracks.add(ti)
            used_bodies.add(bi)
    return pairs


class Tracker:
    """Tracks for one camera.

    Args:
        start_score: a detection needs this score to start a track.
        follow_score: and this to continue one (people on the floor score lower).
        lost_s: a track unseen this long is dropped.
        move_radii: travel (in body radii) that makes a track a person.
    """

    def __init__(
        self,
        *,
        start_score: float = 0.5,
        follow_score: float = 0.3,
        lost_s: float = 3.0,
        move_radii: float = 0.5,
    ) -> None:
        self.start_score = start_score
        self.follow_score = follow_score
        self.lost_s = lost_s
        self.move_radii = move_radii
        self.tracks: list[Track] = []
        self._next_id = 1

    def update(
        self, bodies: Sequence[Body], timestamp: float, camera_moving: bool = False
    ) -> list[tuple[Track, Body | None]]:
        """Feed one frame's bodies; every live track with its body this frame (or None)."""
        usable = [b for b in bodies if b.score >= self.follow_score]
        pairs = associate(self.tracks, usable)
        matched = {ti: usable[bi] for ti, bi in pairs}
        taken = {bi for _, bi in pairs}
        out: list[tuple[Track, Body | None]] = []
        for ti, track in enumerate(self.tracks):
            body = matched.get(ti)
            if body is not None:
                self._move(track, body, timestamp, camera_moving)
            elif timestamp - track.seen_at > self.lost_s:
                continue
            out.append((track, body))
        for bi, body in enumerate(usable):
            if bi not in taken and body.score >= self.start_score and not self._covered(body, out):
                track = self._start(body, timestamp)
                out.append((track, body))
        self.tracks = [track for track, _ in out]
        return out

    @staticmethod
    def _covered(body: Body, tracks: list[tuple[Track, Body | None]]) -> bool:
        """Is the body's hip centre inside a followed body? Then it is a second detection of it."""
        return any(
            other is not None and math.dist(body.hips, other.hips) < 0.5 * max(body.radius, other.radius)
            for _, other in tracks
        )

    def _start(self, body: Body, timestamp: float) -> Track:
        hips = (float(body.hips[0]), float(body.hips[1]))
        track = Track(
            id=self._next_id, hips=hips, radius=float(body.radius), seen_at=timestamp, anchor=hips,
            anchor_radius=float(body.radius), scale=float(body.radius),
        )
        self._next_id += 1
        return track

    def _move(self, track: Track, body: Body, timestamp: float, camera_moving: bool) -> None:
        track.hips = (float(body.hips[0]), float(body.hips[1]))
        track.radius = float(body.radius)
        track.scale += SCALE_SMOOTHING * (track.radius - track.scale)
        track.seen_at = timestamp
        if camera_moving:
            # Image positions before and after a pan are not comparable: start measuring again.
            track.anchor, track.anchor_radius = track.hips, track.radius
            track.travel = 0.0
            return
        scale = max(body.radius, track.anchor_radius)
        if body.score >= self.start_score and scale > 0:
            track.travel = max(track.travel, math.dist(track.hips, track.anchor) / scale)
            if track.travel >= self.move_radii:
                track.person = True
