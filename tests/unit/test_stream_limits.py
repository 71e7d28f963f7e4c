"""The streamer's HTTP limits, against its real server on a loopback port (in-process)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import select
import socket
import threading
import time
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import feed_frame, frame_payload
from vigil.settings import Settings
from vigil.stream.core import StreamCore
from vigil.stream.limits import HttpLimits, quiet_accept_errors
from vigil.stream.service import StreamService
from vigil.stream.store import EventStore


@contextlib.contextmanager
def serving(**settings: str) -> Iterator[StreamService]:
    """A streamer (no inputs) that knows camera door, serving on a free loopback port."""
    environ = {f"VIGIL_{key.upper()}": value for key, value in settings.items()}
    core = StreamCore(Settings.load(environ=environ), EventStore(":memory:"))
    core.on_feed(feed_frame(0, ()))
    service = StreamService(core, {}, port=0)
    service.start()
    try:
        yield service
    finally:
        service.stop()


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed ``sock`` (EOF or reset), without blocking."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        while sock.recv(65536):
            pass  # a response, then EOF
    except BlockingIOError:
        return False
    except ConnectionResetError:
        pass
    return True


def slowloris(port: int, count: int) -> list[socket.socket]:
    """``count`` connections that start a request and never finish its head."""
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        sock.setblocking(False)
        sockets.append(sock)
    return sockets


def closed_counts(service: StreamService) -> dict[str, float]:
    text = service.core.metrics.render().decode()
    return {
        sample.labels["reason"]: sample.value
        for family in text_string_to_metric_families(text) if family.name == "vigil_http_closed"
        for sample in family.samples if sample.name == "vigil_http_closed_total"
    }


def test_a_request_head_that_trickles_in_is_closed_at_the_header_timeout():
    with serving(http_header_timeout="1") as service:
        # Given 20 clients that send one header line every 0.2 s and never finish
        sockets = slowloris(service.port, 20)
        started = time.monotonic()
        closed_at: dict[int, float] = {}
        while len(closed_at) < len(sockets) and time.monotonic() - started < 4:
            for number, sock in enumerate(sockets):
                if number in closed_at:
                    continue
                if closed_by_server(sock):
                    closed_at[number] = time.monotonic() - started
                    continue
                with contextlib.suppress(BlockingIOError, ConnectionError):
                    sock.send(b"X-Slow: 1\r\n")
            time.sleep(0.2)
        # Then the server closed every one of them about the timeout after it connected
        assert len(closed_at) == 20, f"still open after 4 s: {20 - len(closed_at)}"
        assert 0.8 <= min(closed_at.values()) and max(closed_at.values()) <= 2.0, closed_at
        assert closed_counts(service)["header_timeout"] == 20
        # and a complete request is still served
        assert requests.get(f"{service.url}/healthz", timeout=2).status_code == 200
        for sock in sockets:
            sock.close()


def test_an_idle_keep_alive_connection_is_closed_at_the_header_timeout():
    with serving(http_header_timeout="0.5") as service:
        sock = socket.create_connection(("127.0.0.1", service.port))
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        sock.settimeout(3)
        started = time.monotonic()
        assert sock.recv(65536) == b""  # closed, not kept an hour as aiohttp's default would
        assert time.monotonic() - started < 1.5
        sock.close()


def test_past_the_connection_cap_healthz_still_answers_and_viewers_stay():
    with serving(http_max_connections="8", http_max_viewers="2", http_header_timeout="30") as service:
        # Given two viewers streaming (the cap for viewers) and a third one refused
        viewers = [requests.get(f"{service.url}/cameras/door/mjpeg", stream=True, timeout=5) for _ in range(2)]
        assert all(v.status_code == 200 for v in viewers)
        assert requests.get(f"{service.url}/cameras/door/mjpeg", timeout=5).status_code == 503
        # When 40 clients open connections and never finish a request
        sockets = slowloris(service.port, 40)
        time.sleep(0.3)
        # Then the server keeps at most 8 connections: the oldest idle ones were closed
        assert service.guard is not None and service.guard.open_connections() <= 8
        assert sum(closed_by_server(sock) for sock in sockets) >= 32
        # and /healthz (a new connection) is answered, while both viewers still stream
        assert requests.get(f"{service.url}/healthz", timeout=2).status_code == 200
        view = service.core.views.get("door")
        assert view is not None and view.viewers == 2
        counts = closed_counts(service)
        assert counts["evicted"] >= 32 and counts["too_many_viewers"] == 1
        for sock in sockets:
            sock.close()
        for viewer in viewers:
            viewer.close()


def noise_jpeg(width: int = 480, height: int = 360) -> bytes:
    """A JPEG that compresses badly (~150 KB), to fill socket buffers quickly."""
    image = np.random.default_rng(7).integers(0, 256, (height, width, 3), np.uint8)
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


def mjpeg_socket(port: int, receive_buffer: int) -> socket.socket:
    """A raw MJPEG viewer with a small receive buffer, so what it does not read backs up quickly."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"GET /cameras/door/mjpeg HTTP/1.1\r\nHost: localhost\r\n\r\n")
    return sock


def test_a_viewer_that_stops_reading_is_dropped_and_a_slow_reader_skips_frames():
    jpeg = noise_jpeg()
    with serving(http_viewer_timeout="1", max_payload_bytes=str(4 * len(jpeg))) as service:
        # Given a viewer that never reads and one that reads about 600 KB/s
        stalled = mjpeg_socket(service.port, 4096)
        slow = mjpeg_socket(service.port, 65536)
        seen: list[int] = []
        hurry = threading.Event()

        def read_slowly() -> None:
            buffer = b""
            while (not seen or seen[-1] < 100) and (chunk := slow.recv(32 * 1024)):
                buffer += chunk
                while (start := buffer.find(b"X-Vigil-Seq: ")) >= 0 and (end := buffer.find(b"\r\n", start)) >= 0:
                    seen.append(int(buffer[start + 13:end]))
                    buffer = buffer[end:]
                buffer = buffer[-64:]  # a header split across chunks
                if not hurry.is_set():
                    time.sleep(0.05)

        reader = threading.Thread(target=read_slowly, daemon=True)
        reader.start()
        # When 150 KB frames come 20 times a second (3 MB/s) for 5 s
        for seq in range(1, 101):
            service.core.on_feed({"kind": "frame", "algorithms": [],
                                  "frame": frame_payload(seq, jpeg=jpeg, width=480, height=360)})
            time.sleep(0.05)
        # Then the viewer that stopped reading was dropped; the slow one is still served
        counts = closed_counts(service)
        view = service.core.views.get("door")
        assert counts.get("viewer_stalled") == 1 and view is not None and view.viewers == 1
        # and, once it reads what the socket buffers hold, it got the newest frame, having skipped others
        hurry.set()
        reader.join(10)
        assert seen[-1] == 100 and seen == sorted(seen) and len(seen) < 90, seen
        slow.close()
        stalled.close()


@pytest.mark.parametrize("open_files, connections, viewers", [
    (1024, 256, 128),  # the defaults fit a usual limit
    (256, 128, 96),  # the soak's limit: room kept for the broker, Redis and one accept burst
    (100, 2, 1),
])
def test_the_connection_cap_fits_the_open_files_limit(open_files, connections, viewers):
    limits = HttpLimits(256, 128, 10.0, 10.0).fitted(open_files)
    assert (limits.max_connections, limits.max_viewers) == (connections, viewers)


def test_accept_errors_are_logged_once_every_few_seconds(caplog):
    # asyncio reports each failed accept() (out of file descriptors) through the loop's handler
    loop = asyncio.new_event_loop()
    try:
        quiet_accept_errors(loop)
        with caplog.at_level(logging.WARNING):
            for _ in range(1000):
                loop.call_exception_handler({"message": "socket.accept() out of system resource",
                                             "exception": OSError(24, "Too many open files")})
        assert len(caplog.records) == 1 and "Too many open files" in caplog.text
    finally:
        loop.close()
