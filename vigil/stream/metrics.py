"""The streamer's Prometheus metrics, on ``prometheus_client``.

Each streamer owns a registry (no global state, so tests and embedded runs can have
several). Three kinds of series:

- counted here: frames received and emitted, results, missing and late results,
  events, and latency histograms;
- mirrored from the capture daemons' own counters, which arrive with every feed
  message (:class:`CaptureCollector`): frames captured, sent, dropped, reconnects,
  camera state;
- read from the broker at scrape time (:class:`QueueCollector`): each algorithm
  queue's ready messages and consumers, so overload and a missing worker show.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from kombu import Connection
from kombu.exceptions import OperationalError
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vigil.logs import RateLimitedLog
from vigil.messages import CameraState, CaptureStats
from vigil.queues import QueueDepth, queue_depths
from vigil.stream.health import Health

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST
QUEUE_PROBE_INTERVAL = 2.0  # scrapes more often than this reuse the last reading


class StreamMetrics:
    """Every series ``/metrics`` shows.

    Args:
        capture_stats: returns the latest capture counters of every camera.
        queues: reads algorithm queue depths from the broker (``None``: no broker to ask).
    """

    def __init__(self, capture_stats: Callable[[], Iterable[CaptureStats]],
                 queues: QueueProbe | None = None, health: Callable[[], Health] | None = None) -> None:
        self.registry = registry = CollectorRegistry()
        self.frames_received = Counter("vigil_frames_received", "Frames the streamer received.", ["camera"],
                                       registry=registry)
        self.frames_emitted = Counter(
            "vigil_frames_emitted", "Joined frames emitted, complete or not (results missing at deadline).",
            ["camera", "complete"], registry=registry,
        )
        self.results = Counter("vigil_results", "Results received, by algorithm and status.",
                               ["camera", "algorithm", "status"], registry=registry)
        self.results_missing = Counter(
            "vigil_results_missing", "Results missing when their frame was emitted (dropped or late).",
            ["camera", "algorithm"], registry=registry,
        )
        self.results_late = Counter("vigil_results_late", "Results that arrived after their frame.",
                                    ["camera", "algorithm"], registry=registry)
        self.results_rejected = Counter(
            "vigil_results_rejected", "Results refused: malformed, too large, or for a camera or algorithm "
            "no admitted frame asked for.", ["reason"], registry=registry,
        )
        self.feed_rejected = Counter(
            "vigil_feed_rejected", "Feed messages refused: malformed, an unknown algorithm, too many cameras.",
            ["reason"], registry=registry,
        )
        self.http_closed = Counter(
            "vigil_http_closed", "HTTP connections the streamer closed or refused, by reason.", ["reason"],
            registry=registry,
        )
        self.events = Counter(
            "vigil_events", "Incident events by kind and type (new, update, end).", ["camera", "kind", "type"],
            registry=registry,
        )
        self.queue_wait = Histogram(
            "vigil_queue_wait_seconds", "Capture to worker start (time a frame waited in the queue).",
            ["algorithm"], buckets=LATENCY_BUCKETS, registry=registry,
        )
        self.detect = Histogram("vigil_detect_seconds", "Detector time per frame.", ["algorithm"],
                                buckets=LATENCY_BUCKETS, registry=registry)
        self.end_to_end = Histogram(
            "vigil_end_to_end_seconds", "Capture to joined in the streamer (all results or deadline).",
            ["camera"], buckets=LATENCY_BUCKETS, registry=registry,
        )
        self.thread_deaths = Counter(
            "vigil_thread_deaths", "Streamer threads that died of an unexpected error (see the log).", ["thread"],
            registry=registry,
        )
        registry.register(CaptureCollector(capture_stats))
        if queues is not None:
            registry.register(QueueCollector(queues))
        if health is not None:
            registry.register(HealthCollector(health))

    def render(self) -> bytes:
        """The text exposition format (may ask the broker for queue depths: call off the event loop)."""
        return generate_latest(self.registry)


class CaptureCollector(Collector):
    """The capture daemons' counters, as the latest feed message of each camera reported them."""

    def __init__(self, capture_stats: Callable[[], Iterable[CaptureStats]]) -> None:
        self.capture_stats = capture_stats

    def collect(self) -> Iterable[Metric]:
        families = {
            "captured": CounterMetricFamily("vigil_frames_captured", "Frames captured by the capture daemon.",
                                            labels=["camera"]),
            "sent": CounterMetricFamily("vigil_frames_sent", "Frames sent to the broker by the capture daemon.",
                                        labels=["camera"]),
            "dropped": CounterMetricFamily(
                "vigil_frames_dropped", "Frames dropped by the capture daemon (broker slow or down).",
                labels=["camera"],
            ),
            "reconnects": CounterMetricFamily("vigil_camera_reconnects", "Times a camera was reopened.",
                                              labels=["camera"]),
            "gated": CounterMetricFamily(
                "vigil_frames_gated", "Frames sent without detection: motion gating found the scene still.",
                labels=["camera"],
            ),
        }
        state = GaugeMetricFamily("vigil_camera_state", "1 for the camera's current capture state.",
                                  labels=["camera", "state"])
        for stats in self.capture_stats():
            for key, family in families.items():
                family.add_metric([stats.camera], getattr(stats, key))
            for candidate in CameraState.ALL:
                state.add_metric([stats.camera, candidate], 1.0 if candidate == stats.state else 0.0)
        yield from families.values()
        yield state


class HealthCollector(Collector):
    """What ``/healthz`` says, as gauges: healthy or not, and how many problems."""

    def __init__(self, health: Callable[[], Health]) -> None:
        self.health = health

    def collect(self) -> Iterable[Metric]:
        health = self.health()
        healthy = GaugeMetricFamily("vigil_healthy", "1 when /healthz answers 200, 0 when it answers 503.")
        healthy.add_metric([], 1.0 if health.healthy else 0.0)
        problems = GaugeMetricFamily("vigil_health_problems", "Reasons /healthz gives for being degraded.")
        problems.add_metric([], float(len(health.reasons)))
        yield healthy
        yield problems


class QueueProbe:
    """Reads queue depths and consumer counts from the broker, at most every ``interval`` seconds.

    Owns one connection, opened on first use and reopened after a failure.
    """

    def __init__(self, broker_url: str, queues: Sequence[str], interval: float = QUEUE_PROBE_INTERVAL,
                 ssl: dict[str, Any] | None = None) -> None:
        self.broker_url = broker_url
        self.ssl = ssl  # vigil.tls.broker_ssl() for amqps://
        self.queues = tuple(queues)
        self.interval = interval
        self._connection: Connection | None = None
        self._lock = threading.Lock()
        self._read_at = -interval
        self._last: dict[str, QueueDepth] | None = None
        self._errors = RateLimitedLog(log, 30.0)

    def read(self) -> dict[str, QueueDepth] | None:
        """Depth of each existing queue, or ``None`` when the broker cannot be reached."""
        with self._lock:
            now = time.monotonic()
            if now - self._read_at < self.interval:
                return self._last
            self._read_at = now
            self._last = self._read()
            return self._last

    def _read(self) -> dict[str, QueueDepth] | None:
        try:
            if self._connection is None:
                self._connection = Connection(self.broker_url, connect_timeout=2, ssl=self.ssl or False)
                self._connection.connect()  # once, no retry loop: a request waits at most the connect timeout
            return queue_depths(self._connection, self.queues)
        except (OSError, OperationalError, *_transport_errors(self._connection)) as exc:  # type: ignore[misc]
            self._errors.warning("cannot read queue depths from the broker: %s", exc)
            self.close()
            return None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.release()
            self._connection = None


def _transport_errors(connection: Connection | None) -> tuple[type[BaseException], ...]:
    if connection is None:
        return ()
    return (*connection.connection_errors, *connection.channel_errors)


class QueueCollector(Collector):
    """Each algorithm queue's depth and consumers, and whether the broker answered."""

    def __init__(self, probe: QueueProbe) -> None:
        self.probe = probe

    def collect(self) -> Iterable[Metric]:
        depths = self.probe.read()
        reachable = GaugeMetricFamily("vigil_broker_reachable", "1 if the broker answered the last queue probe.")
        reachable.add_metric([], 0.0 if depths is None else 1.0)
        messages = GaugeMetricFamily(
            "vigil_queue_messages", "Frames ready in an algorithm queue (waiting for a worker).", labels=["queue"]
        )
        consumers = GaugeMetricFamily(
            "vigil_queue_consumers", "Workers consuming an algorithm queue (0: nobody runs it).", labels=["queue"]
        )
        for name, depth in sorted((depths or {}).items()):
            messages.add_metric([name], depth.messages)
            consumers.add_metric([name], depth.consumers)
        yield reachable
        yield messages
        yield consumers
