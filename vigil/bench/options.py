"""What every scenario is given: the benchmark's options, and the pieces scenarios share.

Each scenario is a function ``(Options) -> {"tables": [...], "data": {...}}``; the registry
that names them is :data:`vigil.bench.scenarios.SCENARIOS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from vigil.bench.deployment import Target
from vigil.capture.sources import open_source
from vigil.detectors.registry import BUILTIN

Table = tuple[str, list[str], list[list[Any]]]
ALL = tuple(BUILTIN)
DEFAULT_CAPACITY_CAMERAS = (1, 2, 3, 4, 6)


@dataclass
class Options:
    target: Target
    repeat: int = 3
    duration: float = 30.0
    source: str = "synthetic"  # a clip for live scenarios, or the synthetic scene
    throughput_frames: int = 1500
    naive_frames: int = 10
    scale_slots: tuple[int, ...] = (1, 2, 4, 8)
    real_detectors: bool = True
    # Four slots take a frame's four tasks at once; each task mostly waits on Redis and the broker.
    live_pool: str = "prefork"  # for the null detector; real detectors use prefork -c 2 (CPU-bound)
    live_concurrency: int = 4
    capacity_cameras: tuple[int, ...] = DEFAULT_CAPACITY_CAMERAS
    baseline_python: str | None = None  # the capacity scenario's "before": another checkout's interpreter
    baseline_at_defaults: bool = False  # ...run at the default rates, as B: the two differ by their code only
    progress: Callable[[str], None] = print


def sample_image(source: str) -> np.ndarray:
    """The first frame of ``source``, resized to 640x480.

    Raises:
        ValueError: the source has no frame.
    """
    video = open_source(source)
    try:
        image = video.read()
    finally:
        video.close()
    if image is None:
        raise ValueError(f"{source} has no frame")
    return cv2.resize(image, (640, 480), interpolation=cv2.INTER_AREA)
