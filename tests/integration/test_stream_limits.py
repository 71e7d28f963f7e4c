"""The streamer's limits against real RabbitMQ and Redis: feed heartbeats, forged results, open files."""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time

import pytest
import redis
import requests
from kombu import Connection
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import feed_frame
from tests.integration.conftest import BROKER_URL, RESULT_BACKEND, free_port, healthz, inputs_connected, vigil
from vigil.queues import FRAMES_EXCHANGE
from vigil.settings import Settings
from vigil.stream.core import StreamCore
from vigil.stream.feed import FeedConsumer
from vigil.stream.results import RESULT_KEY_PREFIX, RedisResultListener
from vigil.stream.service import StreamService
from vigil.stream.store import EventStore

pytestmark = pytest.mark.integration

# Short enough that the old loop (no heartbeat while frames flow) is dropped within the flow
# below, long enough that a loaded CI machine starving the consumer for a second is not.
HEARTBEAT = 4.0


def test_the_feed_connection_holds_while_frames_flow_and_while_they_stop(services):
    # Given a feed consumer that asks RabbitMQ for a short heartbeat
    settings = Settings.load(environ={}).replace(broker_url=BROKER_URL)
    received: list[dict[str, object]] = []
    consumer = FeedConsumer(settings, received.append, heartbeat=HEARTBEAT)
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run_until, args=(stop,), daemon=True)
    thread.start()
    try:
        assert consumer.connected.wait(10)
        with Connection(BROKER_URL) as publisher:
            producer = publisher.Producer(serializer="msgpack")
            # When messages flow with no pause long enough for kombu's own heartbeat check (1 s),
            # for 5 heartbeat intervals (the consumer acknowledges nothing: it sends no byte of its own)
            sent, token = 0, f"heartbeat-{time.time()}"
            until = time.monotonic() + 5 * HEARTBEAT
            while time.monotonic() < until:
                producer.publish({"kind": "probe", "test": token, "n": sent}, exchange=FRAMES_EXCHANGE, routing_key="",
                                 declare=[FRAMES_EXCHANGE])
                sent += 1
                time.sleep(0.05)
            # and then none for 3 intervals
            time.sleep(3 * HEARTBEAT)
        # Then RabbitMQ never closed the connection: the first one still holds, and nothing was lost
        assert consumer.connections == 1, f"reconnected {consumer.connections - 1} times"
        probes = [message["n"] for message in received if message.get("test") == token]  # others share the broker
        assert consumer.connected.is_set() and probes == list(range(sent))
    finally:
        stop.set()
        thread.join(10)


def metric_samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = requests.get(f"{url}/metrics", timeout=5).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def ok_meta(camera: str, seq: int, algorithm: str = "fall", **changes: object) -> str:
    result = {"camera": camera, "session": 1, "seq": seq, "algorithm": algorithm, "status": "ok",
              "observation": {"width": 32, "height": 24, "people": []}, **changes}
    return json.dumps({"status": "SUCCESS", "result": result})


def test_forged_results_on_redis_change_nothing_in_metrics(clean):
    # Given a streamer that reads results from Redis and has seen camera door ask for fall
    core = StreamCore(Settings.load(environ={}).replace(result_backend=RESULT_BACKEND),
                      EventStore(":memory:"))
    core.on_feed(feed_frame(0, ("fall",)))
    listener = RedisResultListener(RESULT_BACKEND, core.on_result, core.result_rejected)
    service = StreamService(core, {"results": listener}, port=0)
    service.start()
    client = redis.Redis.from_url(RESULT_BACKEND)
    try:
        before = metric_samples(service.url)
        # When forged results are published where workers publish theirs
        forged = [
            ("vigil.door\nvigil_injected 1\n.1.0.fall", ok_meta("door\nvigil_injected 1\n", 0)),  # a newline
            ("vigil.door.1.0.fall", ok_meta("hall", 0)),  # disagrees with its id
            ("vigil.door.1.0.blink", ok_meta("door", 0, "blink")),  # door never asked for blink
            ("vigil.door.1.0.fall", ok_meta("door", 0, error="x" * 300_000)),  # too large
            *((f"vigil.fake{n}.1.0.fall", ok_meta(f"fake{n}", 0)) for n in range(2000)),  # cameras never seen
        ]
        for task_id, meta in forged:
            client.publish(RESULT_KEY_PREFIX + task_id, meta)
        # and then door's real result (pub/sub keeps order: once it counts, every forgery was handled)
        client.publish(RESULT_KEY_PREFIX + "vigil.door.1.0.fall", ok_meta("door", 0))
        counted = ("vigil_results_total", (("algorithm", "fall"), ("camera", "door"), ("status", "ok")))
        deadline = time.monotonic() + 10
        while metric_samples(service.url).get(counted) != 1:
            assert time.monotonic() < deadline, "door's real result never counted"
            time.sleep(0.1)
        after = metric_samples(service.url)
        # Then /metrics shows door's result and the refusals by reason, and nothing else changed
        changed = {key for key in after.keys() | before.keys() if after.get(key) != before.get(key)}
        expected_families = ("vigil_results_rejected", "vigil_results_total", "vigil_results_created",
                             "vigil_frames_emitted", "vigil_end_to_end_seconds")
        assert {key[0] for key in changed if not key[0].startswith(expected_families)} == set()
        assert {name for name, labels in after for _, value in labels if "fake" in value or "\n" in value} == set()
        rejected = {dict(labels)["reason"]: value for (name, labels), value in after.items()
                    if name == "vigil_results_rejected_total"}
        # (pub/sub spans Redis databases: other runs' real results on this server count as unknown cameras)
        assert rejected.pop("unknown_camera") >= 2000
        assert rejected == {"malformed": 2, "unknown_algorithm": 1, "too_large": 1}
    finally:
        service.stop()
        client.close()


def with_open_files(limit: int, args: list[str]) -> list[str]:
    """``args`` run with a soft and hard open-files limit of ``limit``."""
    code = (f"import os, resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, ({limit}, {limit})); "
            "os.execv(sys.argv[1], sys.argv[1:])")
    return [sys.executable, "-c", code, *args]


def test_500_slow_clients_with_256_open_files_leave_healthz_answering(clean, spawn, vigil_env):
    # Given `vigil stream` with an open-files limit of 256, as in the soak
    port = free_port()
    streamer = spawn(with_open_files(256, vigil("stream", "--port", str(port))), vigil_env, "streamer")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not inputs_connected(url):
        assert time.monotonic() < deadline, streamer.output()
        time.sleep(0.2)
    # When 500 clients connect and each starts a request it never finishes
    sockets = []
    try:
        for _ in range(500):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            with contextlib.suppress(OSError):
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
            sockets.append(sock)
        # Then /healthz answers at once (503 here: no worker runs), and the log does not fill with accept errors
        for _ in range(5):
            assert healthz(url)[1]["checks"]["inputs"] == {"feed": True, "results": True}
            time.sleep(0.5)
        output = streamer.output()
        assert output.count("Too many open files") <= 5, output[-3000:]
        assert "serving at most 128 HTTP connections" in output
    finally:
        for sock in sockets:
            sock.close()
