"""Helpers shared by the tests: parsing MJPEG streams, building frames and incident events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from vigil.detectors.base import Event, event_id


def read_mjpeg_parts(stream: BinaryIO) -> Iterator[tuple[dict[str, str], bytes]]:
    """Yield (headers, jpeg) for each part of a multipart/x-mixed-replace stream."""
    while True:
        line = stream.readline()
        if not line:
            return
        if not line.startswith(b"--"):
            continue
        headers = {}
        while True:
            line = stream.readline().rstrip(b"\r\n")
            if not line:
                break
            name, _, value = line.decode("ascii").partition(": ")
            headers[name] = value
        body = stream.read(int(headers["Content-Length"]))
        yield headers, body


def jpeg_bytes(width: int = 32, height: int = 24, value: int = 128) -> bytes:
    """A real, decodable JPEG of a flat grey image."""
    import cv2
    import numpy as np

    return cv2.imencode(".jpg", np.full((height, width, 3), value, np.uint8))[1].tobytes()


def frame_payload(seq: int, camera: str = "door", session: int = 1, **changes: object) -> dict[str, object]:
    """A valid frame payload as the capture daemon sends it."""
    payload: dict[str, object] = {"camera": camera, "session": session, "seq": seq, "captured_at": 1000.0 + seq,
                                  "width": 32, "height": 24, "jpeg": jpeg_bytes()}
    payload.update(changes)
    return payload


def feed_frame(seq: int, algorithms: tuple[str, ...] = ("blink",), camera: str = "door",
               session: int = 1, **stats: object) -> dict[str, object]:
    """A feed message for one frame, as streamers receive it."""
    return {"kind": "frame", "frame": frame_payload(seq, camera, session), "algorithms": list(algorithms),
            "stats": {"camera": camera, "state": "streaming", "captured": seq + 1, "sent": seq + 1, **stats}}


def incident_event(camera: str = "door", seq: int = 0, kind: str = "fall", type: str = "new",
                   session: int = 1, start_seq: int | None = None, **details: object) -> Event:
    """An incident event as the tracker makes them (``time`` = 1000 + seq)."""
    start_seq = seq if start_seq is None else start_seq
    return Event(
        id=event_id(camera, session, kind, start_seq), type=type, camera=camera, session=session,
        algorithm={"drowsy": "blink", "looking_away": "pose", "distress": "emotion"}.get(kind, kind), kind=kind,
        severity="warning", start_seq=start_seq, start=1000.0 + start_seq, seq=seq, time=1000.0 + seq,
        end=1000.0 + seq if type == "end" else None, score=float(details.get("confidence", 1.0)),  # type: ignore[arg-type]
        details=dict(details),
    )
