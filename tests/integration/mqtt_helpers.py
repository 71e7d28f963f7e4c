"""A real MQTT subscriber for the notification tests, and builders of incident events."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

DEFAULT_BROKER = ("127.0.0.1", 1883)


def unique_prefix() -> str:
    return f"vigil-test-{uuid.uuid4().hex[:12]}"


def jpeg() -> bytes:
    image = np.zeros((48, 64, 3), np.uint8)
    image[10:30, 20:40] = (0, 0, 255)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


def incident(type_: str, seq: int, camera: str = "door", kind: str = "fall", severity: str = "warning",
             start_seq: int = 10) -> dict[str, Any]:
    event_id = f"evt_{camera}{kind}{start_seq:08d}"[:24]
    return {"id": event_id, "type": type_, "camera": camera, "session": 1, "algorithm": "fall", "kind": kind,
            "severity": severity, "start_seq": start_seq, "start": 1000.0 + start_seq / 10, "seq": seq,
            "time": 1000.0 + seq / 10, "end": 1000.0 + seq / 10 if type_ == "end" else None, "score": 0.8,
            "details": {"track": 3}, "snapshot": f"/events/{event_id}/snapshot.jpg", "clip": None}


def reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


class Subscriber:
    """Subscribes to ``topic`` (QoS 1) and keeps every message as (topic, payload, retained).

    ``client_id`` with ``clean=False``: a persistent session, so the broker queues what arrives while
    this subscriber is away (a broker restart).
    """

    def __init__(self, port: int, topic: str, *, client_id: str = "", clean: bool = True,
                 host: str = "127.0.0.1", ca: str | None = None, username: str | None = None,
                 password: str | None = None) -> None:
        self.topic = topic
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)
        self.client.reconnect_delay_set(1, 2)
        if ca is not None:
            self.client.tls_set(ca_certs=ca)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(host, port, keepalive=10)
        self.client.loop_start()
        if not self.subscribed.wait(10):
            raise AssertionError(f"could not subscribe to {topic} on port {port}")

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if not flags.session_present:  # a persistent session kept by the broker already has the subscription
            client.subscribe(self.topic, qos=1)

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))

    def received(self) -> list[tuple[str, bytes, bool]]:
        with self._lock:
            return list(self.messages)

    def wait_for(self, count: int, timeout: float = 20) -> list[tuple[str, bytes, bool]]:
        wait_until(lambda: len(self.received()) >= count, timeout, f"{count} messages on {self.topic}: "
                   f"{[m[0] for m in self.received()]}")
        return self.received()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def clear_retained(port: int, topics: list[str], host: str = "127.0.0.1") -> None:
    """Empty retained messages (what a test left on the shared broker)."""
    client = paho.Client(CallbackAPIVersion.VERSION2)
    client.connect(host, port)
    client.loop_start()
    try:
        for topic in topics:
            client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()
