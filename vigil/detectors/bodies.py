"""People: BlazePose's person detector, with the body axis it predicts.

The detector (MediaPipe, Apache-2.0) returns, besides a box, four keypoints: the hip
centre, a point on the circle enclosing the whole body along the body's axis, the
shoulder centre, and one enclosing the upper body. MediaPipe uses them to rotate
its landmark crop; for fall detection they already say what matters: how far the
body axis leans from vertical, and how high in the frame the hips are. Skipping the
landmark model keeps the fall detector near 20 ms a frame, stateless.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from vigil.detectors import _ssd
from vigil.detectors._imaging import clip_box, letterbox
from vigil.detectors._runtime import TFLiteModel

POSE_DETECTION_MODEL = "pose_detection.tflite"
DEFAULT_MIN_PERSON_SCORE = 0.5
_DETECTOR_STRIDES = (8, 16, 32, 32, 32)
HIPS, BODY_END, SHOULDERS, UPPER_END = 0, 1, 2, 3


@dataclasses.dataclass(frozen=True)
class Body:
    """One detected person, in image pixels.

    Attributes:
        box: [x, y, w, h] clipped to the image (the detector's box: head and torso).
        score: detector confidence, 0..1.
        hips: hip centre (x, y).
        shoulders: shoulder centre (x, y).
        axis_angle: angle of the hips -> shoulders line from straight up, degrees 0..180
            (0 upright, 90 lying, 180 upside down).
        body_radius: radius of the circle around the hips enclosing the body, pixels.
    """

    box: list[int]
    score: float
    hips: tuple[float, float]
    shoulders: tuple[float, float]
    axis_angle: float
    body_radius: float


def angle_from_vertical(start: np.ndarray, end: np.ndarray) -> float:
    """Angle in degrees between the segment start -> end and the image's up direction."""
    dx, dy = float(end[0] - start[0]), float(end[1] - start[1])
    if dx == 0 and dy == 0:
        return 0.0
    return math.degrees(math.atan2(abs(dx), -dy))


class BodyFinder:
    """Finds people with BlazePose's detector (224 x 224 input, letterboxed)."""

    def __init__(self, min_score: float = DEFAULT_MIN_PERSON_SCORE) -> None:
        self.model = TFLiteModel(POSE_DETECTION_MODEL)
        self.size = self.model.input_size[0]
        self.anchors = _ssd.ssd_anchors(self.size, _DETECTOR_STRIDES)
        self.min_score = min_score
        self._regressors, self._logits = self._output_names()

    def _output_names(self) -> tuple[str, str]:
        sizes = self.model.output_sizes
        regressors = max(sizes, key=sizes.__getitem__)
        logits = next(name for name in sizes if name != regressors)
        return regressors, logits

    def find(self, image: np.ndarray) -> list[Body]:
        """All people in a BGR image, best first; an empty list when there is none."""
        height, width = image.shape[:2]
        boxed = letterbox(image, self.size, (-1.0, 1.0))
        out = self.model.run(boxed.tensor)
        raw = _ssd.decode(
            out[self._regressors][0], out[self._logits][0], self.anchors, self.size, self.min_score
        )
        bodies = []
        for det in _ssd.weighted_nms(raw):
            x0, y0, x1, y1 = (v * boxed.side for v in det.box)
            points = det.keypoints * boxed.side
            box = clip_box(x0, y0, x1, y1, width, height)
            if box[2] == 0 or box[3] == 0:
                continue
            bodies.append(
                Body(
                    box=box,
                    score=det.score,
                    hips=(float(points[HIPS, 0]), float(points[HIPS, 1])),
                    shoulders=(float(points[SHOULDERS, 0]), float(points[SHOULDERS, 1])),
                    axis_angle=angle_from_vertical(points[HIPS], points[SHOULDERS]),
                    body_radius=float(np.linalg.norm(points[BODY_END] - points[HIPS])),
                )
            )
        return bodies
