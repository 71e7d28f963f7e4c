"""Video sources: a webcam index, an RTSP/HTTP URL, a video file, or a synthetic scene.

``open_source("0")`` is webcam 0, ``open_source("rtsp://cam/stream")`` a network
stream, ``open_source("synthetic")`` a generated scene that needs no hardware
(``synthetic:320x240@100`` sets its size and frame rate), anything else a video file.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from vigil.errors import CaptureError
from vigil.redact import redact

NETWORK_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")
OPEN_TIMEOUT_MS = 5000
READ_TIMEOUT_MS = 5000
SYNTHETIC_FPS = 30.0
_DEMO = re.compile(r"^demo(?::(\d+)x(\d+))?(?:@(\d+(?:\.\d+)?))?$")
_SYNTHETIC = re.compile(r"^synthetic(?::(\d+)x(\d+))?(?:@(\d+(?:\.\d+)?))?$")


class VideoSource(Protocol):
    """Where frames come from."""

    description: str
    live: bool  # a camera or stream (True) rather than a file to play

    @property
    def fps(self) -> float | None:
        """Nominal frames per second, if the source knows it."""
        ...

    def read(self) -> np.ndarray | None:
        """The next BGR frame, or ``None`` at the end of a file.

        Raises:
            CaptureError: a live source stopped delivering frames.
        """
        ...

    def close(self) -> None: ...


def is_live(spec: str) -> bool:
    """A webcam or a network stream (worth reopening when it fails), not a file or a synthetic scene."""
    spec = spec.strip()
    return spec.isdigit() or spec.lower().startswith(NETWORK_SCHEMES)


class OpenCVSource:
    """A webcam, network stream or video file read through ``cv2.VideoCapture``."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.live = is_live(spec)
        if spec.isdigit():
            self.description = f"webcam {spec}"
            self._capture = cv2.VideoCapture(int(spec))
        elif self.live:
            self.description = f"stream {redact(spec)}"
            self._capture = cv2.VideoCapture(
                spec,
                cv2.CAP_FFMPEG,
                [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS],
            )
        else:
            path = Path(spec)
            if not path.is_file():
                raise CaptureError(f"video file {spec!r} does not exist")
            self.description = f"file {spec}"
            self._capture = cv2.VideoCapture(str(path))
        if not self._capture.isOpened():
            self._capture.release()
            raise CaptureError(f"cannot open {self.description}")

    @property
    def fps(self) -> float | None:
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        return fps if fps and 0 < fps < 1000 else None

    def read(self) -> np.ndarray | None:
        ok, image = self._capture.read()
        if ok:
            return image
        if self.live:
            raise CaptureError(f"{self.description} stopped delivering frames")
        return None

    def close(self) -> None:
        self._capture.release()


class SyntheticSource:
    """A generated scene (moving shapes, a frame counter): a camera for demos and tests."""

    live = False

    def __init__(self, width: int = 640, height: int = 480, fps: float = SYNTHETIC_FPS) -> None:
        if width < 16 or height < 16 or not 0 < fps <= 1000:
            raise CaptureError(f"synthetic source: {width}x{height}@{fps} is out of range")
        self.width, self.height, self._fps = width, height, fps
        self.description = f"synthetic {width}x{height}@{fps:g}"
        self._index = 0
        yy, xx = np.mgrid[0:height, 0:width]
        # A fixed texture so the JPEG costs what a real scene costs.
        self._background = np.dstack(
            [(xx * 255 // max(1, width - 1)), (yy * 255 // max(1, height - 1)), ((xx ^ yy) & 0xFF)]
        ).astype(np.uint8)

    @property
    def fps(self) -> float:
        return self._fps

    def read(self) -> np.ndarray:
        image = self._background.copy()
        phase = self._index / SYNTHETIC_FPS
        cx = int(self.width / 2 + self.width / 3 * math.sin(phase))
        cy = int(self.height / 2 + self.height / 4 * math.cos(phase * 0.7))
        cv2.circle(image, (cx, cy), max(8, self.height // 8), (40, 40, 220), -1)
        cv2.putText(image, f"#{self._index}", (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
        self._index += 1
        return image

    def close(self) -> None:
        pass


def open_source(spec: str) -> VideoSource:
    """Open the source named by ``spec``.

    Raises:
        CaptureError: it cannot be opened (missing file, no such camera, unreachable URL).
    """
    match = _DEMO.match(spec.strip())
    if match:
        from vigil.capture.demo import DEMO_FPS, DemoSource

        width, height = (int(match[1]), int(match[2])) if match[1] else (640, 480)
        return DemoSource(width, height, float(match[3]) if match[3] else DEMO_FPS)
    match = _SYNTHETIC.match(spec.strip())
    if match:
        width, height = (int(match[1]), int(match[2])) if match[1] else (640, 480)
        return SyntheticSource(width, height, float(match[3]) if match[3] else SYNTHETIC_FPS)
    return OpenCVSource(spec.strip())

