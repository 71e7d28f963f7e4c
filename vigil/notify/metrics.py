"""Notification counters, registered in the streamer's own Prometheus registry (``/metrics``).

Labels: ``notifier`` (``mqtt`` or ``webhook``) and ``target`` (the broker's ``host:port`` or the
webhook's ``name``; never a URL, which may carry a token).
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge


class NotifyMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["notifier", "target"]
        self.delivered = Counter("vigil_notify_delivered", "Events delivered (MQTT: acknowledged by the broker; "
                                 "webhook: a 2xx answer).", labels, registry=registry)
        self.failed = Counter("vigil_notify_failed", "Failures: webhook deliveries given up after their retries "
                              "or refused for good (4xx); MQTT connection attempts that failed or were lost.",
                              labels, registry=registry)
        self.retried = Counter("vigil_notify_retries", "Webhook attempts retried after a failure.", labels,
                               registry=registry)
        self.dropped = Counter("vigil_notify_dropped", "Events dropped because the notifier's backlog was full.",
                               labels, registry=registry)
        self.backlog = Gauge("vigil_notify_backlog", "Events waiting to be delivered.", labels, registry=registry)
        self.connected = Gauge("vigil_notify_connected", "1 while connected to the MQTT broker.", ["target"],
                               registry=registry)

    def watch_backlog(self, notifier: str, target: str, size: Callable[[], int]) -> None:
        self.backlog.labels(notifier=notifier, target=target).set_function(size)
        for counter in (self.delivered, self.failed, self.retried, self.dropped):
            counter.labels(notifier=notifier, target=target)  # shown at 0 from the start
