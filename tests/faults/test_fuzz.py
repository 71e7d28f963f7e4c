"""The fuzzer: generated bad task and feed messages, published to the real broker.

Each message is accounted for, one by one: a task message is answered with a result in the
result backend or refused by the worker's consumer (one "discarded" line in its log each); a
feed message is counted by the streamer as received or rejected. Nothing may die, and each
process's memory (PSS) after the run stays within 10% of what it was after warm-up.

CI runs a fixed sample (``VIGIL_FUZZ_COUNT``, default 1,000 of each kind, seed 2026);
``scripts/fuzz.py`` runs as many as asked with any seed.
"""

from __future__ import annotations

import os
import time
from collections import Counter

import psutil
import pytest
import redis
import requests
from kombu import Connection, Producer
from prometheus_client.parser import text_string_to_metric_families

from tests.faults.messages import ANSWERED, REFUSED, FuzzMessage, feed_messages, task_messages
from tests.helpers import feed_frame, frame_payload
from tests.integration.conftest import BROKER_URL, RESULT_BACKEND, start_pool_worker, start_streamer
from vigil.queues import DETECT_EXCHANGE, FRAMES_EXCHANGE

pytestmark = pytest.mark.integration

COUNT = int(os.environ.get("VIGIL_FUZZ_COUNT", "1000"))
SEED = int(os.environ.get("VIGIL_FUZZ_SEED", "2026"))
RSS_GROWTH = 1.10
# What Celery's consumer logs, once, for each message it refuses without running a task
REFUSAL_MARKERS = ("Received invalid task message", "Received unregistered task of type",
                   "Can't decode message body", "Received and deleted unknown message")


def rss(pid: int) -> int:
    """Memory of a process and its children (a prefork worker's pool), in bytes.

    Proportional set size: pages a pool shares with its parent are counted once, not per child.
    """
    process = psutil.Process(pid)
    return sum(p.memory_full_info().pss for p in (process, *process.children(recursive=True)))


def refusals(output: str) -> int:
    return sum(output.count(marker) for marker in REFUSAL_MARKERS)


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.005)


@pytest.fixture
def fuzz_worker(clean, spawn, vigil_env):
    return start_pool_worker(spawn, vigil_env, "fuzz-worker")


def detect(app, seq: int) -> dict:
    """A valid frame through the worker, its result."""
    return app.send_task("vigil.detect.fall", args=(frame_payload(seq),), queue="fall").get(timeout=60)


def publish(producer: Producer, message: FuzzMessage, **route: str) -> None:
    producer.publish(message.body, headers=message.headers, content_type=message.content_type,
                     content_encoding="binary", serializer=None, **route)


def test_fuzzed_task_messages_are_each_answered_or_refused_and_the_worker_survives(fuzz_worker, vigil_env):
    from vigil.app import create_app
    from vigil.settings import Settings

    app = create_app(Settings.load(environ={k: v for k, v in vigil_env.items() if k.startswith("VIGIL_")}))
    results = redis.Redis.from_url(RESULT_BACKEND)
    for seq in range(20):
        assert detect(app, seq)["status"] == "ok"
    # The pool's memory is noted after the first messages (warm-up: each child has met large frames)
    warm_up = max(1, COUNT // 5)
    start_rss = rss(fuzz_worker.popen.pid)
    outcomes: Counter[tuple[str, str]] = Counter()
    with Connection(BROKER_URL) as connection:
        producer = Producer(connection.default_channel)
        for number, message in enumerate(task_messages(SEED, COUNT)):
            refused_before = refusals(fuzz_worker.output())
            # One at a time: the queue is bounded, and each message must be accounted for
            publish(producer, message, exchange=DETECT_EXCHANGE.name, routing_key="fall")
            where = f"message {number} ({message.family}, seed {SEED})"
            if message.expect == ANSWERED:
                assert message.task_id is not None
                wait_until(lambda m=message: results.exists(f"celery-task-meta-{m.task_id}"), 30,
                           f"a result for {where}")
            else:
                assert message.expect == REFUSED
                wait_until(lambda before=refused_before: refusals(fuzz_worker.output()) > before, 30,
                           f"the worker to refuse {where}")
            outcomes[(message.family, message.expect)] += 1
            if number + 1 == warm_up:
                start_rss = rss(fuzz_worker.popen.pid)
            assert fuzz_worker.popen.poll() is None, f"the worker died on {where}:\n{fuzz_worker.output()[-3000:]}"
    # Then nothing was refused twice or answered by a crash, the worker still serves, memory held
    output = fuzz_worker.output()
    assert refusals(output) == sum(n for (_, expect), n in outcomes.items() if expect == REFUSED)
    assert "Unrecoverable error" not in output
    assert detect(app, 10**6)["status"] == "ok"
    end_rss = rss(fuzz_worker.popen.pid)
    assert end_rss <= start_rss * RSS_GROWTH, f"worker RSS {start_rss / 2**20:.0f} -> {end_rss / 2**20:.0f} MiB"
    print(f"\n{COUNT} task messages (seed {SEED}): {dict(outcomes)}; "
          f"worker RSS {start_rss / 2**20:.0f} -> {end_rss / 2**20:.0f} MiB")


def feed_counts(url: str) -> tuple[int, int]:
    """(frames received, feed messages rejected) from the streamer's /metrics."""
    received = rejected = 0.0
    for family in text_string_to_metric_families(requests.get(f"{url}/metrics", timeout=5).text):
        for sample in family.samples:
            if sample.name == "vigil_frames_received_total":
                received += sample.value
            elif sample.name == "vigil_feed_rejected_total":
                rejected += sample.value
    return int(received), int(rejected)


@pytest.fixture
def fuzz_streamer(clean, spawn, vigil_env):
    # Few cameras: the per-camera state (views, metrics) reaches its bound during the warm-up,
    # so growth after it would be a leak, not admission filling up.
    return start_streamer(spawn, dict(vigil_env, VIGIL_MAX_CAMERAS="4"))


def test_fuzzed_feed_messages_are_each_counted_and_the_streamer_survives(fuzz_streamer):
    process, url = fuzz_streamer
    with Connection(BROKER_URL) as connection:
        producer = Producer(connection.default_channel, exchange=FRAMES_EXCHANGE)
        # Warm up with valid frames
        for seq in range(20):
            producer.publish(feed_frame(seq, ("fall",)), serializer="msgpack")
        wait_until(lambda: feed_counts(url)[0] >= 20, 30, "the warm-up frames")
        published = sum(feed_counts(url))
        batch = 16  # below the streamer queue's bound: none is dropped before it is counted
        messages = list(feed_messages(SEED, COUNT))
        for start in range(0, len(messages), batch):
            for message in messages[start:start + batch]:
                publish(producer, message)
            published += len(messages[start:start + batch])
            wait_until(lambda target=published: sum(feed_counts(url)) >= target, 30,
                       f"feed messages {start}..{start + batch} (seed {SEED}) to be counted")
            assert process.popen.poll() is None, f"the streamer died:\n{process.output()[-3000:]}"
            if start <= len(messages) // 5 < start + batch:  # warm-up over: the streamer has met every kind
                start_rss = rss(process.popen.pid)
        assert sum(feed_counts(url)) == published  # each counted exactly once
        # And the streamer still streams a valid frame, its memory held
        received_before = feed_counts(url)[0]
        producer.publish(feed_frame(10**6, ("fall",)), serializer="msgpack")
        wait_until(lambda: feed_counts(url)[0] > received_before, 30, "a valid frame after the fuzz")
    assert requests.get(f"{url}/healthz", timeout=5).status_code in (200, 503)
    assert "Traceback" not in process.output()
    end_rss = rss(process.popen.pid)
    assert end_rss <= start_rss * RSS_GROWTH, f"streamer RSS {start_rss / 2**20:.0f} -> {end_rss / 2**20:.0f} MiB"
    print(f"\n{COUNT} feed messages (seed {SEED}): streamer RSS {start_rss / 2**20:.0f} -> {end_rss / 2**20:.0f} MiB")
