"""Is the camera itself moving? A tiny thumbnail per frame, compared across frames in the rule.

The per-frame detector stays stateless: it only attaches a 32 x 24 gray thumbnail
(768 bytes, base64 in the observation) to each frame. The per-camera rule keeps the
last few and compares the current one with the one from ``lag_s`` ago, ignoring the
cells where people are. A person moving in front of a still camera changes only the
cells they cover; a pan, tilt, zoom or shake changes the whole background. The share
of background cells whose brightness changed is the cue.

Measured on the shared clips (32 x 24, 0.2 s lag, change > 12 gray levels after
removing the median change, i.e. an exposure shift): every fixed-camera clip stayed at
or below 0.17 on every frame (median 0.00-0.04); the handheld walk-through of a bedroom
had a median of 0.31 and the slowly panning gym clip a 90th percentile of 0.30.
"""

from __future__ import annotations

import base64
import binascii
import collections
import dataclasses

import cv2
import numpy as np

THUMB_SIZE = (32, 24)  # (width, height): 4:3 whatever the frame, so cells are comparable
CHANGE_LEVEL = 12.0  # gray levels: above JPEG/sensor noise on an area-averaged thumbnail
MAX_LAG_FACTOR = 5.0  # a reference older than this many lags is too old to compare with
MIN_BACKGROUND = 0.2  # share of cells that must be free of people to judge the camera at all


def thumbnail(image: np.ndarray) -> str:
    """The frame as a 32 x 24 gray thumbnail, base64 (plain data for the wire)."""
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    small = cv2.resize(gray, THUMB_SIZE, interpolation=cv2.INTER_AREA)
    return base64.b64encode(small.astype(np.uint8).tobytes()).decode("ascii")


def decode_thumbnail(text: str) -> np.ndarray | None:
    """The thumbnail as float32 (24, 32), or None when the text is not a thumbnail."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    width, height = THUMB_SIZE
    if len(raw) != width * height:
        return None
    return np.frombuffer(raw, dtype=np.uint8).reshape(height, width).astype(np.float32)


def background_mask(boxes: list[list[int]], frame_size: tuple[int, int]) -> np.ndarray:
    """Thumbnail cells not covered by any box (grown by one cell: boxes are loose at the edges)."""
    width, height = THUMB_SIZE
    mask = np.ones((height, width), dtype=bool)
    sx, sy = width / max(1, frame_size[0]), height / max(1, frame_size[1])
    for x, y, w, h in boxes:
        x0, y0 = max(0, int(x * sx) - 1), max(0, int(y * sy) - 1)
        mask[y0 : int((y + h) * sy) + 2, x0 : int((x + w) * sx) + 2] = False
    return mask


def changed_share(before: np.ndarray, after: np.ndarray, mask: np.ndarray) -> float | None:
    """Share of background cells that changed between two thumbnails.

    The median change is removed first, so an exposure or lighting step alone does not
    count as motion. Returns None when people cover too much of the frame to judge.
    """
    if mask.mean() < MIN_BACKGROUND:
        return None
    diff = after - before
    diff = diff - float(np.median(diff[mask]))
    return float(np.mean(np.abs(diff[mask]) > CHANGE_LEVEL))


@dataclasses.dataclass
class _Frame:
    time: float
    thumb: np.ndarray
    boxes: list[list[int]]


class CameraMotion:
    """Per camera: is the camera moving now, or did it move within ``settle_s``?

    Args:
        lag_s: compare with the thumbnail this long ago (a slow pan shows over a few frames).
        moving_share: a changed background share at or above this is camera motion.
        settle_s: after motion, the camera counts as moving this much longer (a shake
            ends with a few still-blurred frames, and positions before it are not comparable).
    """

    def __init__(self, *, lag_s: float = 0.2, moving_share: float = 0.2, settle_s: float = 0.5) -> None:
        self.lag_s = lag_s
        self.moving_share = moving_share
        self.settle_s = settle_s
        self._history: collections.deque[_Frame] = collections.deque()
        self._moved_at: float | None = None
        self.share: float | None = None

    def update(
        self, timestamp: float, thumb: str | None, boxes: list[list[int]], frame_size: tuple[int, int]
    ) -> bool:
        """Feed one frame; True while the camera moves (or settles). No thumbnail: no opinion."""
        image = decode_thumbnail(thumb) if thumb else None
        self.share = None
        if image is not None:
            reference = self._reference(timestamp)
            if reference is not None:
                mask = background_mask(reference.boxes + boxes, frame_size)
                self.share = changed_share(reference.thumb, image, mask)
                if self.share is not None and self.share >= self.moving_share:
                    self._moved_at = timestamp
            self._history.append(_Frame(timestamp, image, boxes))
        return self.moving(timestamp)

    def moving(self, timestamp: float) -> bool:
        return self._moved_at is not None and timestamp - self._moved_at <= self.settle_s

    def _reference(self, timestamp: float) -> _Frame | None:
        """The newest kept frame at least ``lag_s`` old; older ones are dropped."""
        while len(self._history) >= 2 and timestamp - self._history[1].time >= self.lag_s:
            self._history.popleft()
        # After a long gap (lost results, a stalled stream) the old frame says nothing about now.
        if self._history and self.lag_s <= timestamp - self._history[0].time <= MAX_LAG_FACTOR * self.lag_s:
            return self._history[0]
        return None
