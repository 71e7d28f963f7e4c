"""Notifications never block frame processing: ``EventLog.publish`` timed with them on and off.

"Stalled": an MQTT broker that accepts TCP and never answers (a blackhole: the worst case, the
client waits for a CONNACK that never comes) and a webhook receiver that never answers.
"Working": the real Mosquitto on 1883 and a receiver that answers at once, so the notifiers' threads
deliver while the processing thread publishes. Run with ``-s`` to see the table
(docs/performance.md quotes it).
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from tests.integration.mqtt_helpers import DEFAULT_BROKER, Published, incident, reachable, unique_prefix
from vigil.notify.config import notify_config_from_mapping
from vigil.notify.service import Notifications
from vigil.stream.events import EventLog

pytestmark = pytest.mark.integration
EVENTS = 2000
ROUNDS = 3
SECRET = "0f3a9c1e5b7d2468ace13579bdf02468"


class _NoStore:
    def append(self, event: Any) -> None:
        pass

    def recent(self, limit: int = 100, camera: str | None = None) -> list[dict[str, Any]]:
        return []

    def close(self) -> None:
        pass


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A TCP port that accepts connections (the kernel's backlog) and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield server.getsockname()[1]
    server.close()


class _Answer(BaseHTTPRequestHandler):
    hang: threading.Event | None = None

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        if self.hang is not None:
            self.hang.wait(30)
            return
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _receiver(hang: threading.Event | None) -> ThreadingHTTPServer:
    handler = type("Handler", (_Answer,), {"hang": hang})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _publish_times(log: EventLog, events: list[Published]) -> list[float]:
    times = []
    for event in events:
        started = time.perf_counter()
        log.publish(event)  # type: ignore[arg-type]
        times.append(time.perf_counter() - started)
        time.sleep(0.0002)  # frames come a few ms apart; let the notifiers' threads run in between
    return times


def _measure(config: dict[str, Any] | None) -> list[float]:
    log = EventLog(_NoStore())  # type: ignore[arg-type]
    notifications = None
    if config is not None:
        notifications = Notifications(notify_config_from_mapping(config), CollectorRegistry())
        log.subscribe(notifications)
        notifications.start()
    try:
        return _publish_times(log, [Published(incident("update", seq)) for seq in range(EVENTS)])
    finally:
        if notifications is not None:
            notifications.stop(drain=0.5)


def _us(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1e6 if q < 100 else max(values) * 1e6


def _row(label: str, values: list[float]) -> str:
    return f"| {label} | {statistics.median(values) * 1e6:.1f} | {_us(values, 99):.1f} | {_us(values, 100):.0f} |"


def test_publish_does_not_wait_for_stalled_or_working_notifiers(blackhole):
    hang = threading.Event()
    stalled_receiver, working_receiver = _receiver(hang), _receiver(None)
    stalled = {
        "mqtt": {"port": blackhole, "prefix": unique_prefix(), "backlog": 100},
        "webhooks": [{"name": "hanging", "url": f"http://127.0.0.1:{stalled_receiver.server_address[1]}/",
                      "secret": SECRET, "timeout": 30, "backlog": 100}],
    }
    working = {
        "mqtt": {"port": DEFAULT_BROKER[1], "prefix": unique_prefix()},
        "webhooks": [{"name": "ok", "url": f"http://127.0.0.1:{working_receiver.server_address[1]}/",
                      "secret": SECRET}],
    } if reachable(*DEFAULT_BROKER) else None
    runs: dict[str, list[float]] = {"off": [], "stalled": [], "working": []}
    try:
        for _ in range(ROUNDS):  # alternated, so a busy moment of the machine hits all alike
            runs["off"] += _measure(None)
            runs["stalled"] += _measure(stalled)
            if working is not None:
                runs["working"] += _measure(working)
    finally:
        hang.set()
        for server in (stalled_receiver, working_receiver):
            server.shutdown()
            server.server_close()
    print("\n| EventLog.publish, notifications | median us | p99 us | max us |\n|---|---|---|---|")
    for label, values in runs.items():
        if values:
            print(_row(f"{label} ({len(values)} events)", values))
    # Enqueueing is a dict check and a deque append: tens of microseconds, not the milliseconds
    # that one blocking network call would cost; generous bounds for a loaded 2-core machine.
    for label in ("stalled", "working"):
        if runs[label]:
            assert statistics.median(runs[label]) - statistics.median(runs["off"]) < 100e-6, label
            assert _us(runs[label], 99) < 2000, label
