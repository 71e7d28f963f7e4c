"""Builders for the event store's tests: lifecycle messages (the contract's event dict) and frames."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from vigil.detectors.base import event_id
from vigil.frames import Frame
from vigil.stream.reassembly import JoinedFrame

TYPES_SEVERITY = {"new": "warning", "update": "critical", "end": "critical"}


def message(type_: str = "new", seq: int = 10, *, camera: str = "door", kind: str = "fall", start_seq: int = 10,
            start: float = 1000.0, fps: float = 10.0, **changes: Any) -> dict[str, Any]:
    """A lifecycle message as events-core's rules send it (frame ``seq`` captured at ``start`` + its offset)."""
    time = start + (seq - start_seq) / fps
    data: dict[str, Any] = {
        "id": event_id(camera, 1, kind, start_seq), "type": type_, "camera": camera, "session": 1,
        "algorithm": "fall", "kind": kind, "severity": TYPES_SEVERITY[type_], "start_seq": start_seq,
        "start": start, "seq": seq, "time": time, "end": time if type_ == "end" else None, "score": 0.8,
        "details": {"track": 1}, "snapshot": None, "clip": None,
    }
    data.update(changes)
    return data


def picture(seq: int, width: int = 640, height: int = 360) -> bytes:
    """A JPEG that changes with ``seq`` (a moving bar and the number), like a real scene does."""
    image = np.full((height, width, 3), 40, np.uint8)
    x = (seq * 7) % width
    cv2.rectangle(image, (x, 60), (x + 40, height - 60), (200, 180, 60), -1)
    cv2.putText(image, f"#{seq}", (20, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()


def joined(seq: int, captured_at: float, camera: str = "door", width: int = 640, height: int = 360) -> JoinedFrame:
    """An emitted frame with no results (what the media recorder keeps)."""
    frame = Frame(camera, 1, seq, captured_at, width, height, picture(seq, width, height))
    return JoinedFrame(frame, (), captured_at, {}, captured_at + 0.05)
