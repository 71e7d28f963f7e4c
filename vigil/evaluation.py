"""Accuracy and speed of the four detectors and their rules on labelled footage.

``run_evaluation(data_dir)`` runs every detector and its event rule over the clips
that ``labels.json`` labels for it, scores them as issue 3 asks, and returns a
markdown report (also written to ``docs/accuracy.md`` by ``scripts/evaluate.py`` and
``vigil evaluate``). Rules are fed frame timestamps from the clip's frame rate, so
they run exactly as the streamer runs them.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import json
import logging
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vigil.detectors.base import Event
from vigil.detectors.registry import create_rule, load_detector

log = logging.getLogger(__name__)

LABELS_FILE = "labels.json"
FALL_WINDOW_S = 2.0
BLINK_TOLERANCE = 3
FLIP_DEGREES = 45.0
TIMING_SIZE = (640, 480)
TIMING_RUNS = 30
EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
_OPTIONAL_BLINK = re.compile(r"(\d+)-(\d+) is a partial blink")


@dataclasses.dataclass
class ClipRun:
    """One detector and rule over one clip: per-frame observations and all events."""

    observations: list[Any]
    events: list[Event]
    summaries: list[dict[str, Any]]


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


def run_clip(algorithm: str, path: Path, fps: float) -> ClipRun:
    """Run ``algorithm``'s detector and a fresh rule over every frame of ``path``."""
    detector = load_detector(algorithm)
    rule = create_rule(algorithm, camera=path.stem)
    run = ClipRun([], [], [])
    for seq, frame in enumerate(read_frames(path)):
        observation = detector.detect(frame)
        run.observations.append(observation)
        run.events.extend(rule.update(seq, seq / fps, observation))
        run.summaries.append(rule.summary())
    log.info("%s on %s: %d frames, %d events", algorithm, path.name, len(run.observations), len(run.events))
    return run


class Evaluation:
    """Runs the clips once each and keeps the runs, so every measure can reuse them."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.clips: dict[str, dict[str, Any]] = json.loads((data_dir / LABELS_FILE).read_text())["clips"]
        self._runs: dict[tuple[str, str], ClipRun] = {}

    def videos(self) -> list[str]:
        return [name for name in self.clips if name.endswith(".mp4")]

    def run(self, algorithm: str, clip: str) -> ClipRun:
        key = (algorithm, clip)
        if key not in self._runs:
            self._runs[key] = run_clip(algorithm, self.data_dir / clip, float(self.clips[clip]["fps"]))
        return self._runs[key]

    # -- fall ---------------------------------------------------------------------------
    def fall(self) -> dict[str, Any]:
        found, delays, false_alarms, missed = 0, [], {}, []
        total = 0
        for clip in self.videos():
            labels = self.clips[clip]
            fps = float(labels["fps"])
            falls = [e for e in self.run("fall", clip).events if e.kind == "fall"]
            unmatched = list(falls)
            for truth in labels.get("falls", []):
                total += 1
                onset = truth["onset"]
                hit = next(
                    (e for e in unmatched
                     if abs(e.seq - onset) <= FALL_WINDOW_S * fps
                     and onset <= e.details["detected_seq"] <= onset + FALL_WINDOW_S * fps),
                    None,
                )  # fmt: skip
                if hit is None:
                    missed.append(f"{clip}@{onset}")
                    continue
                unmatched.remove(hit)
                found += 1
                delays.append((hit.details["detected_seq"] - onset) / fps)
            if unmatched:
                false_alarms[clip] = [e.seq for e in unmatched]
        return {
            "falls": total,
            "found": found,
            "delays_s": delays,
            "false_alarms": false_alarms,
            "missed": missed,
        }

    # -- blink --------------------------------------------------------------------------
    def blink(self) -> dict[str, Any]:
        per_clip = {}
        totals: collections.Counter[str] = collections.Counter()
        for clip in self.videos():
            labels = self.clips[clip]
            if "blinks" not in labels and "eyes_closed_long" not in labels:
                continue
            optional = {(int(a), int(b)) for a, b in _OPTIONAL_BLINK.findall(labels.get("notes", ""))}
            truths = [tuple(r) for r in labels.get("blinks", [])]
            required = [r for r in truths if r not in optional]
            closures = [tuple(r) for r in labels.get("eyes_closed_long", [])]
            events = self.run("blink", clip).events
            blinks = [(e.seq, int(e.details["end_seq"])) for e in events if e.kind == "blink"]
            closed = [e.seq for e in events if e.kind == "eyes_closed"]
            tp_pred = fp = 0
            matched: set[tuple[int, int]] = set()
            unmatched: list[tuple[int, int]] = []
            for start, end in blinks:
                hits = [t for t in truths if _overlaps((start, end), t, BLINK_TOLERANCE)]
                if hits:
                    matched.update(hits)
                    if any(h not in optional for h in hits):
                        tp_pred += 1
                else:
                    fp += 1
                    unmatched.append((start, end))
            hit_required = sum(1 for t in required if t in matched)
            closures_ok = sum(
                1 for a, b in closures
                if sum(a - BLINK_TOLERANCE <= s <= b for s in closed) == 1
                and not any(_overlaps(p, (a, b), 0) for p in blinks)
            )  # fmt: skip
            stray_closed = sum(
                1 for s in closed if not any(a - BLINK_TOLERANCE <= s <= b for a, b in closures)
            )
            per_clip[clip] = {
                "blinks": len(required), "found": hit_required, "predicted": tp_pred + fp, "false": fp,
                "closures": len(closures), "closures_ok": closures_ok, "stray_closed": stray_closed,
                "false_events": unmatched,
            }  # fmt: skip
            totals.update(
                {
                    "tp_pred": tp_pred,
                    "fp": fp,
                    "required": len(required),
                    "found": hit_required,
                    "closures": len(closures),
                    "closures_ok": closures_ok,
                    "stray_closed": stray_closed,
                }
            )
        predicted = totals["tp_pred"] + totals["fp"]
        return {
            "per_clip": per_clip,
            "precision": totals["tp_pred"] / predicted if predicted else 1.0,
            "recall": totals["found"] / totals["required"] if totals["required"] else 1.0,
            **totals,
        }

    # -- head pose ----------------------------------------------------------------------
    def pose(self) -> dict[str, Any]:
        rows = {}
        flips = 0
        for clip in self.videos():
            labels = self.clips[clip]
            keys = [k for k in ("yaw_extremes", "pitch_extremes") if k in labels]
            if not keys and "yaw_range" not in labels:
                continue
            observations = self.run("pose", clip).observations
            angles = np.array([
                [o.faces[0].yaw, o.faces[0].pitch, o.faces[0].roll] if o.faces else [np.nan] * 3
                for o in observations
            ])  # fmt: skip
            flips += _count_flips(angles)
            for key in keys:
                column = 0 if key.startswith("yaw") else 1
                errors, signs = [], []
                for frame, truth in labels[key].items():
                    value = angles[int(frame), column]
                    if np.isnan(value):
                        errors.append(float("inf"))
                        signs.append(False)
                        continue
                    errors.append(abs(value - truth))
                    signs.append(np.sign(value) == np.sign(truth))
                rows[key[:-9]] = {
                    "clip": clip,
                    "n": len(errors),
                    "sign": float(np.mean(signs)),
                    "mae": float(np.mean(errors)),
                }
            if "yaw_range" in labels:
                rows["stationary"] = {
                    "clip": clip,
                    "yaw_sd": float(np.nanstd(angles[:, 0])), "pitch_sd": float(np.nanstd(angles[:, 1])),
                    "yaw_spread": float(np.nanpercentile(angles[:, 0], 95) - np.nanpercentile(angles[:, 0], 5)),
                    "pitch_spread": float(np.nanpercentile(angles[:, 1], 95) - np.nanpercentile(angles[:, 1], 5)),
                    "yaw_median": float(np.nanmedian(angles[:, 0])),
                    "pitch_median": float(np.nanmedian(angles[:, 1])),
                    "yaw_label": labels["yaw_range"], "pitch_label": labels["pitch_range"],
                    "events": len(self.run("pose", clip).events),
                }  # fmt: skip
        return {"rows": rows, "flips": flips}

    # -- emotion ------------------------------------------------------------------------
    def emotion(self) -> dict[str, Any]:
        segments = []
        confusion: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        for clip in self.videos():
            labels = self.clips[clip]
            keys = [k for k in EMOTIONS if k in labels]
            if not keys:
                continue
            run = self.run("emotion", clip)
            smoothed = [s.get("label") or "none" for s in run.summaries]
            raw = [o.faces[0].label if o.faces else "none" for o in run.observations]
            for key in keys:
                for first, last in labels[key]:
                    window = smoothed[first : last + 1]
                    confusion[key].update(window)
                    segments.append({
                        "clip": clip, "label": key, "range": (first, last),
                        "share": sum(x == key for x in window) / len(window),
                        "raw_share": sum(x == key for x in raw[first : last + 1]) / len(window),
                        "top": collections.Counter(window).most_common(2),
                    })  # fmt: skip
        stills = {}
        detector = load_detector("emotion")
        for name, labels in self.clips.items():
            if name.endswith(".jpg") and "expression" in labels:
                image = cv2.imread(str(self.data_dir / name))
                if image is None:
                    raise FileNotFoundError(self.data_dir / name)
                faces = getattr(detector.detect(image), "faces", ())
                stills[name] = (labels["expression"], faces[0].label if faces else "none")
        return {"segments": segments, "confusion": confusion, "stills": stills}

    # -- silence on the empty clip --------------------------------------------------------
    def no_face(self) -> dict[str, dict[str, int]]:
        result = {}
        for clip in self.videos():
            if "no_person" not in self.clips[clip] or "falls" in self.clips[clip]:
                continue
            for algorithm in ("fall", "emotion", "pose", "blink"):
                run = self.run(algorithm, clip)
                seen = sum(bool(_found(o)) for o in run.observations)
                # The fall detector also reports weak candidates (score >= 0.3) for its rule to
                # follow people on the floor; count separately what its rule treats as a person.
                confident = sum(
                    any(p.score >= 0.5 for p in getattr(o, "people", ())) for o in run.observations
                ) if algorithm == "fall" else seen  # fmt: skip
                result[f"{algorithm} on {clip}"] = {
                    "frames_with_detections": seen, "frames_with_confident": confident, "events": len(run.events),
                }  # fmt: skip
        return result

    # -- speed --------------------------------------------------------------------------
    def timing(self) -> dict[str, float]:
        """Median ms a frame per detector on a real 640x480 frame, one thread."""
        frames = {
            "fall": "fall/fall_room_sit_then_fall_320x240.mp4",
            "face": "expression/sad_to_happy_640x360.mp4",
        }
        result = {}
        previous = cv2.getNumThreads()
        cv2.setNumThreads(1)
        try:
            for algorithm in ("fall", "emotion", "pose", "blink"):
                clip = frames["fall" if algorithm == "fall" else "face"]
                frame = next(f for i, f in enumerate(read_frames(self.data_dir / clip)) if i == 150)
                image = cv2.resize(frame, TIMING_SIZE)
                detector = load_detector(algorithm)
                detector.detect(image)
                costs = []
                for _ in range(TIMING_RUNS):
                    tick = time.process_time()
                    detector.detect(image)
                    costs.append((time.process_time() - tick) * 1000)
                result[algorithm] = statistics.median(costs)
        finally:
            cv2.setNumThreads(previous)
        return result


def _found(observation: Any) -> int:
    return len(getattr(observation, "faces", ()) or getattr(observation, "people", ()))


def _overlaps(a: tuple[int, int], b: tuple[int, int], tolerance: int) -> bool:
    return a[0] <= b[1] + tolerance and b[0] - tolerance <= a[1]


def _count_flips(angles: np.ndarray) -> int:
    """Frame-to-frame jumps over FLIP_DEGREES in any angle (a pose solver's +-180 flip)."""
    valid = angles[~np.isnan(angles[:, 0])]
    if len(valid) < 2:
        return 0
    jumps = np.abs((np.diff(valid, axis=0) + 180) % 360 - 180)
    return int((jumps > FLIP_DEGREES).any(axis=1).sum())


def run_evaluation(data_dir: Path, output: Path | None = None, command: str | None = None) -> str:
    """Evaluate all four detectors on ``data_dir``; return the markdown report.

    Args:
        data_dir: folder with ``labels.json`` and the clips it names.
        output: where to write the report (with the command and the date), if given.
        command: the command line to record; defaults to this process's ``argv``.

    Returns:
        The report's markdown text.
    """
    evaluation = Evaluation(Path(data_dir))
    results = collect(evaluation)
    report = render(results, command or " ".join(Path(sys.argv[0]).name.split() + sys.argv[1:]))
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(report)
        log.info("wrote %s", output)
    return report


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
    results = {}
    for name, step in steps.items():
        log.info("evaluating %s", name)
        results[name] = step()
    return results


def render(results: dict[str, Any], command: str) -> str:
    """The markdown report."""
    from vigil._accuracy_report import render_report

    return render_report(results, command, datetime.date.today().isoformat())
