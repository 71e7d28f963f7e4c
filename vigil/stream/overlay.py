"""Drawing every algorithm's overlay onto a joined frame, then encoding it once.

Each algorithm draws what is not about one person (banners, rates); what it says about each
body or face comes back as marks, merged into one box per person (``people.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import cv2
import numpy as np

from vigil.detectors.base import Observation
from vigil.detectors.marks import Mark
from vigil.detectors.registry import algorithm_names, draw_overlay, person_marks
from vigil.errors import FrameDecodeError
from vigil.frames import decode_jpeg
from vigil.stream.people import draw_people, group_people
from vigil.stream.reassembly import JoinedFrame
from vigil.stream.zones import Polygon, Zone, draw_regions

log = logging.getLogger(__name__)

FONT = cv2.FONT_HERSHEY_SIMPLEX
OK_COLOUR = (80, 200, 80)
WARN_COLOUR = (40, 40, 230)


def annotate(
    frame: JoinedFrame,
    observations: dict[str, Observation | None],
    summaries: dict[str, dict[str, Any]],
    quality: int,
    regions: tuple[Sequence[Zone], Sequence[Polygon]] | None = None,
) -> bytes:
    """The frame's JPEG with every algorithm's overlay and a status line drawn on it.

    ``observations`` may hold an algorithm this frame did not ask for (its last overlay,
    held by the view); ``regions`` (zones, masks) are outlined when given.
    """
    image = annotated_image(frame, observations, summaries, regions)
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise FrameDecodeError(f"cannot encode annotated frame {frame.camera}#{frame.seq}")
    return buffer.tobytes()


def annotated_image(
    frame: JoinedFrame,
    observations: dict[str, Observation | None],
    summaries: dict[str, dict[str, Any]],
    regions: tuple[Sequence[Zone], Sequence[Polygon]] | None = None,
) -> np.ndarray:
    """The frame decoded (BGR) with what :func:`annotate` draws on it (snapshots and clips use it)."""
    try:
        image = decode_jpeg(frame.frame.jpeg, f"frame {frame.camera}#{frame.seq}")
    except FrameDecodeError as exc:
        log.warning("%s", exc)
        image = np.zeros((max(frame.frame.height, 1), max(frame.frame.width, 1), 3), np.uint8)
    if regions is not None:
        draw_regions(image, *regions)
    marks: list[Mark] = []
    for algorithm in _in_registry_order(observations):
        observation = observations[algorithm]
        result = frame.results.get(algorithm)
        if observation is None:
            continue
        if result is not None and result.synthetic:
            continue  # a synthetic stand-in: nothing meaningful to draw
        summary = summaries.get(algorithm, {})
        try:
            draw_overlay(algorithm, image, observation, summary)
            marks.extend(person_marks(algorithm, observation, summary))
        except Exception:  # an overlay bug must not stop the live view
            log.exception("overlay of %s failed on frame %s#%s", algorithm, frame.camera, frame.seq)
    draw_people(image, group_people(marks))
    _status_line(image, frame)
    return image


def _in_registry_order(algorithms: Iterable[str]) -> list[str]:
    """The same label order on every frame and camera: fall, emotion, pose, blink, plug-ins."""
    order = {name: index for index, name in enumerate(algorithm_names())}
    return sorted(algorithms, key=lambda name: order.get(name, len(order)))


def _status_line(image: np.ndarray, frame: JoinedFrame) -> None:
    latency_ms = frame.latency * 1000
    text = f"{frame.camera} #{frame.seq}  {latency_ms:.0f} ms"
    errors = [name for name, result in frame.results.items() if not result.ok]
    colour = OK_COLOUR
    if frame.missing:
        text += "  missing: " + ",".join(frame.missing)
        colour = WARN_COLOUR
    if errors:
        text += "  error: " + ",".join(errors)
        colour = WARN_COLOUR
    height = image.shape[0]
    cv2.rectangle(image, (0, height - 22), (image.shape[1], height), (0, 0, 0), -1)
    cv2.putText(image, text, (6, height - 6), FONT, 0.5, colour, 1, cv2.LINE_AA)
