"""The quick-start demo camera: a person with a face, built at run time from one public-domain photo.

``vigil run`` with no ``--source`` (or ``--source demo``) plays it. The photo is NASA's portrait of
astronaut Eileen Collins, as shipped by scikit-image (``skimage.data.astronaut``: "No known
copyright restrictions, released into the public domain"); only that still image is in the
package (``assets/astronaut.jpg``, see NOTICE), nothing is downloaded.

The clip loops every ``CYCLE_S`` seconds over a plain room (a wall and a floor):

1. upright, drifting and zooming gently (a person the trackers see move, a face for the
   emotion, head-pose and blink detectors);
2. tipping over: the figure turns to lying while dropping toward the floor in under a second;
3. lying on the floor, still;
4. back to upright.

It is a photograph moved by code, not a person filmed: what the detectors find on it is
measured and stated in the README, not promised.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from vigil.errors import CaptureError

DEMO_FPS = 15.0
CYCLE_S = 16.0
CLOSE_UP_S = 4.0  # phase 1: the camera close on her face
ZOOM_OUT_S = 2.0  # then zooms out to the whole room
UPRIGHT_S = 4.0  # she stands, drifting side to side
TIP_S = 0.6  # tips over to the floor
LYING_S = 3.4  # lies there; then gets back up for the rest of the cycle
CLOSE_UP_ZOOM = 2.6
FACE = (0.47, 0.24)  # where her face is in the photo (fractions of its width and height)
ASSET = "astronaut.jpg"
ASSETS = Path(__file__).parent / "assets"  # package data (setup.cfg), inside the installed package


def load_still() -> np.ndarray:
    """The shipped photo (BGR).

    Raises:
        CaptureError: the package was installed without its asset.
    """
    path = ASSETS / ASSET
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CaptureError(f"the demo image {path} is missing from this install: {exc}") from exc
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise CaptureError(f"the demo image {path} cannot be decoded")
    return image


class DemoSource:
    """A ``VideoSource`` playing the demo clip at ``fps`` (frames are computed, not read)."""

    live = False

    def __init__(self, width: int = 640, height: int = 480, fps: float = DEMO_FPS) -> None:
        if width < 64 or height < 48 or not 0 < fps <= 120:
            raise CaptureError(f"demo source: {width}x{height}@{fps} is out of range")
        self.width, self.height, self._fps = width, height, fps
        self.description = f"demo (public-domain NASA photo, {width}x{height}@{fps:g})"
        self._index = 0
        # The figure: the photo scaled so that she stands about 70 % of the frame's height.
        side = int(height * 0.7)
        self._figure = cv2.resize(load_still(), (side, side), interpolation=cv2.INTER_AREA)
        self._room = _room(width, height)

    @property
    def fps(self) -> float:
        return self._fps

    def read(self) -> np.ndarray:
        t = (self._index / self._fps) % CYCLE_S
        self._index += 1
        angle, cx, cy, scale = figure_at(t, self.width, self.height)
        frame = _composite(self._room, self._figure, angle, cx, cy, scale)
        zoom = camera_zoom(t)
        if zoom > 1.0:
            side = self._figure.shape[0] * scale
            face = (cx + (FACE[0] - 0.5) * side, cy + (FACE[1] - 0.5) * side)
            frame = _zoom(frame, zoom, face)
        return frame

    def close(self) -> None:
        pass


def camera_zoom(t: float) -> float:
    """How far the camera is zoomed in ``t`` seconds into the cycle (1: the whole room)."""
    if t < CLOSE_UP_S:
        return CLOSE_UP_ZOOM
    if t < CLOSE_UP_S + ZOOM_OUT_S:
        k = (t - CLOSE_UP_S) / ZOOM_OUT_S
        return CLOSE_UP_ZOOM + (1.0 - CLOSE_UP_ZOOM) * (0.5 - 0.5 * math.cos(math.pi * k))
    return 1.0


def figure_at(t: float, width: int, height: int) -> tuple[float, float, float, float]:
    """(rotation in degrees, centre x, centre y, scale) of the figure ``t`` seconds into the cycle."""
    upright_cy = height * 0.36
    lying_cy = height * 0.9
    standing_until = CLOSE_UP_S + ZOOM_OUT_S + UPRIGHT_S
    if t < standing_until:  # drift side to side, turning her head a little
        cx = width * (0.5 + 0.12 * math.sin(2 * math.pi * t / 4.0))
        return 6.0 * math.sin(2 * math.pi * t / 5.0), cx, upright_cy, 1.0
    start_cx = width * (0.5 + 0.12 * math.sin(2 * math.pi * standing_until / 4.0))
    start_angle = 6.0 * math.sin(2 * math.pi * standing_until / 5.0)
    if t < standing_until + TIP_S:  # tip over toward the floor, accelerating
        k = ((t - standing_until) / TIP_S) ** 2
        return (start_angle + (90.0 - start_angle) * k, start_cx + width * 0.08 * k,
                upright_cy + (lying_cy - upright_cy) * k, 1.0)
    if t < standing_until + TIP_S + LYING_S:
        return 90.0, start_cx + width * 0.08, lying_cy, 1.0
    # get back up, slowly
    k = min(1.0, (t - standing_until - TIP_S - LYING_S) / (CYCLE_S - standing_until - TIP_S - LYING_S))
    return (90.0 + (start_angle - 90.0) * k, start_cx + width * 0.08 * (1 - k),
            lying_cy + (upright_cy - lying_cy) * k, 1.0)


def _zoom(frame: np.ndarray, zoom: float, focus: tuple[float, float]) -> np.ndarray:
    """The part of ``frame`` a camera zoomed ``zoom`` times on ``focus`` sees (kept inside the frame)."""
    height, width = frame.shape[:2]
    crop_w, crop_h = width / zoom, height / zoom
    x0 = min(max(focus[0] - crop_w / 2, 0.0), width - crop_w)
    y0 = min(max(focus[1] - crop_h / 3, 0.0), height - crop_h)
    matrix = np.array([[zoom, 0.0, -x0 * zoom], [0.0, zoom, -y0 * zoom]], dtype=np.float32)
    return cv2.warpAffine(frame, matrix, (width, height), flags=cv2.INTER_LINEAR)


def _room(width: int, height: int) -> np.ndarray:
    room = np.empty((height, width, 3), np.uint8)
    horizon = int(height * 0.62)
    wall = np.linspace(200, 170, horizon, dtype=np.float32)[:, None]
    room[:horizon] = np.dstack([wall * 0.95, wall * 0.97, wall]).astype(np.uint8)
    floor = np.linspace(120, 90, height - horizon, dtype=np.float32)[:, None]
    room[horizon:] = np.dstack([floor * 0.7, floor * 0.85, floor]).astype(np.uint8)
    return room


def _composite(room: np.ndarray, figure: np.ndarray, angle: float, cx: float, cy: float,
               scale: float) -> np.ndarray:
    """The room with the figure rotated by ``angle`` (clockwise) and scaled, centred at (cx, cy)."""
    height, width = room.shape[:2]
    side = figure.shape[0]
    matrix = cv2.getRotationMatrix2D((side / 2, side / 2), -angle, scale)
    matrix[0, 2] += cx - side / 2
    matrix[1, 2] += cy - side / 2
    warped = cv2.warpAffine(figure, matrix, (width, height), flags=cv2.INTER_LINEAR)
    mask = cv2.warpAffine(np.full((side, side), 255, np.uint8), matrix, (width, height), flags=cv2.INTER_NEAREST)
    frame = room.copy()
    frame[mask > 0] = warped[mask > 0]
    return frame
