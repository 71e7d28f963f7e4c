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


class Published:
    """An incident as ``EventLog.publish`` takes it, whichever version: every key of the lifecycle
    dict as an attribute (like ``detectors.base.Event``), and ``to_dict()`` giving the dict back."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.__dict__.update(data)
        self._data = dict(data)

    def to_dict(self) -> dict[str, Any]:
        return dict(self._data)


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


class CuttableProxy:
    """A TCP proxy to a broker that can swallow what the client sends (``hold``) and cut every connection.

    Used to lose messages in flight: hold, let the client publish (the broker never sees it), cut.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.holding = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        try:
            while data := source.recv(65536):
                if not (from_client and self.holding.is_set()):
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.close()
                except OSError:
                    pass

    def cut(self) -> None:
        """Close every proxied connection (both sides), as a network failure would."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        self._listener.close()
        self.cut()
