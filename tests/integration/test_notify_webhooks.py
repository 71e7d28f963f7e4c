"""Webhook notifications against real HTTP receivers served by the test on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from tests.integration.mqtt_helpers import incident, wait_until
from vigil.notify.config import NotifyConfig, notify_config_from_mapping
from vigil.notify.service import Notifications

pytestmark = pytest.mark.integration
SECRET = "0f3a9c1e5b7d2468ace13579bdf02468"
ROOT = Path(__file__).resolve().parents[2]


def documented_verifier() -> Callable[..., dict]:
    """``verify_vigil_request`` exactly as docs/events.md shows it (so the example cannot rot)."""
    text = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    section = text[text.index("#### Verifying a webhook"):]
    code = section[section.index("```python\n") + len("```python\n"):]
    namespace: dict[str, Any] = {}
    exec(code[:code.index("```")], namespace)  # noqa: S102 - our own documentation
    return namespace["verify_vigil_request"]


verify_vigil_request = documented_verifier()


class Receiver:
    """An HTTP server that answers each POST from a script: a status code, or "hang" (never answers)."""

    def __init__(self, script: list[int | str] | None = None) -> None:
        self.script = list(script or [])
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                action = receiver.script.pop(0) if receiver.script else 200
                if action == "hang":
                    receiver.release.wait(30)
                    return
                self.send_response(int(action))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, name="receiver", daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for receiver in made:
        receiver.close()


def start(config: NotifyConfig) -> tuple[Notifications, CollectorRegistry]:
    registry = CollectorRegistry()
    notifications = Notifications(config, registry)
    notifications.start()
    return notifications, registry


def hook(name: str, url: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "url": url, "secret": SECRET, **extra}


def count(registry: CollectorRegistry, name: str, target: str) -> float:
    return registry.get_sample_value(name, {"notifier": "webhook", "target": target}) or 0.0


def test_the_receiver_gets_the_signed_event(receivers):
    receiver = Receiver()
    receivers.append(receiver)
    notifications, registry = start(notify_config_from_mapping({"webhooks": [hook("carers", receiver.url)]}))
    try:
        event = incident("new", 10)
        notifications(event)
        wait_until(lambda: count(registry, "vigil_notify_delivered_total", "carers") == 1, 10, "a delivery")
    finally:
        notifications.stop()
    (headers, body), = receiver.requests
    message = verify_vigil_request(SECRET, headers, body)
    assert message["type"] == "new" and message["event"] == event
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Vigil-Event"] == "new" and headers["X-Vigil-Delivery"] == message["delivery"]
    assert float(headers["X-Vigil-Timestamp"]) == pytest.approx(message["sent_at"], abs=0.002)
    with pytest.raises(PermissionError):
        verify_vigil_request(SECRET, headers, body.replace(b'"door"', b'"hall"'))
    with pytest.raises(PermissionError):
        verify_vigil_request("another-secret-of-32-characters!", headers, body)


def test_a_receiver_that_fails_twice_then_succeeds_gets_the_event_once(receivers):
    receiver = Receiver([500, 503, 200])
    receivers.append(receiver)
    notifications, registry = start(notify_config_from_mapping({"webhooks": [hook("carers", receiver.url)]}))
    try:
        notifications(incident("new", 10))
        wait_until(lambda: count(registry, "vigil_notify_delivered_total", "carers") == 1, 15, "a delivery")
        time.sleep(0.5)  # no attempt after the success
    finally:
        notifications.stop()
    assert len(receiver.requests) == 3
    deliveries = [json.loads(body)["delivery"] for _, body in receiver.requests]
    assert len(set(deliveries)) == 1  # the same delivery id on every attempt: a receiver can de-duplicate
    assert [verify_vigil_request(SECRET, h, b)["event"]["seq"] for h, b in receiver.requests] == [10, 10, 10]
    assert count(registry, "vigil_notify_retries_total", "carers") == 2
    assert count(registry, "vigil_notify_failed_total", "carers") == 0


def test_a_refusal_is_not_retried_and_retries_are_bounded(receivers):
    refusing, failing = Receiver([403]), Receiver([500] * 10)
    receivers.extend([refusing, failing])
    config = notify_config_from_mapping({"webhooks": [hook("refusing", refusing.url),
                                                      hook("failing", failing.url, retries=1)]})
    notifications, registry = start(config)
    try:
        notifications(incident("new", 10))
        wait_until(lambda: count(registry, "vigil_notify_failed_total", "failing") == 1, 15, "failing gives up")
        wait_until(lambda: count(registry, "vigil_notify_failed_total", "refusing") == 1, 5, "refusing fails")
    finally:
        notifications.stop()
    assert (len(refusing.requests), len(failing.requests)) == (1, 2)


def test_a_receiver_that_never_answers_does_not_block_others(receivers):
    hanging, healthy = Receiver(["hang"] * 5), Receiver()
    receivers.extend([hanging, healthy])
    config = notify_config_from_mapping({"webhooks": [hook("hanging", hanging.url, timeout=2, retries=0),
                                                      hook("healthy", healthy.url)]})
    notifications, registry = start(config)
    try:
        # Given a receiver that accepted the first event's request and never answers
        notifications(incident("new", 10))
        wait_until(lambda: len(hanging.requests) == 1, 5, "the hanging receiver's request")
        # When more events come
        started = time.perf_counter()
        notifications(incident("update", 20))
        notifications(incident("end", 30))
        queued = time.perf_counter() - started
        # Then the other receiver gets all three at once, and the hanging one times out in turn
        wait_until(lambda: count(registry, "vigil_notify_delivered_total", "healthy") == 3, 1.5, "healthy")
        assert [json.loads(b)["event"]["seq"] for _, b in healthy.requests] == [10, 20, 30]
        assert count(registry, "vigil_notify_delivered_total", "hanging") == 0
        wait_until(lambda: count(registry, "vigil_notify_failed_total", "hanging") >= 1, 5, "the time-out")
    finally:
        notifications.stop()
    assert queued < 0.01


def test_filters_and_camera_tables_choose_the_receivers(receivers):
    critical, door_only = Receiver(), Receiver()
    receivers.extend([critical, door_only])
    config = notify_config_from_mapping({
        "webhooks": [hook("critical", critical.url, min_severity="critical"), hook("door", door_only.url)],
        "cameras": {"hall": {"notify": {"webhooks": ["critical"]}}},
    })
    notifications, registry = start(config)
    try:
        notifications(incident("new", 10, camera="door", severity="warning"))
        notifications(incident("update", 20, camera="door", severity="critical"))
        notifications(incident("new", 30, camera="hall", severity="warning"))
        wait_until(lambda: count(registry, "vigil_notify_delivered_total", "door") == 2
                   and count(registry, "vigil_notify_delivered_total", "critical") == 1, 10, "deliveries")
        time.sleep(0.3)
    finally:
        notifications.stop()
    assert [json.loads(b)["event"]["seq"] for _, b in critical.requests] == [20]
    assert [json.loads(b)["event"]["seq"] for _, b in door_only.requests] == [10, 20]
