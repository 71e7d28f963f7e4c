"""Head pose: yaw, pitch and roll of every face, and a smoothed per-camera view.

Sign convention (degrees; see :mod:`vigil.detectors._headgeometry`): yaw > 0 = face
turned toward the image's right; pitch > 0 = looking down; roll > 0 = head tilted
clockwise as seen in the image.

The rule smooths the main (largest) face's angles and raises ``looking_away`` once when
the head stays turned past a limit, and ``looking_back`` when it returns.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import cv2
import numpy as np

from vigil.detectors import _draw
from vigil.detectors._headgeometry import head_angles
from vigil.detectors.base import Event
from vigil.detectors.faces import FaceFinder, FaceLandmarker

ALGORITHM = "pose"


@dataclasses.dataclass(frozen=True)
class HeadPose:
    """One face's head pose: box [x, y, w, h] in pixels, detector score, angles in degrees."""

    box: list[int]
    score: float
    yaw: float
    pitch: float
    roll: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HeadPose:
        return cls(
            box=[int(v) for v in data["box"]],
            score=float(data["score"]),
            yaw=float(data["yaw"]),
            pitch=float(data["pitch"]),
            roll=float(data["roll"]),
        )


@dataclasses.dataclass(frozen=True)
class HeadPoseObservation:
    """The head poses in one frame, largest face first (empty when there is no face)."""

    faces: tuple[HeadPose, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"faces": [face.to_dict() for face in self.faces]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HeadPoseObservation:
        return cls(faces=tuple(HeadPose.from_dict(face) for face in data.get("faces", ())))


def _round(value: float) -> float:
    return round(float(value), 2)


class HeadPoseDetector:
    """BlazeFace finds the faces, Face Mesh gives 3D landmarks, the mesh's axes give the angles."""

    name: ClassVar[str] = ALGORITHM

    def __init__(self) -> None:
        self.finder = FaceFinder()
        self.landmarker = FaceLandmarker()

    def detect(self, image: np.ndarray) -> HeadPoseObservation:
        poses = []
        for face in self.finder.find(image):
            mesh = self.landmarker.mesh(image, face)
            if mesh is None:
                continue
            yaw, pitch, roll = head_angles(mesh.landmarks)
            poses.append(HeadPose(face.box, _round(face.score), _round(yaw), _round(pitch), _round(roll)))
        poses.sort(key=lambda p: p.box[2] * p.box[3], reverse=True)
        return HeadPoseObservation(faces=tuple(poses))


def _wrap(degrees: float) -> float:
    """An angle difference brought into [-180, 180)."""
    return (degrees + 180.0) % 360.0 - 180.0


class HeadPoseRule:
    """Smooths the main face's angles; raises ``looking_away`` when it stays turned away.

    Args:
        camera: camera name.
        alpha: weight of the newest frame in the exponential smoothing (1 = none).
        away_yaw: |yaw| beyond this (degrees) counts as looking away.
        away_pitch: |pitch| beyond this counts as looking away.
        away_s: how long the head must stay away before the event.
        hold_s: how long to keep the last pose through missing frames or lost faces.
    """

    def __init__(
        self,
        camera: str,
        *,
        alpha: float = 0.5,
        away_yaw: float = 35.0,
        away_pitch: float = 30.0,
        away_s: float = 2.0,
        hold_s: float = 0.5,
    ) -> None:
        self.camera = camera
        self.alpha = alpha
        self.away_yaw = away_yaw
        self.away_pitch = away_pitch
        self.away_s = away_s
        self.hold_s = hold_s
        self._angles: tuple[float, float, float] | None = None
        self._seen_at = -math.inf
        self._away_since: tuple[int, float] | None = None
        self._away_reported = False
        self._faces = 0

    def update(self, seq: int, timestamp: float, observation: HeadPoseObservation | None) -> list[Event]:
        if observation is None or not observation.faces:
            if observation is not None:
                self._faces = 0
            if timestamp - self._seen_at > self.hold_s:
                self._angles = None
                return self._leave_away(seq, timestamp)
            return []
        self._faces = len(observation.faces)
        self._seen_at = timestamp
        self._angles = self._smooth(observation.faces[0])
        return self._check_away(seq, timestamp)

    def _smooth(self, face: HeadPose) -> tuple[float, float, float]:
        new = (face.yaw, face.pitch, face.roll)
        if self._angles is None:
            return new
        # Step along the short way round, so a roll near +-180 never swings through 0.
        return tuple(  # type: ignore[return-value]
            _wrap(old + self.alpha * _wrap(value - old)) for old, value in zip(self._angles, new)
        )

    def _check_away(self, seq: int, timestamp: float) -> list[Event]:
        assert self._angles is not None
        yaw, pitch, _ = self._angles
        if abs(yaw) <= self.away_yaw and abs(pitch) <= self.away_pitch:
            return self._leave_away(seq, timestamp)
        if self._away_since is None:
            self._away_since = (seq, timestamp)
        start_seq, start_time = self._away_since
        if not self._away_reported and timestamp - start_time >= self.away_s:
            self._away_reported = True
            details = {"yaw": _round(yaw), "pitch": _round(pitch)}
            return [Event(self.camera, ALGORITHM, "looking_away", start_seq, start_time, details)]
        return []

    def _leave_away(self, seq: int, timestamp: float) -> list[Event]:
        events = []
        if self._away_reported and self._away_since is not None:
            duration = timestamp - self._away_since[1]
            events.append(
                Event(self.camera, ALGORITHM, "looking_back", seq, timestamp, {"away_s": _round(duration)})
            )
        self._away_since = None
        self._away_reported = False
        return events

    def summary(self) -> dict[str, Any]:
        angles = self._angles
        return {
            "faces": self._faces,
            "yaw": None if angles is None else _round(angles[0]),
            "pitch": None if angles is None else _round(angles[1]),
            "roll": None if angles is None else _round(angles[2]),
            "looking_away": self._away_reported,
        }


def draw(image: np.ndarray, observation: HeadPoseObservation, summary: dict[str, Any]) -> None:
    """Each face's box with its angles, and an arrow showing where the main face points."""
    for face in observation.faces:
        _draw.box(image, face.box, f"yaw {face.yaw:+.0f} pitch {face.pitch:+.0f} roll {face.roll:+.0f}", row=1)
    if observation.faces and summary.get("yaw") is not None:
        x, y, w, h = observation.faces[0].box
        centre = (x + w // 2, y + h // 2)
        length = w * 0.8
        dx = length * math.sin(math.radians(summary["yaw"]))
        dy = length * math.sin(math.radians(summary["pitch"]))
        color = _draw.RED if summary.get("looking_away") else _draw.YELLOW
        cv2.arrowedLine(image, centre, (int(centre[0] + dx), int(centre[1] + dy)), color, 2, tipLength=0.2)
