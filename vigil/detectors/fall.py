"""Falls: each frame, every body's axis; per camera, every person's upright -> fast descent -> down.

The detector reports, for every body BlazePose's detector finds, how far the
hips -> shoulders axis leans from vertical and where the hips are, plus a tiny gray
thumbnail of the frame; it keeps no state. One frame cannot tell a fall from someone
bending or sitting down, nor a person from a chair, so the per-camera rule tracks every
body (``tracking.py``), trusts only those that have moved like a person, holds its
decisions while the camera itself moves (``camera_motion.py``, from the thumbnails),
and runs the fall sequence per track (``fall_sequence.py``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import cv2
import numpy as np

from vigil.detectors import _draw
from vigil.detectors._imaging import clip_box
from vigil.detectors.base import Event
from vigil.detectors.bodies import BodyFinder
from vigil.detectors.camera_motion import CameraMotion, thumbnail
from vigil.detectors.fall_sequence import Completed, FallSequence, Seen, Thresholds
from vigil.detectors.tracking import Track, Tracker

ALGORITHM = "fall"
# Report weak detections too: the rule needs them to follow a person who is on the floor.
DETECTOR_MIN_SCORE = 0.3
# A detection whose body radius is below this share of its track's smoothed radius is a
# misread (the radius collapses to a few pixels on some frames, with hips and lean from
# somewhere else): it is no evidence of upright or lying, as if the body were not seen.
SHRUNK_SHARE = 0.25


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
    """Everyone in one frame, best score first (empty when there is nobody), and the frame size.

    ``thumb`` is the frame as a 32 x 24 gray thumbnail (base64, 1 KB) from which the
    rule tells camera motion from people moving; None in observations from before it
    existed, and then the rule assumes a still camera.
    """

    width: int
    height: int
    people: tuple[PersonPose, ...] = ()
    thumb: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "height": self.height,
            "people": [p.to_dict() for p in self.people],
            "thumb": self.thumb,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FallObservation:
        thumb = data.get("thumb")
        return cls(
            width=int(data["width"]),
            height=int(data["height"]),
            people=tuple(PersonPose.from_dict(p) for p in data.get("people", ())),
            thumb=None if thumb is None else str(thumb),
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
        return FallObservation(width=width, height=height, people=tuple(people), thumb=thumbnail(image))


class FallRule:
    """Follows every body; one ``fall`` event per person for upright -> fast descent -> down.

    ``fall_cleared`` follows when that person is upright again. Each event names the
    track (``details["track"]``, a small int stable within this rule). Falls are decided
    only for tracks that have moved like a person (``vigil.detectors.tracking``) and never
    while the camera itself moves (``vigil.detectors.camera_motion``).

    Args:
        camera: camera name.
        upright_angle: a lean below this (degrees) is upright.
        lying_angle: a lean at or beyond this is lying (or falling).
        descent_s: the lean must pass ``lying_angle`` within this long of the last
            upright frame (a slow lean is not a fall).
        down_s: the person must still be seen lying this long after the descent.
        drop_radii: the hips must drop this many body radii below where they were
            when last upright (bending over and lying down on a bed do not drop them).
        lost_s: a body unseen this long is forgotten.
        clear_s: upright this long after a fall clears it.
        start_score: detector score needed to start following a body (and to count its
            movement as a person's).
        follow_score: detector score needed to keep following it.
        move_radii: a body becomes a person once its hips travel this many body radii
            while the camera is still (a chair or a coat never does).
        moving_share: share of the background that must change within 0.2 s for the
            camera to count as moving.
        settle_s: decisions stay held this long after the camera stops.
    """

    def __init__(
        self,
        camera: str,
        *,
        upright_angle: float = 30.0,
        lying_angle: float = 50.0,
        descent_s: float = 1.0,
        down_s: float = 1.0,
        drop_radii: float = 0.2,
        lost_s: float = 3.0,
        clear_s: float = 1.0,
        start_score: float = 0.5,
        follow_score: float = DETECTOR_MIN_SCORE,
        move_radii: float = 0.5,
        moving_share: float = 0.2,
        settle_s: float = 0.5,
    ) -> None:
        self.camera = camera
        self.thresholds = Thresholds(
            upright_angle=upright_angle,
            lying_angle=lying_angle,
            descent_s=descent_s,
            down_s=down_s,
            drop_radii=drop_radii,
            clear_s=clear_s,
        )
        self.tracker = Tracker(
            start_score=start_score, follow_score=follow_score, lost_s=lost_s, move_radii=move_radii
        )
        self.motion = CameraMotion(moving_share=moving_share, settle_s=settle_s)
        self._sequences: dict[int, FallSequence] = {}
        self._seen: list[tuple[Track, PersonPose | None]] = []
        self._moving = False

    def update(self, seq: int, timestamp: float, observation: FallObservation | None) -> list[Event]:
        if observation is None:
            return []  # the result never arrived: no evidence about anyone
        people = observation.people
        self._moving = self.motion.update(
            timestamp, observation.thumb, [p.box for p in people], (observation.width, observation.height)
        )
        self._seen = self.tracker.update(people, timestamp, self._moving)  # type: ignore[assignment]
        events: list[Event] = []
        sequences = {}
        for track, person in self._seen:
            sequence = self._sequences.get(track.id) or FallSequence(self.thresholds)
            sequences[track.id] = sequence
            if self._moving:
                sequence.hold()
                continue
            fallen = sequence.fallen
            seen = None
            if person is not None and person.radius >= SHRUNK_SHARE * track.scale:
                seen = Seen(person.angle, person.hips[1], track.scale, person.score)
            outcome = sequence.step(seq, timestamp, seen)
            if isinstance(outcome, Completed) and not track.person:
                sequence.fallen = None  # not (yet) known to be a person: no decision
            elif isinstance(outcome, Completed):
                events.append(self._fall_event(track, outcome, seq))
            elif outcome == "cleared" and fallen is not None:
                details = {"onset_seq": fallen["onset_seq"], "track": track.id}
                events.append(Event(self.camera, ALGORITHM, "fall_cleared", seq, timestamp, details))
        self._sequences = sequences  # a lost track's sequence goes with it
        return events

    def _fall_event(self, track: Track, done: Completed, seq: int) -> Event:
        details = {
            "confidence": done.confidence,
            "down_seq": done.down[0],
            "down_time": done.down[1],
            "detected_seq": seq,
            "track": track.id,
        }
        return Event(self.camera, ALGORITHM, "fall", done.onset[0], done.onset[1], details)

    def summary(self) -> dict[str, Any]:
        people = [(track, person) for track, person in self._seen if track.person]
        fallen = [
            (track.id, dict(self._sequences[track.id].fallen or {}))
            for track, _ in self._seen
            if self._sequences[track.id].fallen
        ]
        angle = next((p.angle for _, p in people if p is not None), None)
        return {
            "people": sum(p is not None for _, p in people),
            "following": bool(people),
            "angle": None if angle is None else round(angle, 1),
            "camera_moving": self._moving,
            "fallen": bool(fallen),
            "fall": {**fallen[0][1], "track": fallen[0][0]} if fallen else None,
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
