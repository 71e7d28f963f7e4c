"""Decoding MediaPipe's single-shot detectors (BlazeFace, BlazePose detector).

Both models regress, for a fixed grid of anchors, a box and a few keypoints relative to
the anchor centre, plus one logit. This mirrors MediaPipe's ``SsdAnchorsCalculator``
(with ``fixed_anchor_size``) and ``TensorsToDetectionsCalculator``, followed by a
weighted non-maximum suppression, so the numbers match what MediaPipe would report.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

# MediaPipe clips logits to this before the sigmoid.
LOGIT_CLIP = 100.0


@dataclasses.dataclass(frozen=True)
class RawDetection:
    """One decoded detection in the model's normalised input coordinates (0..1).

    Attributes:
        box: (x_min, y_min, x_max, y_max).
        keypoints: array of shape (K, 2), x and y.
        score: sigmoid of the logit.
    """

    box: tuple[float, float, float, float]
    keypoints: np.ndarray
    score: float


def ssd_anchors(input_size: int, strides: tuple[int, ...], anchors_per_layer: int = 2) -> np.ndarray:
    """Anchor centres, shape (N, 2), for square input and fixed-size anchors.

    Consecutive layers with the same stride share one grid, as in MediaPipe.
    """
    centres: list[np.ndarray] = []
    layer = 0
    while layer < len(strides):
        stride = strides[layer]
        repeats = 0
        while layer < len(strides) and strides[layer] == stride:
            repeats += anchors_per_layer
            layer += 1
        cells = math.ceil(input_size / stride)
        grid = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        points = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(points, repeats, axis=0))
    return np.concatenate(centres, axis=0)


def decode(
    regressors: np.ndarray,
    logits: np.ndarray,
    anchors: np.ndarray,
    scale: float,
    min_score: float,
) -> list[RawDetection]:
    """Turn raw outputs (N, 4 + 2K) and (N, 1) into detections above ``min_score``."""
    logits = np.clip(logits.reshape(-1).astype(np.float64), -LOGIT_CLIP, LOGIT_CLIP)
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = np.flatnonzero(scores >= min_score)
    detections = []
    for i in keep:
        raw = regressors[i] / scale
        cx, cy = raw[0] + anchors[i, 0], raw[1] + anchors[i, 1]
        w, h = raw[2], raw[3]
        keypoints = raw[4:].reshape(-1, 2) + anchors[i]
        box = (float(cx - w / 2), float(cy - h / 2), float(cx + w / 2), float(cy + h / 2))
        detections.append(RawDetection(box=box, keypoints=keypoints, score=float(scores[i])))
    return detections


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two (x_min, y_min, x_max, y_max) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def weighted_nms(detections: list[RawDetection], threshold: float = 0.3) -> list[RawDetection]:
    """MediaPipe's weighted NMS: overlapping detections are averaged by score.

    Averaging (rather than keeping only the best) steadies boxes and keypoints from
    frame to frame, which matters to the temporal rules downstream.
    """
    remaining = sorted(detections, key=lambda d: d.score, reverse=True)
    merged: list[RawDetection] = []
    while remaining:
        best = remaining[0]
        group = [d for d in remaining if iou(best.box, d.box) > threshold]
        remaining = [d for d in remaining if iou(best.box, d.box) <= threshold]
        weights = np.array([d.score for d in group], dtype=np.float64)
        weights /= weights.sum()
        box = tuple(float(v) for v in np.average([d.box for d in group], axis=0, weights=weights))
        keypoints = np.average(np.stack([d.keypoints for d in group]), axis=0, weights=weights)
        merged.append(RawDetection(box=box, keypoints=keypoints, score=best.score))  # type: ignore[arg-type]
    return merged
