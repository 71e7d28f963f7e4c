"""The streamer's core: join results to frames, run the event rules, keep the live view.

Threads feed it (the capture feed, the result listener); one processing thread calls
:meth:`StreamCore.process` a few hundred times a second. Per camera, the rules see
observations in frame order. HTTP handlers read :class:`CameraView` objects and
subscribe to events; they never block the processing thread.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from vigil.capture.daemon import CameraState
from vigil.detectors.base import Event, EventRule, Observation
from vigil.detectors.registry import create_rule, parse_observation
from vigil.errors import VigilError
from vigil.frames import Frame, check_camera_name
from vigil.settings import Settings
from vigil.stream.events import EventStore
from vigil.stream.metrics import Registry
from vigil.stream.overlay import annotate
from vigil.stream.reassembly import JoinedFrame, Reassembler
from vigil.stream.recorder import Recorder

log = logging.getLogger(__name__)

RECENT_EVENTS = 200
RECENT_LATENCIES = 10_000


@dataclasses.dataclass(frozen=True)
class AnnotatedFrame:
    """An encoded annotated frame and what was drawn on it."""

    version: int
    seq: int
    jpeg: bytes
    overlays: dict[str, int]  # algorithm -> seq of the result drawn (always this frame's)


class CameraView:
    """The latest joined frame of one camera; its annotated JPEG is encoded at most once."""

    def __init__(self, name: str, quality: int) -> None:
        self.name = name
        self.quality = quality
        self.version = 0
        self.frame: JoinedFrame | None = None
        self.observations: dict[str, Observation | None] = {}
        self.summaries: dict[str, dict[str, Any]] = {}
        self.capture_stats: dict[str, Any] = {}
        self.viewers = 0
        self._annotated: AnnotatedFrame | None = None
        self._lock = threading.Lock()

    def update(self, frame: JoinedFrame, observations: dict[str, Observation | None],
               summaries: dict[str, dict[str, Any]]) -> None:
        with self._lock:
            self.frame, self.observations, self.summaries = frame, observations, summaries
            self.version += 1

    def annotated(self) -> AnnotatedFrame | None:
        """The latest frame with overlays; encoded at most once per frame."""
        with self._lock:
            version, frame = self.version, self.frame
            observations, summaries = self.observations, self.summaries
            cached = self._annotated
        if frame is None:
            return None
        if cached is not None and cached.version == version:
            return cached
        jpeg = annotate(frame, observations, summaries, self.quality)
        overlays = {name: int(result.get("seq", -1)) for name, result in frame.results.items()}
        with self._lock:
            if self._annotated is None or self._annotated.version < version:
                self._annotated = AnnotatedFrame(version, frame.seq, jpeg, overlays)
            return self._annotated

    def results(self) -> dict[str, Any]:
        """The latest joined results as JSON-able data."""
        with self._lock:
            frame, summaries = self.frame, self.summaries
        if frame is None:
            return {"camera": self.name, "frame": None}
        return {"camera": self.name, "frame": frame_record(frame), "summaries": summaries}


def frame_record(frame: JoinedFrame) -> dict[str, Any]:
    """A joined frame as JSON-able data (what the API and reports show)."""
    return {
        "camera": frame.camera,
        "session": frame.session,
        "seq": frame.seq,
        "captured_at": frame.captured_at,
        "emitted_at": frame.emitted_at,
        "latency": (frame.emitted_at or frame.arrived_at) - frame.captured_at,
        "complete": frame.complete,
        "missing": list(frame.missing),
        "results": {
            name: {
                "status": result.get("status"),
                "error": result.get("error"),
                "detector": result.get("detector"),
                "observation": result.get("observation"),
                "timings": result.get("timings"),
                "seq": result.get("seq"),
            }
            for name, result in frame.results.items()
        },
    }


class StreamCore:
    """Joins, orders, runs rules, stores events, updates views and metrics.

    Args:
        settings: Vigil settings (deadline, JPEG quality).
        events: where events are stored.
        recorder: receives every emitted frame's record and every event (reports, audits).
    """

    def __init__(self, settings: Settings, events: EventStore, *, recorder: Recorder | None = None) -> None:
        self.settings = settings
        self.events = events
        self.recorder = recorder
        self.views: dict[str, CameraView] = {}
        self.recent_events: deque[dict[str, Any]] = deque(maxlen=RECENT_EVENTS)
        self.recent_latencies: deque[float] = deque(maxlen=RECENT_LATENCIES)
        self.event_count = 0
        self.event_listeners: list[Callable[[dict[str, Any]], None]] = []
        self.frame_listeners: list[Callable[[str], None]] = []
        self._reassembler = Reassembler(settings.result_deadline)
        self._rules: dict[tuple[str, str], EventRule] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self.started_at = time.time()
        self._init_metrics()

    # -- inputs (any thread) ------------------------------------------------------------

    def on_feed(self, message: dict[str, Any]) -> None:
        """A message from the capture feed: a frame or a capture status report."""
        try:
            kind = message.get("kind")
            if kind == "frame":
                frame = Frame.from_payload(message["frame"], self.settings.max_payload_bytes)
                camera = check_camera_name(frame.camera)
                with self._lock:
                    self._reassembler.add_frame(frame, message.get("algorithms", ()), time.time())
                self.m_received.inc(camera=camera)
                self._capture_stats(camera, message.get("stats") or {})
            elif kind == "status":
                self._capture_stats(check_camera_name(str(message["camera"])), message.get("stats") or {})
            else:
                raise ValueError(f"unknown kind {kind!r}")
        except (KeyError, TypeError, ValueError, VigilError) as exc:
            log.warning("ignoring a malformed feed message: %s", exc)
            return
        self._wake.set()

    def on_result(self, camera: str, session: int, seq: int, algorithm: str, result: dict[str, Any]) -> None:
        """A result from the backend (its ids come from the task id)."""
        status = result.get("status", "error")
        self.m_results.inc(camera=camera, algorithm=algorithm, status=status)
        timings = result.get("timings") or {}
        if "queue_wait" in timings:
            self.m_queue_wait.observe(float(timings["queue_wait"]), algorithm=algorithm)
        if "detect" in timings:
            self.m_detect.observe(float(timings["detect"]), algorithm=algorithm)
        with self._lock:
            accepted = self._reassembler.add_result(camera, session, seq, algorithm, result, time.time())
        if not accepted:
            self.m_late.inc(camera=camera, algorithm=algorithm)
        self._wake.set()

    def pending_task_ids(self) -> list[str]:
        """Task ids still awaited (for result sources that must poll)."""
        from vigil.capture.dispatch import task_id_for

        with self._lock:
            return [
                task_id_for(frame.camera, frame.session, frame.seq, name)
                for frame in self._reassembler.pending_frames()
                for name in frame.missing
            ]

    # -- processing (one thread) --------------------------------------------------------

    def run(self, stop: threading.Event, interval: float = 0.002) -> None:
        """Process until ``stop`` is set."""
        while not stop.is_set():
            self._wake.wait(interval)
            self._wake.clear()
            self.process()

    def process(self, now: float | None = None) -> int:
        """Emit every ready frame; returns how many."""
        now = time.time() if now is None else now
        with self._lock:
            ready = self._reassembler.pop_ready(now)
        for frame in ready:
            self._emit(frame)
        return len(ready)

    def idle(self) -> bool:
        with self._lock:
            return self._reassembler.pending_count() == 0

    def _emit(self, frame: JoinedFrame) -> None:
        observations: dict[str, Observation | None] = {}
        summaries: dict[str, dict[str, Any]] = {}
        for algorithm in frame.expected:
            result = frame.results.get(algorithm)
            if result is None:
                self.m_missing.inc(camera=frame.camera, algorithm=algorithm)
            observations[algorithm], summaries[algorithm] = self._apply_rule(frame, algorithm, result)
        latency = (frame.emitted_at or time.time()) - frame.captured_at
        self.m_e2e.observe(latency, camera=frame.camera)
        self.recent_latencies.append(latency)
        self.m_emitted.inc(camera=frame.camera, complete=str(frame.complete).lower())
        view = self.views.get(frame.camera)
        if view is None:
            view = self.views[frame.camera] = CameraView(frame.camera, self.settings.jpeg_quality)
        view.update(frame, observations, summaries)
        if view.viewers:
            view.annotated()  # encode once here, off the HTTP loop, for every viewer
        if self.recorder is not None:
            self.recorder.frame(frame_record(frame))
        for listener in self.frame_listeners:
            listener(frame.camera)

    def _apply_rule(
        self, frame: JoinedFrame, algorithm: str, result: dict[str, Any] | None
    ) -> tuple[Observation | None, dict[str, Any]]:
        ok = result is not None and result.get("status") == "ok"
        if result is not None and ok and result.get("detector", algorithm) != algorithm:
            return None, {}  # a synthetic benchmark detector: no rule applies
        key = (frame.camera, algorithm)
        try:
            rule = self._rules.get(key)
            if rule is None:
                rule = self._rules[key] = create_rule(algorithm, frame.camera)
            observation = parse_observation(algorithm, result["observation"]) if result is not None and ok else None
            events = rule.update(frame.seq, frame.captured_at, observation)
            summary = rule.summary()
        except Exception:  # a rule bug must not stop the stream
            log.exception("rule %s failed on frame %s#%s", algorithm, frame.camera, frame.seq)
            return None, {}
        for event in events:
            self._store_event(event)
        return observation, summary

    def _store_event(self, event: Event) -> None:
        data = event.to_dict()
        log.info("event %s on %s at frame %d: %s", event.kind, event.camera, event.seq, event.details)
        self.m_events.inc(camera=event.camera, kind=event.kind)
        self.event_count += 1
        self.recent_events.append(data)
        if self.recorder is not None:
            self.recorder.event(data)
        try:
            self.events.append(event)
        except VigilError as exc:
            log.error("event %s on %s#%d not stored: %s", event.kind, event.camera, event.seq, exc)
        for listener in self.event_listeners:
            listener(data)

    # -- metrics ------------------------------------------------------------------------

    def _init_metrics(self) -> None:
        registry = self.metrics = Registry()
        self.m_captured = registry.counter("vigil_frames_captured_total", "Frames captured by the capture daemon.")
        self.m_sent = registry.counter("vigil_frames_sent_total", "Frames sent to the broker by the capture daemon.")
        self.m_dropped = registry.counter(
            "vigil_frames_dropped_total", "Frames dropped by the capture daemon (broker slow or down)."
        )
        self.m_reconnects = registry.counter("vigil_camera_reconnects_total", "Times a camera was reopened.")
        self.m_state = registry.gauge("vigil_camera_state", "1 for the camera's current capture state.")
        self.m_received = registry.counter("vigil_frames_received_total", "Frames the streamer received.")
        self.m_emitted = registry.counter(
            "vigil_frames_emitted_total", "Joined frames emitted, complete or not (results missing at deadline)."
        )
        self.m_results = registry.counter("vigil_results_total", "Results received, by algorithm and status.")
        self.m_missing = registry.counter(
            "vigil_results_missing_total", "Results missing when their frame was emitted (dropped or late)."
        )
        self.m_late = registry.counter("vigil_results_late_total", "Results that arrived after their frame.")
        self.m_events = registry.counter("vigil_events_total", "Events raised by the rules.")
        self.m_queue_wait = registry.histogram(
            "vigil_queue_wait_seconds", "Capture to worker start (time a frame waited in the queue)."
        )
        self.m_detect = registry.histogram("vigil_detect_seconds", "Detector time per frame.")
        self.m_e2e = registry.histogram(
            "vigil_end_to_end_seconds", "Capture to joined in the streamer (all results or deadline)."
        )

    def _capture_stats(self, camera: str, stats: dict[str, Any]) -> None:
        if not stats:
            return
        for metric, key in ((self.m_captured, "captured"), (self.m_sent, "sent"), (self.m_dropped, "dropped"),
                            (self.m_reconnects, "reconnects")):
            if key in stats:
                metric.set_total(float(stats[key]), camera=camera)
        state = stats.get("state")
        if state:
            for candidate in CameraState.ALL:
                self.m_state.set(1.0 if candidate == state else 0.0, camera=camera, state=candidate)
        view = self.views.get(camera)
        if view is None:
            view = self.views[camera] = CameraView(camera, self.settings.jpeg_quality)
        view.capture_stats = dict(stats)

    def counters(self) -> dict[str, int]:
        import dataclasses

        return dataclasses.asdict(self._reassembler.counters)
