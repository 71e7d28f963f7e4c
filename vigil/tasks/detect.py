"""Running one algorithm on one frame: the pure function behind every detection task.

The task returns :meth:`DetectionResult.to_dict` (see :mod:`vigil.messages`). A bad
frame gets ``status: "error"`` and a message; it is never retried (a retry would fail
the same way and arrive stale).
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

from vigil.detectors.faces import FaceAlgorithm
from vigil.detectors.registry import load_detector
from vigil.errors import DetectorError, FrameError
from vigil.frames import Frame, apply_masks, decode_frame, jpeg_dimensions
from vigil.messages import STATUS_OK, DetectionResult, TaskRef
from vigil.tasks.face_share import FaceShare, frame_key

log = logging.getLogger(__name__)


def detect_frame(payload: Any, algorithm: str, *, max_bytes: int, override: str = "",
                 faces: FaceShare | None = None) -> DetectionResult:
    """Decode ``payload``'s JPEG, blank its masks, run ``algorithm``'s detector on it, return the result.

    ``faces``: where a face algorithm gets the frame's faces found by another algorithm's task
    (``None``: it finds them itself). Never raises for a bad frame or a failing detector: the
    error is in the result.
    """
    started_at = time.time()
    ref = _ref(payload, algorithm)
    captured_at = _captured_at(payload)
    faced = 0.0  # when the frame's faces were in hand, for a face algorithm sharing them
    try:
        frame = Frame.from_payload(payload, max_bytes)
        tick = time.perf_counter()
        detector = load_detector(algorithm, override or None)
        loaded = time.perf_counter()
        # A detector with a small model input may take the frame decoded at 1/2, 1/4 or 1/8.
        min_side = getattr(detector, "min_side", 0)
        image = apply_masks(decode_frame(frame, min_side), frame.masks)  # the camera's masks: never detected
        decoded = time.perf_counter()
        if min_side:
            full_size = jpeg_dimensions(frame.jpeg)  # decode_frame has checked it is there
            observation = detector.detect(image, full_size=full_size)  # type: ignore[call-arg]
        elif faces is not None and isinstance(detector, FaceAlgorithm):
            key = frame_key(frame.camera, frame.session, frame.seq)
            meshes, _ = faces.meshes(key, functools.partial(detector.find_faces, image))
            faced = time.perf_counter()
            observation = detector.detect(image, faces=meshes)
        else:
            observation = detector.detect(image)
        detected = time.perf_counter()
    except (FrameError, DetectorError) as exc:
        log.warning("%s on frame %s#%s failed: %s", algorithm, ref.camera, ref.seq, exc)
        return _failed(ref, algorithm, exc, captured_at, started_at)
    except Exception as exc:  # a detector bug must not take the worker down
        log.exception("%s detector crashed on frame %s#%s", algorithm, ref.camera, ref.seq)
        return _failed(ref, algorithm, exc, captured_at, started_at)
    return DetectionResult(
        camera=frame.camera, session=frame.session, seq=frame.seq, algorithm=algorithm,
        status=STATUS_OK, detector=override or algorithm, observation=observation.to_dict(),
        captured_at=frame.captured_at, started_at=started_at, finished_at=time.time(),
        timings={
            "queue_wait": max(0.0, started_at - frame.captured_at),
            "decode": decoded - loaded,
            "load": loaded - tick,
            "detect": detected - decoded,
            **({"faces": faced - decoded} if faced else {}),
        },
    )


def _ref(payload: Any, algorithm: str) -> TaskRef:
    """What the payload says it is, as far as it can be read (for error results and logs)."""
    fields = payload if isinstance(payload, dict) else {}
    return TaskRef(str(fields.get("camera", "?")), _int_or(fields.get("session")), _int_or(fields.get("seq")),
                   algorithm)


def _int_or(value: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _captured_at(payload: Any) -> float | None:
    try:
        return float(payload["captured_at"])
    except (TypeError, ValueError, KeyError):
        return None


def _failed(ref: TaskRef, algorithm: str, exc: Exception, captured_at: float | None,
            started_at: float) -> DetectionResult:
    return DetectionResult.failed(ref, algorithm, f"{type(exc).__name__}: {exc}", captured_at=captured_at,
                                  started_at=started_at, finished_at=time.time())
