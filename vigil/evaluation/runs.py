"""Running detectors and rules over labelled clips, and collecting every measure.

``Evaluation`` runs each (algorithm, clip) pair once and keeps the run, so every measure can
reuse it; the scoring itself lives in one pure module per algorithm.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vigil.detectors.base import Condition, Event, Observation
from vigil.detectors.emotion import EMOTIONS
from vigil.detectors.faces import FaceAlgorithm, FaceMesh
from vigil.detectors.lifecycle import IncidentTracker
from vigil.detectors.registry import BUILTIN, create_rule, load_detector, parse_observation, rule_cooldown
from vigil.evaluation import blinks, emotions, falls, headpose, speed
from vigil.evaluation.labels import Labels, in_ranges, load_labels, ranges, stills, unscored, videos
from vigil.frames import decode_jpeg, reduction_for
from vigil.messages import STATUS_OK, DetectionResult
from vigil.settings import DEFAULT_JPEG_QUALITY

log = logging.getLogger(__name__)


@dataclasses.dataclass
class ClipRun:
    """One detector and rule over one clip.

    Attributes:
        observations: per frame, what the detector saw.
        onsets: every condition the rule raised, once, on the frame it first held (what the
            rule decided, before cooldowns merge anything: what the fall scoring counts).
        events: the incident events a streamer would publish (cooldown and ends included).
        summaries: per frame, the rule's summary.
        record: the rule's own record of what it counted (the blink rule's blinks and long
            closures), empty for rules that keep none.
    """

    observations: list[Any]
    onsets: list[Condition]
    events: list[Event]
    summaries: list[dict[str, Any]]
    record: list[Any] = dataclasses.field(default_factory=list)


def read_frames(path: Path) -> Iterator[np.ndarray]:
    """Decode a clip's frames in order (BGR)."""
    capture = cv2.VideoCapture(str(path))
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield frame
    finally:
        capture.release()


def detect_as_a_worker(detector: Any, frame: np.ndarray, quality: int = DEFAULT_JPEG_QUALITY) -> Observation:
    """``detector`` on ``frame``, decoded reduced where a worker would decode it reduced.

    A detector with ``min_side`` (see ``vigil.tasks.detect``) gets a frame large enough to
    reduce JPEG-encoded at the wire's default quality and decoded at 1/2, 1/4 or 1/8, so the
    evaluation scores what the worker computes; every other frame is scored as decoded from
    the video, as before (JPEG alone changes the fall scores: docs/performance.md).
    """
    min_side = getattr(detector, "min_side", 0)
    height, width = frame.shape[:2]
    if reduction_for(width, height, min_side) == 1:
        return detector.detect(frame)
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("cannot JPEG-encode a frame")
    image = decode_jpeg(jpeg.tobytes(), min_side=min_side)
    return detector.detect(image, full_size=(width, height))  # type: ignore[no-any-return]


def run_clip(algorithm: str, path: Path, fps: float, faces: list[list[FaceMesh]] | None = None) -> ClipRun:
    """Run ``algorithm``'s detector and a fresh rule over every frame of ``path``.

    Each observation travels as the pipeline carries it, a :class:`DetectionResult` through
    JSON, before the rule sees it: what the evaluation scores is what the streamer would get.
    ``faces``: the clip's faces per frame, shared by the face algorithms as workers share
    them (frames not in it yet are added); ``None``: each detector finds its own.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path} is named in labels.json but missing")
    detector = load_detector(algorithm)
    feed = RuleFeed(algorithm, path.stem)
    for seq, frame in enumerate(read_frames(path)):
        if faces is not None and isinstance(detector, FaceAlgorithm):
            if seq == len(faces):
                faces.append(detector.find_faces(frame))
            found = detector.detect(frame, faces=faces[seq])
        else:
            found = detect_as_a_worker(detector, frame)
        observation = _through_the_wire(algorithm, path.stem, seq, found)
        feed.run.observations.append(observation)
        feed.update(seq, seq / fps, observation)
        feed.run.summaries.append(feed.rule.summary())
    run = feed.finish()
    log.info("%s on %s: %d frames, %d onsets, %d events", algorithm, path.name, len(run.observations),
             len(run.onsets), len(run.events))
    return run


class RuleFeed:
    """A fresh rule and its incident tracker, fed observations; what they made, as a :class:`ClipRun`."""

    def __init__(self, algorithm: str, camera: str) -> None:
        self.rule = create_rule(algorithm, camera=camera)
        self.incidents = IncidentTracker(camera, algorithm, rule_cooldown(self.rule))
        self.run = ClipRun([], [], [], [])
        self._seen: set[tuple[str, int, int]] = set()

    def update(self, seq: int, timestamp: float, observation: Any) -> None:
        conditions = self.rule.update(seq, timestamp, observation)
        for condition in conditions:
            key = (condition.kind, condition.subject, condition.start_seq)
            if key not in self._seen:
                self._seen.add(key)
                self.run.onsets.append(dataclasses.replace(condition, details={**condition.details, "seq": seq}))
        self.run.events.extend(self.incidents.update(0, seq, timestamp, conditions))

    def finish(self) -> ClipRun:
        self.run.events.extend(self.incidents.flush())
        self.run.record = list(getattr(self.rule, "history", ()))
        return self.run


def _through_the_wire(algorithm: str, camera: str, seq: int, observation: Observation) -> Observation:
    result = DetectionResult(camera=camera, session=0, seq=seq, algorithm=algorithm, status=STATUS_OK,
                             observation=observation.to_dict())
    received = DetectionResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert received.observation is not None  # an ok result always carries one
    return parse_observation(algorithm, received.observation)


class Evaluation:
    """Runs the clips once each and keeps the runs, so every measure can reuse them."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.clips: Labels = load_labels(self.data_dir)
        self._runs: dict[tuple[str, str], ClipRun] = {}
        self._faces: dict[str, list[list[FaceMesh]]] = {}  # per clip, per frame: found once, as workers do

    def videos(self) -> list[str]:
        return videos(self.clips)

    def fps(self, clip: str) -> float:
        """The labelled frame rate, else the one the file declares (labels.json may leave it out)."""
        if "fps" in self.clips[clip]:
            return float(self.clips[clip]["fps"])
        capture = cv2.VideoCapture(str(self.data_dir / clip))
        try:
            declared = float(capture.get(cv2.CAP_PROP_FPS))
        finally:
            capture.release()
        if not declared > 0:
            raise ValueError(f"{clip}: no fps in labels.json and none declared in the file")
        return declared

    def run(self, algorithm: str, clip: str) -> ClipRun:
        key = (algorithm, clip)
        if key not in self._runs:
            faces = self._faces.setdefault(clip, [])
            self._runs[key] = run_clip(algorithm, self.data_dir / clip, self.fps(clip), faces)
        return self._runs[key]

    def fall(self) -> dict[str, Any]:
        """Every video: a positive if it has ``falls`` labels, otherwise a negative."""
        per_clip = []
        for clip in self.videos():
            onsets = [int(f["onset"]) for f in self.clips[clip].get("falls", [])]
            calls = falls.fall_calls(self.run("fall", clip).onsets)
            per_clip.append(falls.score_fall_clip(clip, onsets, calls, self.fps(clip)))
        return falls.summarise(per_clip)

    def blink(self) -> dict[str, Any]:
        per_clip = {}
        for clip in self.videos():
            labels = self.clips[clip]
            if "blinks" not in labels and "eyes_closed_long" not in labels:
                continue
            record = self.run("blink", clip).record  # the rule's own count: blinks are not events
            per_clip[clip] = blinks.score_blink_clip(
                truths=ranges(labels, "blinks"),
                optional=blinks.optional_blinks(labels.get("notes", "")),
                closures=ranges(labels, "eyes_closed_long"),
                blinks=[(r.start_seq, r.end_seq) for r in record if r.kind == "blink"],
                closed=[r.start_seq for r in record if r.kind == "closure"],
            )
        return blinks.summarise(per_clip)

    def pose(self) -> dict[str, Any]:
        extremes, steady, flips = [], [], 0
        for clip in self.videos():
            labels = self.clips[clip]
            keys = [k for k in headpose.EXTREME_KEYS if k in labels]
            if not keys and "yaw_range" not in labels and "pitch_range" not in labels:
                continue
            run = self.run("pose", clip)
            angles = headpose.angles_of(run.observations)
            flips += headpose.count_flips(angles)
            for key in keys:
                angle, column = headpose.EXTREME_KEYS[key]
                scores = headpose.score_extremes(angles[:, column], labels[key])
                extremes.append({"clip": clip, "angle": angle, **scores})
            if "yaw_range" in labels or "pitch_range" in labels:
                steady.append({
                    "clip": clip, "yaw_label": labels.get("yaw_range"), "pitch_label": labels.get("pitch_range"),
                    "events": len(run.onsets), **headpose.steadiness(angles),
                })  # fmt: skip
        return {"extremes": extremes, "steady": steady, "flips": flips}

    def emotion(self) -> dict[str, Any]:
        segments = []
        for clip in self.videos():
            labels = self.clips[clip]
            keys = [k for k in EMOTIONS if k in labels]
            if not keys:
                continue
            run = self.run("emotion", clip)
            smoothed = [s.get("label") or emotions.NO_FACE for s in run.summaries]
            raw = [o.faces[0].label if o.faces else emotions.NO_FACE for o in run.observations]
            for key in keys:
                for span in ranges(labels, key):
                    segments.append(emotions.score_segment(clip, key, span, smoothed, raw))
        labelled_stills = {}
        detector = load_detector("emotion")
        for name in stills(self.clips):
            truth = self.clips[name].get("expression")
            if truth is None:
                continue
            image = cv2.imread(str(self.data_dir / name))
            if image is None:
                raise FileNotFoundError(f"{self.data_dir / name} is named in labels.json but cannot be read")
            faces = getattr(detector.detect(image), "faces", ())
            labelled_stills[name] = (truth, faces[0].label if faces else emotions.NO_FACE)
        table = emotions.confusion(segments, labelled_stills)
        return {
            "segments": segments, "stills": labelled_stills, "confusion": table, "per_class": emotions.per_class(table),
        }  # fmt: skip

    def no_face(self) -> dict[str, dict[str, int]]:
        """Every detector on the frames labelled ``no_person``: it should see nothing, raise nothing."""
        result = {}
        for clip in self.videos():
            empty = ranges(self.clips[clip], "no_person")
            if not empty:
                continue
            for algorithm in BUILTIN:
                run = self.run(algorithm, clip)
                frames = [o for seq, o in enumerate(run.observations) if in_ranges(seq, empty)]
                # The fall detector also reports weak candidates (score >= 0.3) for its rule to
                # follow people on the floor; count separately what its rule treats as a person.
                confident = sum(any(p.score >= 0.5 for p in getattr(o, "people", ())) for o in frames)
                seen = sum(bool(_found(o)) for o in frames)
                result[f"{algorithm} on {clip}"] = {
                    "frames": len(frames), "frames_with_detections": seen,
                    "frames_with_confident": confident if algorithm == "fall" else seen,
                    "events": sum(in_ranges(c.start_seq, empty) for c in run.onsets),
                }  # fmt: skip
        return result

    def timing(self) -> dict[str, dict[str, object]]:
        return speed.measure(self.data_dir, self.clips)


def _found(observation: Any) -> int:
    return len(getattr(observation, "faces", ()) or getattr(observation, "people", ()))


def collect(evaluation: Evaluation) -> dict[str, Any]:
    """Every measure, as plain data (the integration tests assert on this)."""
    steps: dict[str, Callable[[], Any]] = {
        "fall": evaluation.fall,
        "blink": evaluation.blink,
        "pose": evaluation.pose,
        "emotion": evaluation.emotion,
        "no_face": evaluation.no_face,
        "timing": evaluation.timing,
    }
    results: dict[str, Any] = {"unscored": unscored(evaluation.clips)}
    for name in results["unscored"]:
        log.warning("%s in labels.json is neither a video nor a still by its suffix: not scored", name)
    for name, step in steps.items():
        log.info("evaluating %s", name)
        results[name] = step()
    return results
