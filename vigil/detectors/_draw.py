"""Small drawing helpers shared by the overlays (cv2, in place, BGR)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

GREEN = (60, 200, 60)
RED = (40, 40, 230)
YELLOW = (0, 210, 230)
WHITE = (255, 255, 255)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def label(image: np.ndarray, text: str, origin: tuple[int, int], color: tuple[int, int, int] = WHITE) -> None:
    """Text on a dark strip, readable on any background."""
    scale = max(0.4, image.shape[1] / 1600)
    (w, h), base = cv2.getTextSize(text, FONT, scale, 1)
    x, y = max(0, origin[0]), max(h + base, origin[1])
    cv2.rectangle(image, (x, y - h - base), (x + w + 4, y + base), (0, 0, 0), cv2.FILLED)
    cv2.putText(image, text, (x + 2, y), FONT, scale, color, 1, cv2.LINE_AA)


def box(
    image: np.ndarray, xywh: Sequence[int], text: str = "", color: tuple[int, int, int] = GREEN, row: int = 0
) -> None:
    """A rectangle [x, y, w, h] with an optional label.

    Several overlays label the same face, so each takes its own ``row``: 0, 1, ... stack
    upwards above the box, -1, -2, ... downwards below it.
    """
    x, y, w, h = (int(v) for v in xywh)
    cv2.rectangle(image, (x, y), (x + w, y + h), color, 2)
    if text:
        step = line_height(image)
        baseline = y - 4 - row * step if row >= 0 else y + h + (-row) * step
        label(image, text, (x, baseline), color)


def line_height(image: np.ndarray) -> int:
    """Height of one label line at this image's scale."""
    (_, h), base = cv2.getTextSize("Ag", FONT, max(0.4, image.shape[1] / 1600), 1)
    return h + 2 * base + 2


def banner(image: np.ndarray, text: str, color: tuple[int, int, int] = RED) -> None:
    """A full-width banner at the top, for alarms."""
    height = max(24, image.shape[0] // 12)
    cv2.rectangle(image, (0, 0), (image.shape[1], height), color, cv2.FILLED)
    scale = height / 40
    cv2.putText(image, text, (8, int(height * 0.75)), FONT, scale, WHITE, 2, cv2.LINE_AA)
