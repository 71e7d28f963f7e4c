"""Falls: each frame, every person's body axis; per camera, upright -> fast descent -> down.

The detector reports, for every person BlazePose's detector finds, how far the
hips -> shoulders axis leans from vertical and where the hips are. One frame cannot
tell a fall from someone bending or sitting down, so the rule follows one person and
raises a ``fall`` only for the sequence: upright, then within ``descent_s`` a lean past
``lying_angle``, then lying (or out of the detector's sight, as people on the floor
often are) for at least ``down_s``. Sitting down leans the body for a moment and comes
back upright; an empty room never has an upright person, so a person-like object on
the floor (a chair, a bag) stays silent.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import cv2
import numpy as np

from vigil.detectors import _draw
from vigil.detectors._imaging import clip_box
from vigil.detectors.base import Event
from vigil.detectors.bodies import BodyFinder

ALGORITHM = "fall"
# Report weak detections too: the rule needs them to follow a person who is on the floor.
DETECTOR_MIN_SCORE = 0.3


@dataclasses.dataclass(frozen=True)
class PersonPose:
    """One person: box [x, y, w, h] around the body, score, axis lean, hips and shoulders.

    ``angle`` is the hips -> shoulders lean from vertical in degrees (0 upright, 90
    lying); ``radius`` is the radius of the circle around the hips enclosing the body.
    """

    box: list[int]
    score: float
    angle: float
    hips: list[float]
    shoulders: list[float]
    radius: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PersonPose:
        return cls(
            box=[int(v) for v in data["box"]],
            score=float(data["score"]),
            angle=float(data["angle"]),
            hips=[float(v) for v in data["hips"]],
            shoulders=[float(v) for v in data["shoulders"]],
            radius=float(data["radius"]),
        )


@dataclasses.dataclass(frozen=True)
class FallObservation:
    """Everyone in one frame, best score first (empty when there is nobody), and the frame size."""

    width: int
    height: int
    people: tuple[PersonPose, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"width": self.width, "height": self.height, "people": [p.to_dict() for p in self.people]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FallObservation:
        return cls(
            width=int(data["width"]),
            height=int(data["height"]),
            people=tuple(PersonPose.from_dict(p) for p in data.get("people", ())),
        )


class FallDetector:
    """BlazePose's person detector; about 10 ms a frame at any frame size (224 x 224 input)."""

    name: ClassVar[str] = ALGORITHM

    def __init__(self) -> None:
        self.finder = BodyFinder(min_score=DETECTOR_MIN_SCORE)

    def detect(self, image: np.ndarray) -> FallObservation:
        height, width = image.shape[:2]
        people = []
        for body in self.finder.find(image):
            hx, hy = body.hips
            r = body.body_radius
            people.append(
                PersonPose(
                    box=clip_box(hx - r, hy - r, hx + r, hy + r, width, height),
                    score=round(body.score, 3),
                    angle=round(body.axis_angle, 1),
                    hips=[round(hx, 1), round(hy, 1)],
                    shoulders=[round(body.shoulders[0], 1), round(body.shoulders[1], 1)],
                    radius=round(r, 1),
                )
            )
        return FallObservation(width=width, height=height, people=tuple(people))


@dataclasses.dataclass
class _Track:
    """The person the rule follows, and where the fall sequence stands."""

    hips: tuple[float, float]
    radius: float
    seen_at: float
    angle: float
    last_upright: tuple[int, float] | None = None
    down_since: tuple[int, float] | None = None
    onset: tuple[int, float] | None = None
    down_scores: list[float] = dataclasses.field(default_factory=list)
    down_frames: int = 0
    upright_since: float | None = None


class FallRule:
    """One ``fall`` event for upright -> fast descent -> down; ``fall_cleared`` when up again.

    Args:
        camera: camera name.
        upright_angle: a lean below this (degrees) is upright.
        lying_angle: a lean at or beyond this is lying (or falling).
        descent_s: the lean must pass ``lying_angle`` within this long of the last
            upright frame (a slow lean is not a fall).
        down_s: the person must stay lying, or out of sight, this long.
        lost_s: a person unseen this long is forgotten (a fall in progress counts the
            unseen time as down until then).
        clear_s: upright this long after a fall clears it.
        start_score: detector score needed to start following someone (upright only).
        follow_score: detector score needed to keep following them.
    """

    def __init__(
        self,
        camera: str,
        *,
        upright_angle: float = 30.0,
        lying_angle: float = 50.0,
        descent_s: float = 1.0,
        down_s: float = 1.0,
        lost_s: float = 3.0,
        clear_s: float = 1.0,
        start_score: float = 0.5,
        follow_score: float = DETECTOR_MIN_SCORE,
    ) -> None:
        self.camera = camera
        self.upright_angle = upright_angle
        self.lying_angle = lying_angle
        self.descent_s = descent_s
        self.down_s = down_s
        self.lost_s = lost_s
        self.clear_s = clear_s
        self.start_score = start_score
        self.follow_score = follow_score
        self._track: _Track | None = None
        self._fallen: dict[str, Any] | None = None
        self._people = 0

    def update(self, seq: int, timestamp: float, observation: FallObservation | None) -> list[Event]:
        person = None
        if observation is not None:
            self._people = sum(p.score >= self.start_score for p in observation.people)
            person = self._follow(observation, timestamp)
        track = self._track
        if track is None:
            return []
        if person is None:
            return self._unseen(track, seq, timestamp)
        return self._seen(track, person, seq, timestamp)

    def _follow(self, observation: FallObservation, timestamp: float) -> PersonPose | None:
        """The followed person in this frame: nearest to where they were, or a new upright one."""
        if self._track is not None:
            track = self._track
            near = [
                p for p in observation.people
                if p.score >= self.follow_score
                and math.dist(p.hips, track.hips) <= max(track.radius, p.radius)
            ]  # fmt: skip
            if near:
                person = min(near, key=lambda p: math.dist(p.hips, track.hips))
                track.hips, track.radius, track.seen_at = (
                    (person.hips[0], person.hips[1]),
                    person.radius,
                    timestamp,
                )
                track.angle = person.angle
                return person
            return None
        upright = [
            p for p in observation.people if p.score >= self.start_score and p.angle < self.upright_angle
        ]
        if not upright:
            return None
        person = max(upright, key=lambda p: p.score)
        self._track = _Track(
            hips=(person.hips[0], person.hips[1]), radius=person.radius, seen_at=timestamp, angle=person.angle
        )
        return person

    def _seen(self, track: _Track, person: PersonPose, seq: int, timestamp: float) -> list[Event]:
        if person.angle < self.upright_angle:
            track.last_upright = (seq, timestamp)
            track.down_since = None
            track.down_scores.clear()
            track.down_frames = 0
            if track.upright_since is None:
                track.upright_since = timestamp
            return self._maybe_clear(track, seq, timestamp)
        track.upright_since = None
        if person.angle < self.lying_angle:
            # Bending, sitting, getting up: neither upright nor lying; a fall timer restarts.
            if self._fallen is None:
                track.down_since = None
                track.down_scores.clear()
                track.down_frames = 0
            return []
        return self._down(track, seq, timestamp, person.score)

    def _unseen(self, track: _Track, seq: int, timestamp: float) -> list[Event]:
        if timestamp - track.seen_at > self.lost_s:
            self._track = None
            self._fallen = None
            return []
        if track.down_since is not None and self._fallen is None:
            return self._down(track, seq, timestamp, None)
        return []

    def _down(self, track: _Track, seq: int, timestamp: float, score: float | None) -> list[Event]:
        if self._fallen is not None:
            return []
        if track.down_since is None:
            if track.last_upright is None or timestamp - track.last_upright[1] > self.descent_s:
                return []  # a slow lean, or never seen upright: not a fall
            track.down_since = (seq, timestamp)
            track.onset = (track.last_upright[0] + 1, track.last_upright[1])
        track.down_frames += 1
        if score is not None:
            track.down_scores.append(score)
        if timestamp - track.down_since[1] < self.down_s:
            return []
        assert track.onset is not None
        seen = len(track.down_scores)
        mean_score = sum(track.down_scores) / seen if seen else 0.0
        # Confidence: how sure the detector was, discounted when the person was mostly unseen.
        confidence = round(mean_score * (0.5 + 0.5 * seen / track.down_frames), 3)
        self._fallen = {
            "onset_seq": track.onset[0],
            "confidence": confidence,
            "down_seq": track.down_since[0],
        }
        details = {
            "confidence": confidence,
            "down_seq": track.down_since[0],
            "down_time": track.down_since[1],
            "detected_seq": seq,
        }
        return [Event(self.camera, ALGORITHM, "fall", track.onset[0], track.onset[1], details)]

    def _maybe_clear(self, track: _Track, seq: int, timestamp: float) -> list[Event]:
        if (
            self._fallen is None
            or track.upright_since is None
            or timestamp - track.upright_since < self.clear_s
        ):
            return []
        fallen, self._fallen = self._fallen, None
        return [
            Event(self.camera, ALGORITHM, "fall_cleared", seq, timestamp, {"onset_seq": fallen["onset_seq"]})
        ]

    def summary(self) -> dict[str, Any]:
        track = self._track
        return {
            "people": self._people,
            "following": track is not None,
            "angle": None if track is None else round(track.angle, 1),
            "fallen": self._fallen is not None,
            "fall": dict(self._fallen) if self._fallen else None,
        }


def draw(image: np.ndarray, observation: FallObservation, summary: dict[str, Any]) -> None:
    """Each person's box and body axis; a FALL banner while a fall stands."""
    fallen = bool(summary.get("fallen"))
    for person in observation.people:
        color = _draw.RED if fallen else _draw.GREEN
        _draw.box(image, person.box, f"lean {person.angle:.0f} ({person.score:.2f})", color)
        hips = (int(person.hips[0]), int(person.hips[1]))
        shoulders = (int(person.shoulders[0]), int(person.shoulders[1]))
        cv2.line(image, hips, shoulders, _draw.YELLOW, 2)
    if fallen:
        _draw.banner(image, "FALL")
