"""Running one algorithm on one frame: the pure function behind every detection task.

A result is a small JSON-able dict::

    {"camera": "door", "session": 1764230000123, "seq": 42, "algorithm": "fall",
     "detector": "fall", "status": "ok", "error": null, "observation": {...},
     "captured_at": 1764230001.25, "started_at": ..., "finished_at": ...,
     "timings": {"queue_wait": 0.004, "decode": 0.0015, "detect": 0.012}}

A bad frame gets ``status: "error"`` and a message; it is never retried (a retry would
fail the same way and arrive stale).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from vigil.detectors.registry import load_detector
from vigil.errors import DetectorError, FrameError
from vigil.frames import Frame, decode_frame

log = logging.getLogger(__name__)

STATUS_OK = "ok"
STATUS_ERROR = "error"


def detect_frame(payload: Any, algorithm: str, *, max_bytes: int, override: str = "") -> dict[str, Any]:
    """Decode ``payload``'s JPEG, run ``algorithm``'s detector on it, return the result dict.

    Never raises for a bad frame or a failing detector: the error is in the result.
    """
    started_at = time.time()
    result = _result_skeleton(payload, algorithm, started_at)
    try:
        frame = Frame.from_payload(payload, max_bytes)
        tick = time.perf_counter()
        image = decode_frame(frame)
        decoded = time.perf_counter()
        detector = load_detector(algorithm, override or None)
        loaded = time.perf_counter()
        observation = detector.detect(image)
        detected = time.perf_counter()
    except (FrameError, DetectorError) as exc:
        log.warning("%s on frame %s#%s failed: %s", algorithm, result["camera"], result["seq"], exc)
        return _with_error(result, exc)
    except Exception as exc:  # a detector bug must not take the worker down
        log.exception("%s detector crashed on frame %s#%s", algorithm, result["camera"], result["seq"])
        return _with_error(result, exc)
    result.update(
        status=STATUS_OK,
        detector=override or algorithm,
        observation=observation.to_dict(),
        finished_at=time.time(),
        timings={
            "queue_wait": max(0.0, started_at - frame.captured_at),
            "decode": decoded - tick,
            "load": loaded - decoded,
            "detect": detected - loaded,
        },
    )
    return result


def _result_skeleton(payload: Any, algorithm: str, started_at: float) -> dict[str, Any]:
    fields = payload if isinstance(payload, dict) else {}
    return {
        "camera": str(fields.get("camera", "?")),
        "session": fields.get("session"),
        "seq": fields.get("seq"),
        "algorithm": algorithm,
        "detector": algorithm,
        "status": STATUS_ERROR,
        "error": None,
        "observation": None,
        "captured_at": fields.get("captured_at"),
        "started_at": started_at,
        "finished_at": None,
        "timings": {},
    }


def _with_error(result: dict[str, Any], exc: Exception) -> dict[str, Any]:
    result.update(status=STATUS_ERROR, error=f"{type(exc).__name__}: {exc}", finished_at=time.time())
    return result
