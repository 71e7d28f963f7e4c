"""The streamer's core: takes frames and results in, emits joined frames in order.

Threads feed it (the capture feed, the result listener); one processing thread calls
:meth:`StreamCore.process` a few hundred times a second. Each emitted frame goes
through the camera's rules (:mod:`~vigil.stream.rules`), its events to the event log
(:mod:`~vigil.stream.events`), the frame to its camera's view (:mod:`~vigil.stream.views`)
and the counts to the metrics (:mod:`~vigil.stream.metrics`). HTTP handlers read views
and subscribe to events; they never block the processing thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vigil.detectors.base import Event
from vigil.detectors.registry import algorithm_names
from vigil.errors import VigilError
from vigil.logs import RateLimitedLog
from vigil.messages import DetectionResult, FrameMessage, TaskRef, parse_feed_message
from vigil.settings import Settings
from vigil.stream.admission import MALFORMED, UNKNOWN_CAMERA, Admission, bounded_stats
from vigil.stream.events import EventCollector, EventLog
from vigil.stream.health import WINDOW_SECONDS, FrameWindow, Health, HealthInputs, evaluate, requested_algorithms
from vigil.stream.ingest import Ingest
from vigil.stream.media import MediaRecorder
from vigil.stream.metrics import QueueProbe, StreamMetrics
from vigil.stream.reassembly import JoinedFrame, ReassemblyCounters
from vigil.stream.recorder import FailSafeRecorder, Recorder
from vigil.stream.rules import RuleRunner, camera_rules
from vigil.stream.store import EventStore
from vigil.stream.views import Views, frame_record

if TYPE_CHECKING:
    from vigil.config import SiteConfig

log = logging.getLogger(__name__)

RECENT_LATENCIES = 10_000

FrameListener = Callable[[str], None]


class StreamCore:
    """Joins, orders, runs rules, publishes events, updates views and metrics.

    Args:
        settings: Vigil settings (deadline, JPEG quality, payload limit).
        events: where events are stored.
        recorder: receives every emitted frame's record and every event (reports, audits).
        queues: reads the algorithm queues' depths for ``/metrics`` (``None``: no broker to ask).
        site: the site file: each camera's rule options and zones (and masks, drawn with
            ``draw_zones``); ``None``: every camera with default rules.
        media: keeps recent frames and writes events' snapshots and clips (``None``: none).
    """

    def __init__(self, settings: Settings, events: EventStore, *, recorder: Recorder | None = None,
                 queues: QueueProbe | None = None, site: SiteConfig | None = None,
                 media: MediaRecorder | None = None) -> None:
        self.settings = settings
        # Things that broke for good (a dead thread, recording stopped): /healthz names each.
        self.faults: dict[str, str] = {}
        self.recorder = recorder
        # A recording that cannot be written (full disk) stops, loudly; the stream goes on.
        self._recording = None if recorder is None else FailSafeRecorder(
            recorder, lambda message: self.add_fault("recording", message))
        self.queues = queues
        self.views = Views(settings.jpeg_quality)
        self.media = media
        self.events = EventLog(events, self._recording, media)
        self.frame_window = FrameWindow()
        self._requested: dict[str, float] = {}  # algorithm -> when a frame last asked for it (monotonic)
        # Connection state of the inputs, for /metrics' health gauge; the service running the core sets it.
        self.input_state: Callable[[], dict[str, bool]] = dict
        self.metrics = StreamMetrics(self._capture_stats, queues, self._health_for_metrics)
        self.metrics.registry.register(EventCollector(self.events))
        self.recent_latencies: deque[float] = deque(maxlen=RECENT_LATENCIES)
        self.frame_listeners: list[FrameListener] = []
        self.started_at = time.time()
        self.admission = Admission((*settings.algorithms, *algorithm_names()), settings.max_cameras)
        self._ingest = Ingest(settings.result_deadline)
        self._refused_feed = RateLimitedLog(log)
        self._refused_results = RateLimitedLog(log)
        self._cameras = camera_rules(site)
        self._rules = RuleRunner(self._cameras)
        self._masks = {name: tuple(camera.masks) for name, camera in site.cameras.items()} if site else {}
        self._wake = threading.Event()

    # -- inputs (any thread) ------------------------------------------------------------

    def on_feed(self, message: Any) -> None:
        """A message from the capture feed: a frame or a capture status report.

        Only admitted cameras are listed (:mod:`~vigil.stream.admission`): a frame admits its
        camera, a status report of a camera that sent no frame changes nothing.
        """
        try:
            parsed = parse_feed_message(message, self.settings.max_payload_bytes)
        except VigilError as exc:
            self._refuse_feed(MALFORMED, "ignoring a malformed feed message: %s", exc)
            return
        if isinstance(parsed, FrameMessage):
            camera = parsed.frame.camera
            reason = self.admission.frame(parsed)
            if reason is not None:
                self._refuse_feed(reason, "ignoring frame %s#%d (%s)", camera, parsed.frame.seq, reason)
                return
            self._ingest.add_frame(parsed, time.time())
            self.metrics.frames_received.labels(camera=camera).inc()
            view = self.views.get_or_create(camera)
        else:
            camera = parsed.camera
            found = self.views.get(camera) if self.admission.known(camera) else None
            if found is None:  # a camera still connecting, or a forged report: nothing to show yet
                self.metrics.feed_rejected.labels(reason=UNKNOWN_CAMERA).inc()  # counted, not logged: routine
                return
            view = found
        view.capture_stats = bounded_stats(parsed.stats)
        self._wake.set()

    def on_result(self, ref: TaskRef, result: DetectionResult) -> None:
        """A result from the backend; ``ref`` (from its task id) says which frame it belongs to.

        Results for a camera or an algorithm no admitted frame asked for are refused and counted
        in ``vigil_results_rejected``, never under their own names.
        """
        reason = self.admission.result(ref)
        if reason is not None:
            self.result_rejected(reason)
            self._refused_results.warning("ignoring a result for %s on camera %s (%s)",
                                          ref.algorithm, ref.camera, reason)
            return
        self.metrics.results.labels(camera=ref.camera, algorithm=ref.algorithm, status=result.status).inc()
        if "queue_wait" in result.timings:
            self.metrics.queue_wait.labels(algorithm=ref.algorithm).observe(result.timings["queue_wait"])
        if "detect" in result.timings:
            self.metrics.detect.labels(algorithm=ref.algorithm).observe(result.timings["detect"])
        if not self._ingest.add_result(ref, result, time.time()):
            self.metrics.results_late.labels(camera=ref.camera, algorithm=ref.algorithm).inc()
        self._wake.set()

    def feed_undecodable(self, error: Exception) -> None:
        """A feed message that could not be decoded (corrupt, or a serializer not accepted)."""
        self._refuse_feed(MALFORMED, "ignoring a feed message that cannot be decoded: %s", error)

    def result_rejected(self, reason: str) -> None:
        """Count a result refused before or at admission (one of ``admission.REASONS``)."""
        self.metrics.results_rejected.labels(reason=reason).inc()

    def _refuse_feed(self, reason: str, message: str, *args: object) -> None:
        self.metrics.feed_rejected.labels(reason=reason).inc()
        self._refused_feed.warning(message, *args)

    def pending_task_ids(self) -> list[str]:
        """Task ids still awaited (for result sources that must poll)."""
        return self._ingest.pending_task_ids()

    # -- processing (one thread) --------------------------------------------------------

    def run(self, stop: threading.Event, interval: float = 0.002) -> None:
        """Process until ``stop`` is set."""
        while not stop.is_set():
            self._wake.wait(interval)
            self._wake.clear()
            self.process()

    def process(self, now: float | None = None) -> int:
        """Emit every ready frame; returns how many."""
        ready = self._ingest.pop_ready(time.time() if now is None else now)
        for frame in ready:
            self._emit(frame)
        return len(ready)

    # -- health (any thread) ------------------------------------------------------------

    def add_fault(self, name: str, message: str) -> None:
        """Record something that broke for good; ``/healthz`` reports it until the process restarts."""
        self.faults[name] = message

    def health(self, inputs: dict[str, bool]) -> Health:
        """The streamer's health (may ask the broker for queue consumers: call off the event loop)."""
        now = time.monotonic()
        recent = [name for name, seen in list(self._requested.items()) if now - seen < WINDOW_SECONDS]
        return evaluate(HealthInputs(
            inputs=inputs,
            algorithms=requested_algorithms(recent, self.settings.algorithms),
            queues=self.queues.read() if self.queues is not None else None,
            queues_probed=self.queues is not None,
            cameras={view.name: (view.capture_stats.state, view.capture_stats.error)
                     for view in self.views.all() if view.capture_stats is not None},
            frames=self.frame_window.counts(),
            max_incomplete=self.settings.health_max_incomplete,
            faults=dict(self.faults),
        ))

    def _health_for_metrics(self) -> Health:
        return self.health(self.input_state())

    def close_recording(self) -> None:
        if self._recording is not None:
            self._recording.close()

    def idle(self) -> bool:
        return self._ingest.idle()

    def counters(self) -> ReassemblyCounters:
        return self._ingest.counters()

    def _emit(self, frame: JoinedFrame) -> None:
        for algorithm in frame.missing:
            self.metrics.results_missing.labels(camera=frame.camera, algorithm=algorithm).inc()
        outcome = self._rules.apply(frame)
        latency = frame.latency
        self.metrics.end_to_end.labels(camera=frame.camera).observe(latency)
        self.recent_latencies.append(latency)
        self.metrics.frames_emitted.labels(camera=frame.camera, complete=str(frame.complete).lower()).inc()
        self.frame_window.add(frame.complete)
        now = time.monotonic()
        for algorithm in frame.expected:
            self._requested[algorithm] = now
        view = self.views.get_or_create(frame.camera)
        if self.settings.draw_zones and view.regions is None:
            view.regions = (self._cameras[frame.camera].zones if frame.camera in self._cameras else (),
                            self._masks.get(frame.camera, ()))
        view.update(frame, outcome.observations, outcome.summaries)
        if self.media is not None:
            try:  # the frame as the view draws it, before the events it raised (their snapshot)
                self.media.add_frame(frame, view.observations, view.summaries, view.regions)
            except Exception:  # clips are a bonus: never stop the stream for them
                log.exception("keeping frame %s#%d for clips failed", frame.camera, frame.seq)
        self._publish(outcome.events)
        if view.viewers:
            view.annotated()  # encode once here, off the HTTP loop, for every viewer
        if self._recording is not None:
            self._recording.frame(frame_record(frame))
        for listener in list(self.frame_listeners):
            listener(frame.camera)

    def finish(self) -> None:
        """The sources ended (files played out): send the ``end`` of every incident that cleared.

        Incidents still open (someone still on the floor when the clip ends) stay open.
        """
        self._publish(self._rules.flush())

    def _publish(self, events: list[Event]) -> None:
        for event in events:
            self.metrics.events.labels(camera=event.camera, kind=event.kind, type=event.type).inc()
            self.events.publish(event)

    def _capture_stats(self) -> list[Any]:
        return [view.capture_stats for view in self.views.all() if view.capture_stats is not None]
