"""Image preparation shared by the models: letterboxing and rotated square crops."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np


@dataclasses.dataclass(frozen=True)
class Letterbox:
    """An image scaled into a square model input, padded at the right or bottom.

    Normalised model coordinates ``n`` map back to image pixels as ``n * side``,
    where ``side`` is the longer side of the original image.
    """

    tensor: np.ndarray
    side: int


def letterbox(image: np.ndarray, size: int, value_range: tuple[float, float]) -> Letterbox:
    """Scale ``image`` (BGR) into a ``size`` x ``size`` RGB float tensor of shape (1, S, S, 3).

    The aspect ratio is kept (a stretched face or body confuses the models); the
    padding is black. ``value_range`` is the range the model expects, e.g. (-1, 1).
    """
    height, width = image.shape[:2]
    side = max(height, width)
    scale = size / side
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    canvas = np.zeros((size, size, 3), dtype=np.uint8)
    canvas[:new_h, :new_w] = resized
    return Letterbox(tensor=to_tensor(canvas, value_range), side=side)


def to_tensor(bgr: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """BGR uint8 (H, W, 3) -> RGB float32 (1, H, W, 3) scaled to ``value_range``."""
    low, high = value_range
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32)
    return (rgb * ((high - low) / 255.0) + low)[np.newaxis]


@dataclasses.dataclass(frozen=True)
class SquareCrop:
    """A square region of an image, rotated by ``angle`` radians, resampled to ``size``.

    ``to_image`` maps crop pixel coordinates back to the image.
    """

    pixels: np.ndarray
    centre: tuple[float, float]
    side: float
    angle: float
    size: int

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """Map (N, 2) or (N, 3) crop coordinates to image pixels (z is scaled like x)."""
        scale = self.side / self.size
        cos, sin = np.cos(self.angle), np.sin(self.angle)
        u = points[:, 0] - self.size / 2
        v = points[:, 1] - self.size / 2
        out = np.array(points, dtype=np.float64, copy=True)
        out[:, 0] = self.centre[0] + scale * (cos * u - sin * v)
        out[:, 1] = self.centre[1] + scale * (sin * u + cos * v)
        if points.shape[1] > 2:
            out[:, 2] = points[:, 2] * scale
        return out


def rotated_crop(
    image: np.ndarray, centre: tuple[float, float], side: float, angle: float, size: int
) -> SquareCrop:
    """Cut a ``side``-pixel square around ``centre``, rotated by ``angle`` (radians, image
    x toward y), and resample it to ``size`` x ``size``. Outside the image is black."""
    scale = side / size
    cos, sin = np.cos(angle), np.sin(angle)
    # Affine map crop -> image; warpAffine with WARP_INVERSE_MAP samples the image through it.
    half = size / 2
    matrix = np.array(
        [
            [scale * cos, -scale * sin, centre[0] - scale * (cos * half - sin * half)],
            [scale * sin, scale * cos, centre[1] - scale * (sin * half + cos * half)],
        ],
        dtype=np.float64,
    )
    pixels = cv2.warpAffine(
        image,
        matrix,
        (size, size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
    )
    return SquareCrop(pixels=pixels, centre=centre, side=side, angle=angle, size=size)


def clip_box(x0: float, y0: float, x1: float, y1: float, width: int, height: int) -> list[int]:
    """A pixel box [x, y, w, h] of ints, clipped to the image."""
    left, top = max(0, round(x0)), max(0, round(y0))
    right, bottom = min(width, round(x1)), min(height, round(y1))
    return [left, top, max(0, right - left), max(0, bottom - top)]
