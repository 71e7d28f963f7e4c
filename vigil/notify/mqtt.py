"""Events to an MQTT broker, on paho-mqtt 2, from one thread of our own.

The processing thread only appends to a bounded :class:`~vigil.notify.backlog.Backlog`. One
thread owns the paho client: it connects (retrying with :class:`vigil.backoff.Backoff`, full
jitter), runs the network loop, and delivers the backlog in order, one event at a time: the
event's messages are published and the next event waits until the broker acknowledged them all
(QoS 1). When the connection drops mid-event, paho re-sends the unacknowledged messages after
the reconnect, before anything newer, so the order holds; an event may then arrive twice (QoS 1
is at least once), never out of order and never lost while it fits in the backlog.

Why paho-mqtt rather than aiomqtt: the streamer's pipeline is threads, and a blocking client
driven by ``loop()`` on its own thread needs no event loop; paho tracks acknowledgements per
message id and re-sends in-flight messages on reconnect, which is exactly the backlog's need.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from vigil.backoff import Backoff
from vigil.logs import RateLimitedLog
from vigil.notify.backlog import Backlog
from vigil.notify.config import MqttConfig
from vigil.notify.messages import (
    OFFLINE,
    ONLINE,
    MqttMessage,
    available_topic,
    discovery_message,
    event_messages,
)
from vigil.notify.metrics import NotifyMetrics

log = logging.getLogger(__name__)

SnapshotSource = Callable[[str], "bytes | None"]
KINDS = ("fall", "drowsy", "looking_away", "distress")  # the incident kinds Home Assistant is told about
LOOP_TIMEOUT = 0.05  # a new event waits at most this long before its first publish
CONNECT_TIMEOUT = 5.0
RECONNECT_BASE = 0.5
RECONNECT_CAP = 10.0
STOP_DRAIN_TIMEOUT = 3.0  # on stop, time left to deliver the backlog and say "offline"


class MqttNotifier:
    """Publishes incident lifecycle events to MQTT (see :mod:`vigil.notify.messages` for the topics).

    Args:
        config: the ``[mqtt]`` table.
        metrics: where delivered, failed, dropped and the backlog are counted.
        snapshot_of: the JPEG of an event's snapshot by event id (``EventLog.snapshot``), or None.
        cameras: cameras announced to Home Assistant from the start (others when first seen).
    """

    notifier = "mqtt"

    def __init__(self, config: MqttConfig, metrics: NotifyMetrics, snapshot_of: SnapshotSource | None = None,
                 cameras: Iterable[str] = ()) -> None:
        self.config = config
        self.target = config.target
        self.metrics = metrics
        self.snapshot_of = snapshot_of
        self.backlog: Backlog[Mapping[str, Any]] = Backlog(config.backlog)
        self.connected = threading.Event()  # the broker accepted our CONNECT
        self._known = {(camera, kind) for camera in cameras for kind in KINDS}
        self._announced: set[tuple[str, str]] = set()
        self._current: list[MqttMessage] | None = None
        self._pending: set[int] = set()
        self._socket_open = False
        self._backoff = Backoff(base=RECONNECT_BASE, cap=RECONNECT_CAP)
        self._stopping = threading.Event()
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._refused = RateLimitedLog(log, interval=30.0)
        self._client = self._make_client()
        metrics.watch_backlog(self.notifier, self.target, self.pending_count)
        metrics.connected.labels(target=self.target).set(0)

    # -- any thread ---------------------------------------------------------------------

    def submit(self, event: Mapping[str, Any]) -> None:
        """Queue ``event`` for delivery; never blocks (a full backlog drops its oldest, counted)."""
        if self.backlog.put(event):
            self.metrics.dropped.labels(notifier=self.notifier, target=self.target).inc()

    def pending_count(self) -> int:
        return len(self.backlog) + (self._current is not None)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="notify-mqtt", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Start draining: deliver the backlog while connected, then say offline and disconnect."""
        self._stopping.set()

    def stop(self, drain: float = STOP_DRAIN_TIMEOUT) -> None:
        """Deliver what is left for up to ``drain`` seconds (if connected), say offline, disconnect."""
        self.request_stop()
        self.join(drain)
        self.halt()
        self.join(CONNECT_TIMEOUT + 2)

    def halt(self) -> None:
        """Stop delivering; say offline (if connected) and disconnect."""
        self._halt.set()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(max(0.0, timeout))

    # -- the notifier's thread ----------------------------------------------------------

    def _make_client(self) -> paho.Client:
        config = self.config
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=config.client_id or "",
                             protocol=paho.MQTTv311, clean_session=True)
        client.connect_timeout = CONNECT_TIMEOUT
        if config.username is not None:
            client.username_pw_set(config.username,
                                   config.password.get_secret_value() if config.password is not None else None)
        if config.use_tls:
            client.tls_set(ca_certs=_path(config.ca), certfile=_path(config.cert), keyfile=_path(config.key))
        client.will_set(available_topic(config.prefix), OFFLINE, qos=config.qos, retain=True)
        client.on_connect = self._on_connect
        client.on_publish = self._on_publish
        return client

    def _run(self) -> None:
        while not self._done():
            if not self._socket_open:
                self._connect()
                continue
            rc = self._client.loop(LOOP_TIMEOUT)
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                self._lost(rc)
                continue
            if self.connected.is_set():
                self._pump()
        self._shutdown()

    def _done(self) -> bool:
        if self._halt.is_set():
            return True
        if not self._stopping.is_set():
            return False
        # stopping: keep going only while there is something to deliver and a broker to take it
        return not self.connected.is_set() or self.pending_count() == 0

    def _connect(self) -> None:
        try:
            self._client.connect(self.config.host, self.config.port, self.config.keepalive)
        except OSError as exc:  # refused, unreachable, DNS, TLS (ssl.SSLError is an OSError)
            self._failed("cannot connect to MQTT broker %s: %s", exc)
            return
        self._socket_open = True

    def _lost(self, rc: MQTTErrorCode) -> None:
        self._socket_open = False
        was_connected = self.connected.is_set()
        self.connected.clear()
        self.metrics.connected.labels(target=self.target).set(0)
        if was_connected:
            log.warning("lost MQTT broker %s (%s); %d event(s) wait in the backlog", self.target,
                        paho.error_string(rc), self.pending_count())
        self._failed("MQTT broker %s closed the connection: %s", paho.error_string(rc))

    def _failed(self, message: str, reason: object) -> None:
        self.metrics.failed.labels(notifier=self.notifier, target=self.target).inc()
        self._refused.warning(message, self.target, reason)
        self._stopping.wait(self._backoff.next())  # stop() cuts the wait short

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:  # bad credentials, not authorised: the broker then closes, we retry later
            self._refused.warning("MQTT broker %s refused the connection: %s", self.target, reason)
            return
        log.info("connected to MQTT broker %s", self.target)
        self._backoff.reset()
        self.connected.set()
        self.metrics.connected.labels(target=self.target).set(1)
        client.publish(available_topic(self.config.prefix), ONLINE, qos=self.config.qos, retain=True)
        self._announced.clear()
        if self.config.home_assistant:
            for camera, kind in sorted(self._known):
                self._announce(client, camera, kind)

    def _on_publish(self, client: paho.Client, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        self._pending.discard(mid)

    def _announce(self, client: paho.Client, camera: str, kind: str) -> None:
        message = discovery_message(self.config.prefix, self.config.discovery_prefix, camera, kind)
        client.publish(message.topic, message.payload, qos=self.config.qos, retain=True)
        self._announced.add((camera, kind))

    def _pump(self) -> None:
        """Publish the next event once the previous one is acknowledged, in backlog order."""
        while True:
            if self._current is not None:
                if self._pending:
                    return
                self._current = None
                self.metrics.delivered.labels(notifier=self.notifier, target=self.target).inc()
            event = self.backlog.get(0)
            if event is None:
                return
            try:
                self._current = self._messages(event)
            except (KeyError, TypeError, ValueError) as exc:  # not JSON-able: a bug upstream, not a reason to stop
                self.metrics.failed.labels(notifier=self.notifier, target=self.target).inc()
                log.error("event %r cannot be published to MQTT: %s", event.get("id"), exc)
                continue
            for message in self._current:
                info = self._client.publish(message.topic, message.payload, qos=self.config.qos,
                                            retain=message.retain)
                if self.config.qos > 0:  # QoS 0 is "sent", acknowledged by nobody
                    self._pending.add(info.mid)

    def _messages(self, event: Mapping[str, Any]) -> list[MqttMessage]:
        camera, kind = str(event["camera"]), str(event["kind"])
        if self.config.home_assistant and (camera, kind) not in self._announced:
            self._known.add((camera, kind))
            self._announce(self._client, camera, kind)
        wanted = event.get("type") in ("new", "update") and event.get("snapshot")
        snapshot = self._snapshot(event) if wanted else None
        return event_messages(self.config.prefix, event, snapshot)

    def _snapshot(self, event: Mapping[str, Any]) -> bytes | None:
        if self.snapshot_of is None:
            return None
        try:
            return self.snapshot_of(str(event["id"]))
        except Exception as exc:  # a missing or unreadable snapshot must not hold the event back
            log.warning("no snapshot for event %s on %s: %s", event.get("id"), event.get("camera"), exc)
            return None

    def _shutdown(self) -> None:
        if self.pending_count():
            log.warning("MQTT notifier stopping with %d event(s) undelivered to %s", self.pending_count(),
                        self.target)
        if self.connected.is_set():
            # a clean DISCONNECT suppresses the last will, so say "offline" ourselves
            info = self._client.publish(available_topic(self.config.prefix), OFFLINE, qos=self.config.qos,
                                        retain=True)
            deadline = time.monotonic() + 1.0
            while info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS and not info.is_published() \
                    and time.monotonic() < deadline:
                if self._client.loop(LOOP_TIMEOUT) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
            self._client.disconnect()
            self._client.loop(LOOP_TIMEOUT)
        self.connected.clear()
        self.metrics.connected.labels(target=self.target).set(0)


def _path(value: object) -> str | None:
    return None if value is None else str(value)
