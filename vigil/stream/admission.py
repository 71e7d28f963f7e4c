"""What the streamer lets in from the feed and the result backend.

Anything that can publish on the broker's frames fanout or on Redis can send the streamer
a message, so every label in ``/metrics`` and every camera in ``/cameras`` is admitted here
first, and the sets stay bounded:

- a camera is admitted by its first valid frame, up to ``max_cameras``; frames of more
  cameras are refused;
- a frame may ask only for algorithms the streamer knows (its settings' and the registry's);
- a status report updates a camera that sent frames, and nothing else (no phantom camera);
- a result counts for an admitted camera and an algorithm its frames asked for; anything
  else is refused, counted once by reason, never by its (forged) names.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable

from vigil.messages import CaptureStats, FrameMessage, TaskRef

MAX_TEXT = 300  # characters kept of a camera's source and error (shown by /cameras)
MAX_RESULT_BYTES = 256 * 1024  # a result on Redis larger than this is refused unread

# Why a message was refused: the only values of the `reason` label.
MALFORMED = "malformed"
TOO_LARGE = "too_large"
TOO_MANY_CAMERAS = "too_many_cameras"
UNKNOWN_CAMERA = "unknown_camera"
UNKNOWN_ALGORITHM = "unknown_algorithm"
REASONS = (MALFORMED, TOO_LARGE, TOO_MANY_CAMERAS, UNKNOWN_CAMERA, UNKNOWN_ALGORITHM)


class Admission:
    """The cameras admitted so far and the algorithms each asked for; safe from any thread.

    Args:
        algorithms: every algorithm a frame may ask for.
        max_cameras: cameras admitted at most (the first ones to send a frame).
    """

    def __init__(self, algorithms: Iterable[str], max_cameras: int) -> None:
        self.algorithms = frozenset(algorithms)
        self.max_cameras = max_cameras
        self._asked: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def frame(self, message: FrameMessage) -> str | None:
        """Admit a frame (and its camera); returns ``None``, or why it is refused."""
        if not self.algorithms.issuperset(message.algorithms):
            return UNKNOWN_ALGORITHM
        camera = message.frame.camera
        with self._lock:
            asked = self._asked.get(camera)
            if asked is None:
                if len(self._asked) >= self.max_cameras:
                    return TOO_MANY_CAMERAS
                asked = self._asked[camera] = set()
            asked.update(message.algorithms)
        return None

    def known(self, camera: str) -> bool:
        """Whether ``camera`` sent a frame that was admitted."""
        with self._lock:
            return camera in self._asked

    def result(self, ref: TaskRef) -> str | None:
        """Admit a result by its task id; returns ``None``, or why it is refused."""
        with self._lock:
            asked = self._asked.get(ref.camera)
            if asked is None:
                return UNKNOWN_CAMERA
            return None if ref.algorithm in asked else UNKNOWN_ALGORITHM

    def cameras(self) -> int:
        with self._lock:
            return len(self._asked)


def bounded_stats(stats: CaptureStats) -> CaptureStats:
    """``stats`` with its free text cut to :data:`MAX_TEXT` characters."""
    if len(stats.source) <= MAX_TEXT and len(stats.error) <= MAX_TEXT:
        return stats
    return dataclasses.replace(stats, source=stats.source[:MAX_TEXT], error=stats.error[:MAX_TEXT])
