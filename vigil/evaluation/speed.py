"""Speed: median CPU time of each detector's ``detect()`` on one real frame, one thread.

The frame comes from the labelled folder itself (a labelled fall onset for the fall
detector, the middle of a labelled face range for the face detectors), so the step works
on any folder laid out like ``../shared/data``.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from vigil.detectors.emotion import EMOTIONS
from vigil.detectors.registry import BUILTIN, load_detector
from vigil.evaluation.labels import Labels, videos

TIMING_SIZE = (640, 480)
TIMING_RUNS = 30
ALGORITHMS = tuple(BUILTIN)
# Labels that put a face on screen, by preference: an expression range shows a face with its eyes
# open, a blink range is mostly closed eyes, a pose clip may not have a face in its middle frame.
FACE_KEYS = (EMOTIONS, ("blinks", "eyes_closed_long"))


def timing_frames(clips: Labels) -> dict[str, tuple[str, int]]:
    """(clip, frame) to time each algorithm on; an algorithm is left out when no clip fits.

    The fall detector is timed on the first labelled fall onset (a person in view), the face
    detectors on the middle of the first labelled expression range, else of the first blink
    range, else on the middle frame of the first head-pose clip.
    """
    names = videos(clips)
    fall = next(((c, int(clips[c]["falls"][0]["onset"])) for c in names if clips[c].get("falls")), None)
    face: tuple[str, int] | None = None
    for keys in FACE_KEYS:
        spans = [(c, span) for c in names for key in keys for span in clips[c].get(key, [])]
        if spans:
            clip, (first, last) = spans[0]
            face = (clip, (int(first) + int(last)) // 2)
            break
    if face is None:
        posed = [c for c in names if "yaw_extremes" in clips[c] or "pitch_extremes" in clips[c]]
        face = (posed[0], int(clips[posed[0]].get("frames", 2)) // 2) if posed else None
    chosen = {"fall": fall, "emotion": face, "pose": face, "blink": face}
    return {name: where for name, where in chosen.items() if where is not None}


def frame_at(path: Path, index: int) -> np.ndarray:
    """Frame ``index`` of a clip, decoded in order (seeking is not frame-exact on every codec)."""
    capture = cv2.VideoCapture(str(path))
    try:
        frame = None
        for _ in range(index + 1):
            ok, image = capture.read()
            if not ok:
                break
            frame = image
    finally:
        capture.release()
    if frame is None:
        raise FileNotFoundError(f"cannot decode {path}")
    return frame


def measure(data_dir: Path, clips: Labels) -> dict[str, dict[str, object]]:
    """Median ms a frame per detector on its timing frame resized to 640x480, one thread."""
    result: dict[str, dict[str, object]] = {}
    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        for algorithm, (clip, index) in timing_frames(clips).items():
            image = cv2.resize(frame_at(data_dir / clip, index), TIMING_SIZE)
            detector = load_detector(algorithm)
            detector.detect(image)
            costs = []
            for _ in range(TIMING_RUNS):
                tick = time.process_time()
                detector.detect(image)
                costs.append((time.process_time() - tick) * 1000)
            result[algorithm] = {"ms": statistics.median(costs), "clip": clip, "frame": index}
    finally:
        cv2.setNumThreads(previous)
    return result
