"""Head pose: yaw, pitch and roll of every face, and a smoothed per-camera view.

Sign convention (degrees; see :mod:`vigil.detectors._headgeometry`): yaw > 0 = face
turned toward the image's right; pitch > 0 = looking down; roll > 0 = head tilted
clockwise as seen in the image.

The rule smooths the main (largest) face's angles; a ``looking_away`` condition holds from
the moment the head turned past a limit, once it stayed there ``away_s``, until it is back.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import cv2
import numpy as np

from vigil.detectors import _draw
from vigil.detectors._headgeometry import head_angles
from vigil.detectors.base import Condition
from vigil.detectors.faces import FaceAlgorithm, FaceMesh
from vigil.detectors.marks import Mark
from vigil.detectors.options import HeadPoseOptions

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


class HeadPoseDetector(FaceAlgorithm):
    """BlazeFace finds the faces, Face Mesh gives 3D landmarks, the mesh's axes give the angles."""

    name: ClassVar[str] = ALGORITHM

    def detect(self, image: np.ndarray, faces: list[FaceMesh] | None = None) -> HeadPoseObservation:
        """Head poses in ``image``; ``faces``: its meshes when another algorithm already found them."""
        poses = []
        for mesh in self.find_faces(image) if faces is None else faces:
            face = mesh.face
            yaw, pitch, roll = head_angles(mesh.landmarks)
            poses.append(HeadPose(face.box, _round(face.score), _round(yaw), _round(pitch), _round(roll)))
        poses.sort(key=lambda p: p.box[2] * p.box[3], reverse=True)
        return HeadPoseObservation(faces=tuple(poses))


def _wrap(degrees: float) -> float:
    """An angle difference brought into [-180, 180)."""
    return (degrees + 180.0) % 360.0 - 180.0


class HeadPoseRule:
    """Smooths the main face's angles; a ``looking_away`` condition while it stays turned away.

    Args:
        camera: camera name.
        options: thresholds (:class:`~vigil.detectors.options.HeadPoseOptions` documents each).
    """

    def __init__(self, camera: str, options: HeadPoseOptions | None = None) -> None:
        self.camera = camera
        self.options = o = options or HeadPoseOptions()
        self.alpha = o.alpha
        self.away_yaw = o.away_yaw
        self.away_pitch = o.away_pitch
        self.away_s = o.away_s
        self.hold_s = o.hold_s
        self._angles: tuple[float, float, float] | None = None
        self._seen_at = -math.inf
        self._away_since: tuple[int, float] | None = None
        self._away_reported = False
        self._faces = 0

    def update(self, seq: int, timestamp: float, observation: HeadPoseObservation | None) -> list[Condition]:
        if observation is None or not observation.faces:
            if observation is not None:
                self._faces = 0
            if timestamp - self._seen_at > self.hold_s:
                self._angles = None
                self._leave_away()
            return self._conditions(timestamp)
        self._faces = len(observation.faces)
        self._seen_at = timestamp
        self._angles = self._smooth(observation.faces[0])
        self._check_away(seq, timestamp)
        return self._conditions(timestamp)

    def _smooth(self, face: HeadPose) -> tuple[float, float, float]:
        new = (face.yaw, face.pitch, face.roll)
        if self._angles is None:
            return new
        # Step along the short way round, so a roll near +-180 never swings through 0.
        return tuple(  # type: ignore[return-value]
            _wrap(old + self.alpha * _wrap(value - old)) for old, value in zip(self._angles, new)
        )

    def _check_away(self, seq: int, timestamp: float) -> None:
        assert self._angles is not None
        yaw, pitch, _ = self._angles
        if abs(yaw) <= self.away_yaw and abs(pitch) <= self.away_pitch:
            self._leave_away()
            return
        if self._away_since is None:
            self._away_since = (seq, timestamp)
        if timestamp - self._away_since[1] >= self.away_s:
            self._away_reported = True

    def _leave_away(self) -> None:
        self._away_since = None
        self._away_reported = False

    def _conditions(self, timestamp: float) -> list[Condition]:
        if not self._away_reported or self._away_since is None:
            return []
        details: dict[str, Any] = {"away_s": _round(timestamp - self._away_since[1])}
        if self._angles is not None:
            details.update(yaw=_round(self._angles[0]), pitch=_round(self._angles[1]))
        return [Condition("looking_away", 0, *self._away_since, self.options.severity, 1.0, details)]

    def summary(self) -> dict[str, Any]:
        angles = self._angles
        return {
            "faces": self._faces,
            "yaw": None if angles is None else _round(angles[0]),
            "pitch": None if angles is None else _round(angles[1]),
            "roll": None if angles is None else _round(angles[2]),
            "looking_away": self._away_reported,
        }


def marks(observation: HeadPoseObservation, summary: dict[str, Any]) -> list[Mark]:
    """Each face's yaw and pitch; the main face in the alarm colour while it looks away."""
    away = bool(summary.get("looking_away"))
    return [Mark.of(face.box, f"yaw {face.yaw:+.0f} pitch {face.pitch:+.0f}", alert=away and index == 0)
            for index, face in enumerate(observation.faces)]


def draw(image: np.ndarray, observation: HeadPoseObservation, summary: dict[str, Any]) -> None:
    """An arrow showing where the main face points (its box and angles come from ``marks``)."""
    if observation.faces and summary.get("yaw") is not None:
        x, y, w, h = observation.faces[0].box
        centre = (x + w // 2, y + h // 2)
        length = w * 0.8
        dx = length * math.sin(math.radians(summary["yaw"]))
        dy = length * math.sin(math.radians(summary["pitch"]))
        color = _draw.RED if summary.get("looking_away") else _draw.YELLOW
        cv2.arrowedLine(image, centre, (int(centre[0] + dx), int(centre[1] + dy)), color, 2, tipLength=0.2)
