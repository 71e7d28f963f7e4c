"""MQTT notifications against a real Mosquitto: the shared one on 1883 (a unique topic prefix per
test) and, for the outage test, a private one this test stops and starts."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from tests.integration.conftest import unavailable
from tests.integration.mqtt_helpers import (
    DEFAULT_BROKER,
    CuttableProxy,
    Subscriber,
    clear_retained,
    incident,
    jpeg,
    reachable,
    unique_prefix,
    wait_until,
)
from tests.integration.servers import PrivateMosquitto, ServerNotInstalled, free_port
from vigil.notify.config import MqttConfig
from vigil.notify.metrics import NotifyMetrics
from vigil.notify.mqtt import MqttNotifier

pytestmark = pytest.mark.integration
SNAPSHOT = jpeg()


@pytest.fixture
def shared_broker() -> int:
    if not reachable(*DEFAULT_BROKER):
        unavailable(f"Mosquitto unreachable at {DEFAULT_BROKER[0]}:{DEFAULT_BROKER[1]}")
    return DEFAULT_BROKER[1]


@pytest.fixture
def private_broker() -> Iterator[PrivateMosquitto]:
    broker = PrivateMosquitto()
    try:
        broker.start()
    except ServerNotInstalled as exc:
        broker.stop(remove=True)
        unavailable(str(exc))
    yield broker
    broker.stop(remove=True)


def notifier_for(port: int, prefix: str, **config: object) -> tuple[MqttNotifier, CollectorRegistry]:
    registry = CollectorRegistry()
    notifier = MqttNotifier(MqttConfig.model_validate({"port": port, "prefix": prefix, **config}),
                            NotifyMetrics(registry), snapshot_of={incident("new", 10)["id"]: SNAPSHOT}.get,
                            cameras=["door"])
    return notifier, registry


def sample(registry: CollectorRegistry, name: str, target: str) -> float | None:
    return registry.get_sample_value(name, {"notifier": "mqtt", "target": target})


def test_a_subscriber_receives_exactly_new_and_end_with_state_and_snapshot(shared_broker):
    prefix = unique_prefix()
    subscriber = Subscriber(shared_broker, f"{prefix}/#")
    notifier, registry = notifier_for(shared_broker, prefix)
    target = f"127.0.0.1:{shared_broker}"
    retained = [f"{prefix}/available", f"{prefix}/door/fall", f"{prefix}/door/fall/snapshot"]
    try:
        # Given a notifier connected to the broker
        notifier.start()
        assert notifier.connected.wait(10)
        # When a fall opens and clears
        new, end = incident("new", 10), incident("end", 40)
        notifier.submit(new)
        notifier.submit(end)
        wait_until(lambda: sample(registry, "vigil_notify_delivered_total", target) == 2, 10, "2 deliveries")
        notifier.stop()
        # Then the subscriber saw exactly these messages, in this order
        got = subscriber.wait_for(7)
        time.sleep(0.3)  # nothing more may come
        assert subscriber.received() == got == [
            (f"{prefix}/available", b"online", False),
            (f"{prefix}/events", json.dumps({"type": "new", "event": new}, separators=(",", ":")).encode(), False),
            (f"{prefix}/door/fall", b"ON", False),
            (f"{prefix}/door/fall/snapshot", SNAPSHOT, False),
            (f"{prefix}/events", json.dumps({"type": "end", "event": end}, separators=(",", ":")).encode(), False),
            (f"{prefix}/door/fall", b"OFF", False),
            (f"{prefix}/available", b"offline", False),
        ]
        assert [json.loads(p)["type"] for t, p, _ in got if t == f"{prefix}/events"] == ["new", "end"]
        # And a subscriber that comes later finds availability, state and snapshot retained
        late = Subscriber(shared_broker, f"{prefix}/#")
        try:
            assert sorted(late.wait_for(3)) == sorted([
                (f"{prefix}/available", b"offline", True),
                (f"{prefix}/door/fall", b"OFF", True),
                (f"{prefix}/door/fall/snapshot", SNAPSHOT, True),
            ])
        finally:
            late.close()
        assert sample(registry, "vigil_notify_failed_total", target) == 0
        assert sample(registry, "vigil_notify_backlog", target) == 0
    finally:
        notifier.stop()
        subscriber.close()
        clear_retained(shared_broker, retained)


CRASHING_STREAMER = """
import sys, threading
from prometheus_client import CollectorRegistry
from vigil.notify.config import MqttConfig
from vigil.notify.metrics import NotifyMetrics
from vigil.notify.mqtt import MqttNotifier
notifier = MqttNotifier(MqttConfig(port=int(sys.argv[1]), prefix=sys.argv[2], keepalive=5),
                        NotifyMetrics(CollectorRegistry()))
notifier.start()
notifier.connected.wait(10)
print("connected", flush=True)
threading.Event().wait()
"""


def test_the_last_will_says_offline_when_the_streamer_dies(shared_broker):
    prefix = unique_prefix()
    watcher = Subscriber(shared_broker, f"{prefix}/available")
    process = subprocess.Popen([sys.executable, "-c", CRASHING_STREAMER, str(shared_broker), prefix],
                               stdout=subprocess.PIPE, text=True)
    try:
        # Given a streamer that announced itself online
        assert process.stdout is not None and process.stdout.readline().strip() == "connected"
        assert watcher.wait_for(1)[0] == (f"{prefix}/available", b"online", False)
        # When it dies without a word (SIGKILL: no DISCONNECT is sent)
        process.kill()
        process.wait(10)
        # Then the broker publishes its last will
        assert watcher.wait_for(2)[1] == (f"{prefix}/available", b"offline", False)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        watcher.close()
        clear_retained(shared_broker, [f"{prefix}/available"])


def test_home_assistant_discovery_per_camera_and_kind(shared_broker):
    prefix = unique_prefix()
    discovery = f"{prefix}-ha"
    subscriber = Subscriber(shared_broker, f"{discovery}/#")
    notifier, _ = notifier_for(shared_broker, prefix, home_assistant=True, discovery_prefix=discovery)
    try:
        notifier.start()
        # Given the configured camera "door": one binary sensor per kind at connect
        configs = {topic: json.loads(payload) for topic, payload, _ in subscriber.wait_for(4)}
        assert sorted(configs) == sorted(f"{discovery}/binary_sensor/{prefix}/door_{kind}/config"
                                         for kind in ("fall", "drowsy", "looking_away", "distress"))
        fall = configs[f"{discovery}/binary_sensor/{prefix}/door_fall/config"]
        assert fall["state_topic"] == f"{prefix}/door/fall"
        assert fall["availability_topic"] == f"{prefix}/available"
        # When a camera nobody configured raises an event, its sensor is announced first
        notifier.submit(incident("new", 5, camera="hall", kind="drowsy", start_seq=5))
        topics = [topic for topic, _, _ in subscriber.wait_for(5)]
        assert topics[-1] == f"{discovery}/binary_sensor/{prefix}/hall_drowsy/config"
    finally:
        notifier.stop()
        subscriber.close()
        clear_retained(shared_broker, [t for t, _, _ in subscriber.received()]
                       + [f"{prefix}/available", f"{prefix}/hall/drowsy"])


def test_events_during_a_broker_outage_arrive_after_reconnect_in_order(private_broker):
    prefix = unique_prefix()
    port = private_broker.port
    target = f"127.0.0.1:{port}"
    # A persistent subscriber: the broker queues what arrives while it is away
    subscriber = Subscriber(port, f"{prefix}/events", client_id=f"sub-{prefix}", clean=False)
    notifier, registry = notifier_for(port, prefix)
    notifier.start()
    try:
        assert notifier.connected.wait(10)
        # Given a fall that opened while the broker was up
        notifier.submit(incident("new", 10))
        wait_until(lambda: sample(registry, "vigil_notify_delivered_total", target) == 1, 10, "the new event")
        # When the broker stops during the fall, and the fall updates and ends
        private_broker.stop()
        wait_until(lambda: not notifier.connected.is_set(), 10, "the notifier to see the broker gone")
        later = [incident("update", 20, severity="critical"), incident("update", 30, severity="critical"),
                 incident("end", 40, severity="critical")]
        started = time.perf_counter()
        for event in later:
            notifier.submit(event)
        assert time.perf_counter() - started < 0.05  # submitting never waits for the broker
        assert sample(registry, "vigil_notify_backlog", target) == 3
        wait_until(lambda: (sample(registry, "vigil_notify_failed_total", target) or 0) >= 2, 15,
                   "a failed reconnect")
        # Then once the broker is back, the backlog arrives, in order
        private_broker.start()
        messages = subscriber.wait_for(4, timeout=40)
        seen = [(json.loads(p)["type"], json.loads(p)["event"]["seq"]) for _, p, _ in messages]
        assert seen == [("new", 10), ("update", 20), ("update", 30), ("end", 40)]
        wait_until(lambda: sample(registry, "vigil_notify_delivered_total", target) == 4, 10, "4 deliveries")
        assert sample(registry, "vigil_notify_dropped_total", target) == 0
        assert sample(registry, "vigil_notify_backlog", target) == 0
    finally:
        notifier.stop()
        subscriber.close()


def test_a_message_lost_in_flight_is_sent_again_after_reconnect_before_newer_ones(shared_broker):
    prefix = unique_prefix()
    proxy = CuttableProxy(shared_broker)
    subscriber = Subscriber(shared_broker, f"{prefix}/events")
    notifier, registry = notifier_for(proxy.port, prefix)
    target = f"127.0.0.1:{proxy.port}"
    notifier.start()
    try:
        assert notifier.connected.wait(10)
        # Given a "new" published into a connection that silently loses it (never acknowledged)
        proxy.holding.set()
        notifier.submit(incident("new", 10))
        notifier.submit(incident("end", 40))
        time.sleep(0.5)
        assert subscriber.received() == [] and sample(registry, "vigil_notify_backlog", target) == 2
        # When the connection breaks and comes back
        proxy.cut()
        proxy.holding.clear()
        # Then the lost message is sent again first, then the next event: each once, in order
        messages = subscriber.wait_for(2)
        time.sleep(0.3)
        seen = [(json.loads(p)["type"], json.loads(p)["event"]["seq"]) for _, p, _ in subscriber.received()]
        assert seen == [("new", 10), ("end", 40)], messages
        wait_until(lambda: sample(registry, "vigil_notify_delivered_total", target) == 2, 10, "2 deliveries")
    finally:
        notifier.stop()
        subscriber.close()
        proxy.close()
        clear_retained(shared_broker, [f"{prefix}/available", f"{prefix}/door/fall"])


def test_a_dead_broker_keeps_a_bounded_backlog_and_counts_drops():
    port = free_port()  # nothing listens there
    notifier, registry = notifier_for(port, unique_prefix(), backlog=3)
    target = f"127.0.0.1:{port}"
    notifier.start()
    try:
        started = time.perf_counter()
        for seq in range(10, 20):
            notifier.submit(incident("update", seq))
        assert time.perf_counter() - started < 0.05
        assert sample(registry, "vigil_notify_dropped_total", target) == 7
        assert sample(registry, "vigil_notify_backlog", target) == 3
        assert [event["seq"] for event in list(notifier.backlog._items)] == [17, 18, 19]  # the newest kept
        wait_until(lambda: (sample(registry, "vigil_notify_failed_total", target) or 0) >= 1, 10, "a failed connect")
    finally:
        started = time.perf_counter()
        notifier.stop()
    assert time.perf_counter() - started < 2  # stopping does not wait out a dead broker


PASSWORD = "correct-horse-battery"


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


@pytest.fixture
def secure_broker(tmp_path) -> Iterator[tuple[PrivateMosquitto, Path]]:
    """A private Mosquitto with TLS (our own CA, a certificate for 127.0.0.1) and a password file."""
    if not shutil.which("openssl") or not shutil.which("mosquitto_passwd"):
        unavailable("openssl and mosquitto_passwd are needed for the TLS and password test")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", tmp_path / "ca.key", "-out", tmp_path / "ca.pem", "-days", "1",
             "-subj", "/CN=vigil-test-ca")
    _openssl("req", *ec, "-keyout", tmp_path / "server.key", "-out", tmp_path / "server.csr", "-subj", "/CN=127.0.0.1")
    (tmp_path / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", tmp_path / "server.csr", "-CA", tmp_path / "ca.pem", "-CAkey", tmp_path / "ca.key",
             "-CAcreateserial", "-out", tmp_path / "server.pem", "-days", "1", "-extfile", tmp_path / "san.ext")
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(tmp_path / "passwd"), "vigil", PASSWORD], check=True,
                   capture_output=True)
    broker = PrivateMosquitto(
        listener=f"cafile {tmp_path / 'ca.pem'}\ncertfile {tmp_path / 'server.pem'}\nkeyfile {tmp_path / 'server.key'}",
        settings=f"allow_anonymous false\npassword_file {tmp_path / 'passwd'}",
    )
    broker.start()
    yield broker, tmp_path / "ca.pem"
    broker.stop(remove=True)


def test_tls_and_a_password(secure_broker, caplog):
    broker, ca = secure_broker
    prefix = unique_prefix()
    subscriber = Subscriber(broker.port, f"{prefix}/events", ca=str(ca), username="vigil", password=PASSWORD)
    notifier, registry = notifier_for(broker.port, prefix, ca=str(ca), username="vigil", password=PASSWORD)
    notifier.start()
    try:
        # Given the right CA and password, events go through
        notifier.submit(incident("new", 10))
        assert json.loads(subscriber.wait_for(1)[0][1])["event"]["seq"] == 10
    finally:
        notifier.stop()
        subscriber.close()


def test_a_wrong_password_is_retried_counted_and_never_logged(secure_broker, caplog):
    broker, ca = secure_broker
    caplog.set_level(logging.DEBUG)
    notifier, registry = notifier_for(broker.port, unique_prefix(), ca=str(ca), username="vigil",
                                      password="wrong-password-123")
    target = f"127.0.0.1:{broker.port}"
    notifier.start()
    try:
        wait_until(lambda: (sample(registry, "vigil_notify_failed_total", target) or 0) >= 2, 15, "2 refusals")
        assert not notifier.connected.is_set()
        assert "refused the connection" in caplog.text
    finally:
        notifier.stop()
    assert "wrong-password-123" not in caplog.text and "wrong-password-123" not in repr(notifier.config)
