"""Faces: where they are (BlazeFace short range) and their 468-point mesh (Face Mesh).

Shared by the emotion, head-pose and blink detectors. Both models are MediaPipe's
(Apache-2.0), run with LiteRT; each detector process loads only what it needs.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import math
from typing import Any

import msgpack
import numpy as np

from vigil.detectors import _ssd
from vigil.detectors._imaging import (
    SquareCrop,
    clip_box,
    letterbox,
    rotated_crop,
    to_tensor,
)
from vigil.detectors._runtime import TFLiteModel
from vigil.errors import DetectorError

FACE_DETECTION_MODEL = "face_detection_short_range.tflite"
FACE_LANDMARK_MODEL = "face_landmark.tflite"
DEFAULT_MIN_FACE_SCORE = 0.6
DEFAULT_MIN_PRESENCE = 0.5
# MediaPipe's face graph: the mesh crop is 1.5x the detector box, rotated so the eyes are level.
MESH_CROP_SCALE = 1.5
MESH_POINTS = 468
_DETECTOR_STRIDES = (8, 16, 16, 16)
# BlazeFace keypoints: 0 right eye, 1 left eye (the person's), 2 nose, 3 mouth, 4-5 ears.
RIGHT_EYE, LEFT_EYE = 0, 1


@dataclasses.dataclass(frozen=True)
class FaceBox:
    """A detected face in image pixels.

    Attributes:
        box: [x, y, w, h] clipped to the image.
        score: detector confidence, 0..1.
        keypoints: (6, 2) float array: eyes, nose tip, mouth, ear tragions.
        centre: centre of the unclipped box.
        size: longer side of the unclipped box.
    """

    box: list[int]
    score: float
    keypoints: np.ndarray
    centre: tuple[float, float]
    size: float

    @property
    def eye_angle(self) -> float:
        """Angle of the line from the right to the left eye, radians (0 = level)."""
        (rx, ry), (lx, ly) = self.keypoints[RIGHT_EYE], self.keypoints[LEFT_EYE]
        return math.atan2(ly - ry, lx - rx)


@dataclasses.dataclass(frozen=True)
class FaceMesh:
    """A face's 468 landmarks in image pixels; z is depth in the same units (smaller = nearer)."""

    face: FaceBox
    landmarks: np.ndarray
    presence: float


class FaceFinder:
    """Finds faces with BlazeFace short range (faces within about 2 m of the camera)."""

    def __init__(self, min_score: float = DEFAULT_MIN_FACE_SCORE) -> None:
        self.model = TFLiteModel(FACE_DETECTION_MODEL)
        self.size = self.model.input_size[0]
        self.anchors = _ssd.ssd_anchors(self.size, _DETECTOR_STRIDES)
        self.min_score = min_score

    def find(self, image: np.ndarray) -> list[FaceBox]:
        """All faces in a BGR image, best first; an empty list when there is none."""
        height, width = image.shape[:2]
        boxed = letterbox(image, self.size, (-1.0, 1.0))
        out = self.model.run(boxed.tensor)
        raw = _ssd.decode(
            out["regressors"][0], out["classificators"][0], self.anchors, self.size, self.min_score
        )
        faces = []
        for det in _ssd.weighted_nms(raw):
            x0, y0, x1, y1 = (v * boxed.side for v in det.box)
            faces.append(
                FaceBox(
                    box=clip_box(x0, y0, x1, y1, width, height),
                    score=det.score,
                    keypoints=det.keypoints * boxed.side,
                    centre=((x0 + x1) / 2, (y0 + y1) / 2),
                    size=max(x1 - x0, y1 - y0),
                )
            )
        return [f for f in faces if f.box[2] > 0 and f.box[3] > 0]


class FaceLandmarker:
    """Face Mesh: 468 3D landmarks of one face, from a crop around its detector box."""

    def __init__(self, min_presence: float = DEFAULT_MIN_PRESENCE) -> None:
        self.model = TFLiteModel(FACE_LANDMARK_MODEL)
        self.size = self.model.input_size[0]
        self.min_presence = min_presence
        sizes = self.model.output_sizes
        # Outputs are told apart by size: 468 x 3 mesh values, and one face-presence logit.
        self._mesh_name = next(n for n, size in sizes.items() if size == MESH_POINTS * 3)
        self._flag_name = next(n for n, size in sizes.items() if size == 1)

    def mesh(self, image: np.ndarray, face: FaceBox) -> FaceMesh | None:
        """The mesh of ``face``, or None when the model sees no face in the crop."""
        crop = self.crop(image, face)
        out = self.model.run(to_tensor(crop.pixels, (0.0, 1.0)))
        presence = float(1.0 / (1.0 + np.exp(-float(out[self._flag_name].reshape(-1)[0]))))
        if presence < self.min_presence:
            return None
        points = out[self._mesh_name].reshape(MESH_POINTS, 3).astype(np.float64)
        return FaceMesh(face=face, landmarks=crop.to_image(points), presence=presence)

    def crop(self, image: np.ndarray, face: FaceBox) -> SquareCrop:
        """The model's input: a level square 1.5x the face box."""
        return rotated_crop(image, face.centre, face.size * MESH_CROP_SCALE, face.eye_angle, self.size)


class FaceAnalyzer:
    """Every face of a frame with its mesh: the model work emotion, head pose and blink share.

    A face whose crop Face Mesh does not confirm (presence below its threshold) is left out,
    so "a face" means the same to every algorithm.
    """

    def __init__(self) -> None:
        self.finder = FaceFinder()
        self.landmarker = FaceLandmarker()

    def meshes(self, image: np.ndarray) -> list[FaceMesh]:
        """The confirmed faces of a BGR image, in the finder's order (best first)."""
        found = (self.landmarker.mesh(image, face) for face in self.finder.find(image))
        return [mesh for mesh in found if mesh is not None]


@functools.cache
def shared_analyzer() -> FaceAnalyzer:
    """The process's one analyzer: a worker serving several face algorithms loads the models once."""
    return FaceAnalyzer()


class FaceAlgorithm(abc.ABC):
    """Base of the detectors that start from the faces (emotion, pose, blink).

    ``detect(image, faces=...)`` takes the frame's faces when another algorithm's task already
    found them (:mod:`vigil.tasks.face_share`); without them it finds them with :meth:`find_faces`.
    """

    def __init__(self) -> None:
        self.analyzer = shared_analyzer()

    def find_faces(self, image: np.ndarray) -> list[FaceMesh]:
        return self.analyzer.meshes(image)

    @abc.abstractmethod
    def detect(self, image: np.ndarray, faces: list[FaceMesh] | None = None) -> Any:
        """This algorithm's observation of ``image``, from ``faces`` when given (else it finds them)."""


def encode_meshes(meshes: list[FaceMesh]) -> bytes:
    """``meshes`` as msgpack, exactly (float64 arrays as raw bytes): a frame's faces, shared."""
    return msgpack.packb([
        {
            "box": [int(v) for v in mesh.face.box],
            "score": float(mesh.face.score),
            "keypoints": mesh.face.keypoints.astype("<f8").tobytes(),
            "centre": [float(v) for v in mesh.face.centre],
            "size": float(mesh.face.size),
            "landmarks": mesh.landmarks.astype("<f8").tobytes(),
            "presence": float(mesh.presence),
        }
        for mesh in meshes
    ])


def decode_meshes(data: bytes) -> list[FaceMesh]:
    """The meshes :func:`encode_meshes` wrote.

    Raises:
        DetectorError: ``data`` is not a list of meshes of the expected shapes.
    """
    try:
        items = msgpack.unpackb(data)
        return [_mesh_from(item) for item in items]
    except (ValueError, TypeError, KeyError, msgpack.UnpackException) as exc:
        raise DetectorError(f"shared face data is malformed: {exc}") from None


def _mesh_from(item: dict[str, Any]) -> FaceMesh:
    keypoints = np.frombuffer(item["keypoints"], dtype="<f8").reshape(-1, 2).astype(np.float64)
    landmarks = np.frombuffer(item["landmarks"], dtype="<f8").reshape(MESH_POINTS, 3).astype(np.float64)
    centre_x, centre_y = (float(v) for v in item["centre"])
    face = FaceBox(box=[int(v) for v in item["box"]], score=float(item["score"]), keypoints=keypoints,
                   centre=(centre_x, centre_y), size=float(item["size"]))
    return FaceMesh(face=face, landmarks=landmarks, presence=float(item["presence"]))
