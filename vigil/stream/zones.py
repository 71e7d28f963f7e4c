"""Zones: which people (or faces) a camera's rule may count, and drawing zones and masks.

A zone is a polygon in normalized image coordinates that restricts some rules (the
site file's ``[cameras.<name>.zones.<zone>]``, ``rules = ["fall"]``). Before such a rule
sees an observation, the people and faces outside every zone that restricts it are
removed. Where a body or face is:

- a body with hip keypoints (the fall detector's ``hips``): the hips. On the floor or on
  a bed, the hips are where the body lies; the bottom of a box is not (a body lying
  across the image has its box's bottom wherever its lowest limb is).
- a body without hips: the bottom centre of its box (the feet of an upright person);
- a face: the centre of its box.

Known limit: the fall rule tells camera motion from people moving by masking the people it
is given; a person walking outside the zone is not masked, and on a small image a large
walker may make the rule hold its decisions a moment (``vigil.detectors.camera_motion``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import cv2
import numpy as np

Polygon = Sequence[Sequence[float]]
ZONE_COLOUR = (255, 160, 0)
MASK_COLOUR = (90, 90, 90)


@dataclasses.dataclass(frozen=True)
class Zone:
    """One zone of one camera: its name, polygon and the rules it restricts (empty: all)."""

    name: str
    points: tuple[tuple[float, float], ...]
    rules: tuple[str, ...] = ()

    def restricts(self, algorithm: str) -> bool:
        return not self.rules or algorithm in self.rules


def inside(x: float, y: float, polygon: Polygon) -> bool:
    """Whether the normalized point (x, y) lies inside (or on the edge of) ``polygon``."""
    contour = np.asarray(polygon, dtype=np.float32).reshape(-1, 1, 2)
    return cv2.pointPolygonTest(contour, (float(x), float(y)), False) >= 0


def where(item: Mapping[str, Any], face: bool) -> tuple[float, float] | None:
    """The pixel point that decides whether a body or face is inside a zone (module docstring)."""
    hips = item.get("hips")
    if isinstance(hips, (list, tuple)) and len(hips) == 2:
        return float(hips[0]), float(hips[1])
    box = item.get("box")
    if not isinstance(box, (list, tuple)) or len(box) != 4:
        return None
    x, y, w, h = (float(v) for v in box)
    return (x + w / 2, y + h / 2) if face else (x + w / 2, y + h)


def filter_observation(observation: Mapping[str, Any], zones: Iterable[Zone], width: int,
                       height: int) -> dict[str, Any]:
    """``observation`` (a detector's dict form) with only the people and faces inside a zone.

    Args:
        observation: e.g. ``{"people": [{"box": [...], "hips": [...]}, ...], ...}`` or ``{"faces": [...]}``.
        zones: the zones restricting this rule (at least one).
        width, height: the frame size the boxes are in.
    """
    polygons = [zone.points for zone in zones]
    result = dict(observation)
    for key, face in (("people", False), ("faces", True)):
        items = observation.get(key)
        if not isinstance(items, list):
            continue
        kept = []
        for item in items:
            point = where(item, face) if isinstance(item, Mapping) else None
            if point is not None and any(inside(point[0] / width, point[1] / height, p) for p in polygons):
                kept.append(item)
        result[key] = kept
    return result


def draw_regions(image: np.ndarray, zones: Iterable[Zone], masks: Iterable[Polygon]) -> None:
    """Outline every zone (with its name) and hatch every mask on ``image``, in place."""
    height, width = image.shape[:2]
    scale = np.array([width - 1, height - 1], dtype=np.float64)
    for mask in masks:
        points = np.round(np.asarray(mask) * scale).astype(np.int32)
        overlay = image.copy()
        cv2.fillPoly(overlay, [points], MASK_COLOUR)
        cv2.addWeighted(overlay, 0.5, image, 0.5, 0, dst=image)
    for zone in zones:
        points = np.round(np.asarray(zone.points) * scale).astype(np.int32)
        cv2.polylines(image, [points], True, ZONE_COLOUR, 2, cv2.LINE_AA)
        label = zone.name + (f" ({','.join(zone.rules)})" if zone.rules else "")
        x, y = (int(v) for v in points.min(axis=0))
        cv2.putText(image, label, (x + 4, y + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, ZONE_COLOUR, 1, cv2.LINE_AA)
