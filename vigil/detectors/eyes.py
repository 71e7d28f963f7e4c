"""Eyelids: MediaPipe's iris-landmark model on a crop around each eye.

Face Mesh's eyelid points barely move when the eyes close (its eye aspect ratio fell only
to about 0.65 of the open value on a full closure), so a smile or a laugh narrowing the
eyes looked much like a blink. The iris model (the "refined eyes" of MediaPipe's face
pipeline, Apache-2.0) sees a 64 x 64 crop of one eye and returns 71 contour points that
follow the lids closely: closed eyes measure about a third of the open value.

The model is trained on right eyes (the person's right, on the image's left); a left
eye is mirrored before and after, as MediaPipe does.
"""

from __future__ import annotations

import math

import numpy as np

from vigil.detectors._imaging import rotated_crop, to_tensor
from vigil.detectors._runtime import TFLiteModel

IRIS_MODEL = "iris_landmark.tflite"
# MediaPipe's iris graph: the crop is 2.3 x the eye-corner distance, level with the corners.
EYE_CROP_SCALE = 2.3
CONTOUR_POINTS = 71
# Face Mesh corner landmarks (outer, inner) of the person's right and left eye.
RIGHT_CORNERS = (33, 133)
LEFT_CORNERS = (263, 362)
# In the 71-point contour: the corners, and upper/lower lid points facing each other.
CONTOUR_OUTER, CONTOUR_INNER = 0, 8
CONTOUR_LID_PAIRS = ((11, 3), (12, 4), (13, 5))


class EyeContourFinder:
    """Eye contours (71 points, image pixels) from Face Mesh's eye corners."""

    def __init__(self) -> None:
        self.model = TFLiteModel(IRIS_MODEL)
        self.size = self.model.input_size[0]
        sizes = self.model.output_sizes
        self._contour_name = next(n for n, size in sizes.items() if size == CONTOUR_POINTS * 3)

    def contour(self, image: np.ndarray, landmarks: np.ndarray, right_eye: bool) -> np.ndarray:
        """The (71, 2) contour of one eye, in image pixels."""
        outer, inner = RIGHT_CORNERS if right_eye else LEFT_CORNERS
        start, end = landmarks[outer, :2], landmarks[inner, :2]
        if not right_eye:
            start, end = end, start  # mirrored, the left eye runs inner -> outer like a right eye
        centre = (start + end) / 2
        width = float(np.linalg.norm(end - start))
        angle = math.atan2(end[1] - start[1], end[0] - start[0])
        crop = rotated_crop(
            image, (float(centre[0]), float(centre[1])), width * EYE_CROP_SCALE, angle, self.size
        )
        pixels = crop.pixels if right_eye else np.ascontiguousarray(crop.pixels[:, ::-1])
        out = self.model.run(to_tensor(pixels, (0.0, 1.0)))
        points = out[self._contour_name].reshape(CONTOUR_POINTS, 3)[:, :2].astype(np.float64)
        if not right_eye:
            points[:, 0] = self.size - points[:, 0]
        return crop.to_image(points)


def eye_aspect_ratio(contour: np.ndarray) -> float:
    """Mean lid gap over eye width, from a 71-point eye contour."""
    width = float(np.linalg.norm(contour[CONTOUR_OUTER] - contour[CONTOUR_INNER]))
    if width <= 0:
        return 0.0
    gaps = [float(np.linalg.norm(contour[upper] - contour[lower])) for upper, lower in CONTOUR_LID_PAIRS]
    return sum(gaps) / len(gaps) / width
