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
from vigil.detectors.base import Condition
from vigil.detectors.bodies import BodyFinder
from vigil.detectors.camera_motion import CameraMotion, thumbnail
from vigil.detectors.fall_sequence import Completed, FallSequence, Seen, Thresholds
from vigil.detectors.marks import BODY, Mark
from vigil.detectors.options import FallOptions
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
    """BlazePose's person detector; about 10 ms a frame at any frame size (224 x 224 input).

    ``min_side``: the task may decode the JPEG reduced down to this longer side (the model's
    input); ``detect`` then gets the frame's full size and answers in full-size pixels.
    """

    name: ClassVar[str] = ALGORITHM

    def __init__(self) -> None:
        self.finder = BodyFinder(min_score=DETECTOR_MIN_SCORE)
        self.min_side = self.finder.size

    def detect(self, image: np.ndarray, full_size: tuple[int, int] | None = None) -> FallObservation:
        """Everyone in ``image``; with ``full_size`` (width, height) ``image`` is that frame reduced."""
        height, width = image.shape[:2]
        scale = 1.0
        if full_size is not None and full_size[0] != width:
            scale = full_size[0] / width
            width, height = full_size
        people = []
        for body in self.finder.find(image):
            hx, hy = body.hips[0] * scale, body.hips[1] * scale
            r = body.body_radius * scale
            people.append(
                PersonPose(
                    box=clip_box(hx - r, hy - r, hx + r, hy + r, width, height),
                    score=round(body.score, 3),
                    angle=round(body.axis_angle, 1),
                    hips=[round(hx, 1), round(hy, 1)],
                    shoulders=[round(body.shoulders[0] * scale, 1), round(body.shoulders[1] * scale, 1)],
                    radius=round(r, 1),
                )
            )
        return FallObservation(width=width, height=height, people=tuple(people), thumb=thumbnail(image))


class FallRule:
    """Follows every body; a ``fall`` condition per person from upright -> fast descent -> down until up again.

    The condition starts at the fall's onset (the frame after the last upright one), holds
    while that person is down and clears when they have been upright ``clear_s`` (or their
    track is lost). Its severity is ``warning``, ``critical`` once down ``critical_after_s``.
    ``details["track"]`` names the person (a small int stable within this rule). Falls are
    decided only for tracks that have moved like a person (``vigil.detectors.tracking``) and
    never while the camera itself moves (``vigil.detectors.camera_motion``).

    Args:
        camera: camera name.
        options: thresholds (:class:`~vigil.detectors.options.FallOptions` documents each).
    """

    def __init__(self, camera: str, options: FallOptions | None = None) -> None:
        self.camera = camera
        self.options = o = options or FallOptions()
        self.thresholds = Thresholds(
            upright_angle=o.upright_angle,
            lying_angle=o.lying_angle,
            descent_s=o.descent_s,
            down_s=o.down_s,
            drop_radii=o.drop_radii,
            clear_s=o.clear_s,
        )
        self.tracker = Tracker(
            start_score=o.start_score, follow_score=o.follow_score, lost_s=o.lost_s, move_radii=o.move_radii
        )
        self.motion = CameraMotion(moving_share=o.moving_share, settle_s=o.settle_s)
        self._sequences: dict[int, FallSequence] = {}
        self._falls: dict[int, dict[str, Any]] = {}  # track id -> the fall it is down from
        self._seen: list[tuple[Track, PersonPose | None]] = []
        self._moving = False

    def update(self, seq: int, timestamp: float, observation: FallObservation | None) -> list[Condition]:
        if observation is None:
            return self._conditions(timestamp)  # the result never arrived: no evidence about anyone
        people = observation.people
        self._moving = self.motion.update(
            timestamp, observation.thumb, [p.box for p in people], (observation.width, observation.height)
        )
        self._seen = self.tracker.update(people, timestamp, self._moving)  # type: ignore[assignment]
        sequences = {}
        for track, person in self._seen:
            sequence = self._sequences.get(track.id) or FallSequence(self.thresholds)
            sequences[track.id] = sequence
            if self._moving:
                sequence.hold()
                continue
            seen = None
            if person is not None and person.radius >= SHRUNK_SHARE * track.scale:
                seen = Seen(person.angle, person.hips[1], track.scale, person.score)
            outcome = sequence.step(seq, timestamp, seen)
            if isinstance(outcome, Completed) and not track.person:
                sequence.fallen = None  # not (yet) known to be a person: no decision
            elif isinstance(outcome, Completed):
                self._falls[track.id] = self._fall_details(track, outcome, seq)
        self._sequences = sequences  # a lost track's sequence goes with it
        self._falls = {t: f for t, f in self._falls.items() if t in sequences and sequences[t].fallen}
        return self._conditions(timestamp)

    def _fall_details(self, track: Track, done: Completed, seq: int) -> dict[str, Any]:
        return {
            "onset": done.onset,
            "confidence": done.confidence,
            "down_seq": done.down[0],
            "down_time": done.down[1],
            "detected_seq": seq,
            "track": track.id,
        }

    def _conditions(self, timestamp: float) -> list[Condition]:
        conditions = []
        for track_id, fall in self._falls.items():
            (onset_seq, onset_time), details = fall["onset"], {k: v for k, v in fall.items() if k != "onset"}
            down_for = timestamp - fall["down_time"]
            critical = timestamp - onset_time >= self.options.critical_after_s
            conditions.append(
                Condition(
                    kind="fall", subject=track_id, start_seq=onset_seq, start=onset_time,
                    severity="critical" if critical else "warning", score=fall["confidence"],
                    details={**details, "down_s": round(down_for, 3)},
                )  # fmt: skip
            )
        return conditions

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


def marks(observation: FallObservation, summary: dict[str, Any]) -> list[Mark]:
    """Each body with how far it leans; all in the alarm colour while a fall stands."""
    fallen = bool(summary.get("fallen"))
    return [Mark.of(person.box, f"lean {person.angle:.0f} ({person.score:.2f})", BODY, fallen)
            for person in observation.people]


def draw(image: np.ndarray, observation: FallObservation, summary: dict[str, Any]) -> None:
    """Each body's axis (its box and label come from ``marks``); a FALL banner while a fall stands."""
    fallen = bool(summary.get("fallen"))
    for person in observation.people:
        hips = (int(person.hips[0]), int(person.hips[1]))
        shoulders = (int(person.shoulders[0]), int(person.shoulders[1]))
        cv2.line(image, hips, shoulders, _draw.YELLOW, 2)
    if fallen:
        _draw.banner(image, "FALL")
