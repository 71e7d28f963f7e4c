"""Every notifier of a site behind one ``EventLog`` listener.

:class:`Notifications` is what the streamer subscribes (``events.subscribe(notifications)``): it
routes each lifecycle event by the camera's ``[cameras.<name>.notify]`` table and each webhook's
filters, and only appends to the notifiers' bounded backlogs, so the processing thread never waits
on a broker or a receiver (``docs/performance.md`` measures it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry

from vigil.logs import RateLimitedLog
from vigil.notify.config import NotifyConfig
from vigil.notify.messages import check_event
from vigil.notify.metrics import NotifyMetrics
from vigil.notify.mqtt import MqttNotifier, SnapshotSource
from vigil.notify.webhook import WebhookNotifier

log = logging.getLogger(__name__)

STOP_DRAIN_TIMEOUT = 3.0  # seconds to deliver what is queued when the streamer stops
HALT_TIMEOUT = 2.0  # then to say "offline" and let go (a hanging webhook attempt is abandoned)


class Notifications:
    """The MQTT notifier (if ``[mqtt]`` is set and enabled) and one notifier per webhook.

    Args:
        config: the site's notification settings.
        registry: the streamer's Prometheus registry, for the ``vigil_notify_*`` series.
        snapshot_of: the JPEG of an event's snapshot by id (``EventLog.snapshot``), or None.
        cameras: cameras known up front (announced to Home Assistant at connect).
    """

    def __init__(self, config: NotifyConfig, registry: CollectorRegistry,
                 snapshot_of: SnapshotSource | None = None, cameras: Iterable[str] = ()) -> None:
        self.config = config
        self.metrics = NotifyMetrics(registry)
        mqtt = config.mqtt
        self.mqtt = (MqttNotifier(mqtt, self.metrics, snapshot_of, cameras=cameras or config.cameras)
                     if mqtt is not None and mqtt.enabled else None)
        self.webhooks = {hook.name: WebhookNotifier(hook, self.metrics) for hook in config.webhooks}
        self._errors = RateLimitedLog(log)

    def __call__(self, event: Mapping[str, Any]) -> None:
        """The ``EventLog`` listener: queue ``event`` for every notifier it goes to. Never raises."""
        try:
            check_event(event)
            if self.mqtt is not None and self.config.camera(str(event.get("camera"))).mqtt:
                self.mqtt.submit(event)
            for hook in self.config.webhooks_for(event):
                self.webhooks[hook.name].submit(event)
        except Exception as exc:  # a malformed event must not stop the processing thread
            self._errors.warning("event %r not queued for notification: %s", event.get("id"), exc)

    def start(self) -> None:
        if self.mqtt is not None:
            self.mqtt.start()
        for hook in self.webhooks.values():
            hook.start()
        if self.config.enabled:
            log.info("notifications: %s", self.describe())

    def stop(self, drain: float = STOP_DRAIN_TIMEOUT) -> None:
        """Give the notifiers ``drain`` seconds together to deliver what is left, then stop them."""
        notifiers: list[MqttNotifier | WebhookNotifier] = list(self.webhooks.values())
        if self.mqtt is not None:
            notifiers.append(self.mqtt)
        deadline = time.monotonic() + drain
        for notifier in notifiers:
            notifier.request_stop()
        for notifier in notifiers:
            notifier.join(deadline - time.monotonic())
        for notifier in notifiers:
            notifier.halt()
        deadline = time.monotonic() + HALT_TIMEOUT
        for notifier in notifiers:
            notifier.join(deadline - time.monotonic())

    def status(self) -> dict[str, Any]:
        """What ``/healthz`` may report: MQTT connected or not, and what waits, per notifier."""
        webhooks = {name: {"backlog": hook.pending_count()} for name, hook in self.webhooks.items()}
        mqtt = None if self.mqtt is None else {"target": self.mqtt.target, "connected": self.mqtt.connected.is_set(),
                                               "backlog": self.mqtt.pending_count()}
        return {"mqtt": mqtt, "webhooks": webhooks}

    def describe(self) -> str:
        """One line for the log (no credentials, no URLs)."""
        parts = []
        if self.mqtt is not None:
            parts.append(f"MQTT {self.mqtt.target} prefix {self.mqtt.config.prefix!r}")
        parts.extend(f"webhook {name}" for name in self.webhooks)
        return ", ".join(parts) or "none"
