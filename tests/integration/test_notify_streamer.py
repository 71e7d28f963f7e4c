"""The streamer's wiring: an event the core publishes reaches MQTT and a webhook, and /metrics shows it."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import unavailable
from tests.integration.mqtt_helpers import (
    DEFAULT_BROKER,
    Published,
    Subscriber,
    clear_retained,
    incident,
    reachable,
    unique_prefix,
    wait_until,
)
from vigil.notify.config import notify_config_from_mapping
from vigil.settings import Settings
from vigil.stream.core import StreamCore
from vigil.stream.service import attach_notifications
from vigil.stream.store import EventStore

pytestmark = pytest.mark.integration


def samples(core: StreamCore) -> dict[tuple[str, str, str], float]:
    return {(s.name, s.labels.get("notifier", ""), s.labels.get("target", "")): s.value
            for family in text_string_to_metric_families(core.metrics.render().decode())
            for s in family.samples if s.name.startswith("vigil_notify_")}


def test_an_event_of_the_core_reaches_mqtt_and_a_webhook_and_metrics_count_it():
    if not reachable(*DEFAULT_BROKER):
        unavailable(f"Mosquitto unreachable at {DEFAULT_BROKER[0]}:{DEFAULT_BROKER[1]}")
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    prefix = unique_prefix()
    config = notify_config_from_mapping({
        "mqtt": {"port": DEFAULT_BROKER[1], "prefix": prefix},
        "webhooks": [{"name": "carers", "url": f"http://127.0.0.1:{receiver.server_address[1]}/",
                      "secret": "0123456789abcdef0123456789"}],
    })
    core = StreamCore(Settings.load(environ={}), EventStore(":memory:"))
    notifications = attach_notifications(core, config, ("door",))
    assert notifications is not None
    subscriber = Subscriber(DEFAULT_BROKER[1], f"{prefix}/events")
    notifications.start()
    try:
        # When the core's event log publishes an incident (as the rules do on the processing thread)
        event = incident("new", 10)
        core.events.publish(Published(event))  # type: ignore[arg-type]
        # Then MQTT and the webhook have it, and /metrics says so
        assert json.loads(subscriber.wait_for(1)[0][1]) == {"type": "new", "event": event}
        wait_until(lambda: len(bodies) == 1, 10, "the webhook")
        assert json.loads(bodies[0])["event"] == event
        wait_until(lambda: samples(core).get(("vigil_notify_delivered_total", "webhook", "carers")) == 1, 5, "count")
        seen = samples(core)
        target = f"127.0.0.1:{DEFAULT_BROKER[1]}"
        assert seen[("vigil_notify_delivered_total", "mqtt", target)] == 1
        assert seen[("vigil_notify_dropped_total", "webhook", "carers")] == 0
        assert seen[("vigil_notify_backlog", "mqtt", target)] == 0
        assert seen[("vigil_notify_connected", "", target)] == 1
    finally:
        notifications.stop()
        subscriber.close()
        receiver.shutdown()
        receiver.server_close()
        clear_retained(DEFAULT_BROKER[1], [f"{prefix}/available", f"{prefix}/door/fall"])


def test_no_notification_tables_attach_nothing():
    core = StreamCore(Settings.load(environ={}), EventStore(":memory:"))
    assert attach_notifications(core, notify_config_from_mapping({})) is None
    assert "vigil_notify_" not in core.metrics.render().decode()
