"""Blinks: per-face eye openness each frame; blinks counted and drowsiness (``drowsy``) per person.

The detector reports the eye aspect ratio (EAR: eyelid gap over eye width, averaged over
three lid pairs) of each eye, measured on MediaPipe's refined eye contour (see
:mod:`vigil.detectors.eyes`). EAR differs from person to person and with the camera, so
the rule compares it with each person's own running median of open-eye values rather
than a fixed number. A closure shorter than
``closure_s`` is a blink; a longer one is a long closure, never blinks. Both are counted
in the summary and kept in the rule's :attr:`BlinkRule.history`, never events. A
``drowsy`` condition holds while someone's eyes have been closed ``drowsy_closed_s`` or
longer, or while their PERCLOS (share of the last ``perclos_window_s`` with eyes closed)
is above ``perclos_threshold``.
"""

from __future__ import annotations

import collections
import dataclasses
import statistics
from typing import Any, ClassVar

import numpy as np

from vigil.detectors import _draw
from vigil.detectors.base import Condition
from vigil.detectors.eyes import EyeContourFinder, eye_aspect_ratio
from vigil.detectors.faces import FaceAlgorithm, FaceMesh
from vigil.detectors.marks import Mark
from vigil.detectors.options import BlinkOptions

ALGORITHM = "blink"
HISTORY = 1000  # blinks and long closures kept in BlinkRule.history


@dataclasses.dataclass(frozen=True)
class EyeState:
    """One face's eye openness: box [x, y, w, h] in pixels, score, EAR of each eye and their mean."""

    box: list[int]
    score: float
    ear_left: float
    ear_right: float

    @property
    def ear(self) -> float:
        return (self.ear_left + self.ear_right) / 2

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "ear": round(self.ear, 4)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EyeState:
        return cls(
            box=[int(v) for v in data["box"]],
            score=float(data["score"]),
            ear_left=float(data["ear_left"]),
            ear_right=float(data["ear_right"]),
        )


@dataclasses.dataclass(frozen=True)
class BlinkObservation:
    """Eye openness of every face in one frame, largest first (empty when there is none)."""

    faces: tuple[EyeState, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"faces": [face.to_dict() for face in self.faces]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BlinkObservation:
        return cls(faces=tuple(EyeState.from_dict(face) for face in data.get("faces", ())))


class BlinkDetector(FaceAlgorithm):
    """BlazeFace + Face Mesh (eye corners) + the iris model (eyelids), for every face."""

    name: ClassVar[str] = ALGORITHM

    def __init__(self) -> None:
        super().__init__()
        self.eyes = EyeContourFinder()

    def detect(self, image: np.ndarray, faces: list[FaceMesh] | None = None) -> BlinkObservation:
        """Eye openness of every face; ``faces``: its meshes when another algorithm already found them."""
        states = []
        for mesh in self.find_faces(image) if faces is None else faces:
            states.append(
                EyeState(
                    box=mesh.face.box,
                    score=round(mesh.face.score, 3),
                    ear_left=round(eye_aspect_ratio(self.eyes.contour(image, mesh.landmarks, False)), 4),
                    ear_right=round(eye_aspect_ratio(self.eyes.contour(image, mesh.landmarks, True)), 4),
                )
            )
        states.sort(key=lambda f: f.box[2] * f.box[3], reverse=True)
        return BlinkObservation(faces=tuple(states))


@dataclasses.dataclass
class _Person:
    """One tracked face: its open-eye reference and its current closure."""

    ident: int
    box: list[int]
    seen_at: float
    first_seen: float
    open_ears: collections.deque[tuple[float, float]] = dataclasses.field(default_factory=collections.deque)
    closed_since: tuple[int, float] | None = None
    lowest: float = 0.0
    closure_reported: bool = False
    ear: float = 0.0
    threshold: float | None = None
    blink_times: collections.deque[float] = dataclasses.field(default_factory=collections.deque)
    blinks: int = 0
    # (time, eyes closed) of every frame seen within the PERCLOS window
    eye_frames: collections.deque[tuple[float, bool]] = dataclasses.field(default_factory=collections.deque)
    closed_frames: int = 0  # how many of eye_frames had the eyes closed
    perclos: float | None = None
    perclos_since: tuple[int, float] | None = None

    @property
    def centre(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + w / 2, y + h / 2


@dataclasses.dataclass(frozen=True)
class BlinkRecord:
    """A blink or a long closure, as the rule decided it (what the evaluation scores).

    ``kind`` is ``blink`` or ``closure``; a closure's ``end_seq`` is the frame it was
    recognised as long (it may still go on).
    """

    kind: str
    person: int
    start_seq: int
    end_seq: int
    duration_s: float


class BlinkRule:
    """Per-person blinks (counted, rated) and ``drowsy`` conditions from eye aspect ratios.

    Args:
        camera: camera name.
        options: thresholds (:class:`~vigil.detectors.options.BlinkOptions` documents each).
            ``ratio``: eyes count as closed when EAR < ``ratio`` x the person's open-eye
            median (closed eyes measure about 0.3-0.5 of it on the refined contour; a smile
            or a squint about 0.7-0.9). ``reopen_ratio``: open again when EAR >=
            ``reopen_ratio`` x that median, or above halfway from the closure's lowest EAR
            back to the median (hysteresis, so a noisy frame does not split one blink in
            two; the halfway mark lets a blink end while a smile keeps the eyes narrower).
    """

    def __init__(self, camera: str, options: BlinkOptions | None = None) -> None:
        self.camera = camera
        self.options = o = options or BlinkOptions()
        self.ratio = o.ratio
        self.reopen_ratio = o.reopen_ratio
        self.window_s = o.window_s
        self.warmup_s = o.warmup_s
        self.closure_s = o.closure_s
        self.hold_s = o.hold_s
        self.forget_s = o.forget_s
        self.history: collections.deque[BlinkRecord] = collections.deque(maxlen=HISTORY)
        self._people: list[_Person] = []
        self._next_id = 1
        self._now = 0.0

    def update(self, seq: int, timestamp: float, observation: BlinkObservation | None) -> list[Condition]:
        self._now = timestamp
        if observation is not None:
            for face, person in self._match(observation.faces, timestamp):
                self._step(person, face, seq, timestamp)
                self._perclos(person, seq, timestamp)
        for person in self._people:
            # A closure we cannot see the end of (lost frames, face gone) is not a blink.
            if person.closed_since is not None and timestamp - person.seen_at > self.hold_s:
                person.closed_since = None
                person.closure_reported = False
        self._people = [p for p in self._people if timestamp - p.seen_at <= self.forget_s]
        return self._conditions(timestamp)

    def _perclos(self, person: _Person, seq: int, timestamp: float) -> None:
        o = self.options
        frames = person.eye_frames
        closed = person.closed_since is not None
        frames.append((timestamp, closed))
        person.closed_frames += closed
        while timestamp - frames[0][0] > o.perclos_window_s:
            person.closed_frames -= frames.popleft()[1]
        watched = timestamp - max(frames[0][0], person.first_seen)
        if watched < o.perclos_min_s:
            person.perclos, person.perclos_since = None, None
            return
        person.perclos = person.closed_frames / len(frames)
        if person.perclos <= o.perclos_threshold:
            person.perclos_since = None
        elif person.perclos_since is None:
            person.perclos_since = (seq, timestamp)

    def _conditions(self, timestamp: float) -> list[Condition]:
        o = self.options
        conditions = []
        for p in self._people:
            if p.closed_since is not None and timestamp - p.closed_since[1] >= o.drowsy_closed_s:
                closed_s = round(timestamp - p.closed_since[1], 3)
                details = {"person": p.ident, "reason": "eyes_closed", "closed_s": closed_s}
                conditions.append(Condition("drowsy", p.ident, *p.closed_since, o.severity, 1.0, details))
            if p.perclos_since is not None and p.perclos is not None:
                details = {"person": p.ident, "reason": "perclos", "perclos": round(p.perclos, 3)}
                score = min(1.0, p.perclos / (2 * o.perclos_threshold))
                conditions.append(Condition("drowsy", p.ident, *p.perclos_since, o.severity, score, details))
        return conditions

    def _match(self, faces: tuple[EyeState, ...], timestamp: float) -> list[tuple[EyeState, _Person]]:
        """Pair each face with the nearest known person (within one face width), or a new one."""
        pairs = []
        free = list(self._people)
        for face in faces:
            x, y, w, h = face.box
            centre = (x + w / 2, y + h / 2)
            best = min(
                free,
                key=lambda p: (p.centre[0] - centre[0]) ** 2 + (p.centre[1] - centre[1]) ** 2,
                default=None,
            )
            if best is not None and abs(best.centre[0] - centre[0]) + abs(best.centre[1] - centre[1]) <= w:
                free.remove(best)
            else:
                best = _Person(ident=self._next_id, box=face.box, seen_at=timestamp, first_seen=timestamp)
                self._next_id += 1
                self._people.append(best)
            best.box = face.box
            best.seen_at = timestamp
            pairs.append((face, best))
        return pairs

    def _step(self, person: _Person, face: EyeState, seq: int, timestamp: float) -> None:
        ear = face.ear
        person.ear = ear
        while person.open_ears and timestamp - person.open_ears[0][0] > self.window_s:
            person.open_ears.popleft()
        warm = bool(person.open_ears) and timestamp - person.first_seen >= self.warmup_s
        reference = statistics.median(e for _, e in person.open_ears) if person.open_ears else ear
        person.threshold = self.ratio * reference if warm else None
        if person.closed_since is None:
            if warm and ear < self.ratio * reference:
                person.closed_since = (seq, timestamp)
                person.lowest = ear
                return
            person.open_ears.append((timestamp, ear))  # only open eyes teach the reference
            return
        person.lowest = min(person.lowest, ear)
        reopen_at = min(self.reopen_ratio * reference, (person.lowest + reference) / 2)
        if ear >= max(reopen_at, self.ratio * reference):
            self._reopen(person, seq, timestamp, ear)
            return
        start_seq, start_time = person.closed_since
        if not person.closure_reported and timestamp - start_time >= self.closure_s:
            person.closure_reported = True
            duration = round(timestamp - start_time, 3)
            self.history.append(BlinkRecord("closure", person.ident, start_seq, seq, duration))

    def _reopen(self, person: _Person, seq: int, timestamp: float, ear: float) -> None:
        assert person.closed_since is not None
        start_seq, start_time = person.closed_since
        long_closure = person.closure_reported
        person.closed_since = None
        person.closure_reported = False
        person.open_ears.append((timestamp, ear))
        if long_closure:
            return
        person.blinks += 1
        person.blink_times.append(timestamp)
        duration = round(timestamp - start_time, 3)
        self.history.append(BlinkRecord("blink", person.ident, start_seq, seq - 1, duration))

    def _per_minute(self, person: _Person) -> float:
        while person.blink_times and self._now - person.blink_times[0] > 60.0:
            person.blink_times.popleft()
        span = min(60.0, self._now - person.first_seen)
        return round(len(person.blink_times) * 60.0 / span, 1) if span >= 5.0 else 0.0

    def summary(self) -> dict[str, Any]:
        people = [
            {
                "person": p.ident,
                "ear": round(p.ear, 4),
                "threshold": None if p.threshold is None else round(p.threshold, 4),
                "closed": p.closed_since is not None,
                "eyes_closed": p.closure_reported,
                "blinks": p.blinks,
                "blinks_per_minute": self._per_minute(p),
                "perclos": None if p.perclos is None else round(p.perclos, 3),
            }
            for p in self._people
        ]
        main = people[0] if people else None
        return {
            "faces": len(people),
            "blinks": main["blinks"] if main else 0,
            "blinks_per_minute": main["blinks_per_minute"] if main else 0.0,
            "eyes_closed": any(p["eyes_closed"] for p in people),
            "drowsy": bool(self._conditions(self._now)),
            "people": people,
        }


def marks(observation: BlinkObservation, summary: dict[str, Any]) -> list[Mark]:
    """Each face's eye aspect ratio; the main face in the alarm colour while its eyes stay closed."""
    closed = bool(summary.get("eyes_closed") or summary.get("drowsy"))
    return [Mark.of(face.box, f"EAR {face.ear:.2f}", alert=closed and index == 0)
            for index, face in enumerate(observation.faces)]


def draw(image: np.ndarray, observation: BlinkObservation, summary: dict[str, Any]) -> None:
    """Blink count and rate; a banner while eyes stay closed (each face's EAR comes from ``marks``)."""
    _draw.label(
        image,
        f"blinks {summary.get('blinks', 0)}  {summary.get('blinks_per_minute', 0.0):.0f}/min",
        (4, image.shape[0] - 8 - 2 * _draw.line_height(image)),  # above the streamer's status line
    )
    if summary.get("drowsy"):
        _draw.banner(image, "DROWSY", _draw.RED)
    elif summary.get("eyes_closed"):
        _draw.banner(image, "EYES CLOSED", _draw.YELLOW)
