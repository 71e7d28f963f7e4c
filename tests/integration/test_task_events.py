"""Task events reach Flower in batches: every event, in a few broker messages instead of three a task."""

from __future__ import annotations

import collections
import time

import numpy as np
from kombu import Connection, Consumer, Exchange, Queue

from vigil.app import create_app
from vigil.frames import encode_frame
from vigil.settings import Settings

from .conftest import BROKER_URL, celery

TASKS = 120


def test_a_prefork_worker_sends_every_task_event_in_batches(clean, spawn, vigil_env):
    name = f"events-{time.time_ns()}"
    worker = spawn(celery("worker", "-Q", "fall", "-c", "2", "-l", "INFO", "--without-mingle", "--without-gossip",
                          "-E", "-n", f"{name}@%h"), vigil_env, "worker")
    worker.wait_for("ready.", 60)
    app = create_app(Settings.load(environ={k: v for k, v in vigil_env.items() if k.startswith("VIGIL_")}))
    messages, events = 0, collections.Counter()

    def heard(body, message):
        nonlocal messages
        batch = body if isinstance(body, list) else [body]
        ours = [event for event in batch if str(event.get("hostname", "")).startswith(name)]
        if ours and message.delivery_info["routing_key"].startswith("task"):
            messages += 1
            events.update(event["type"] for event in ours)
        message.ack()

    with Connection(BROKER_URL) as connection:
        channel = connection.channel()
        queue = Queue(f"{name}-events", Exchange("celeryev", type="topic"), routing_key="#", exclusive=True,
                      auto_delete=True)
        with Consumer(channel, [queue], callbacks=[heard], accept=["json"]):
            image = np.full((48, 64, 3), 90, np.uint8)
            pending = []
            for seq in range(TASKS):
                frame = encode_frame(image, camera="events", session=1, seq=seq, captured_at=time.time(), quality=80,
                                     max_bytes=1 << 20)
                pending.append(app.send_task("vigil.detect.fall", args=(frame.to_payload(),), queue="fall"))
                time.sleep(0.01)  # a camera's pace: one at a time, not one burst
            for result in pending:
                assert result.get(timeout=60)["status"] == "ok"
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and sum(events.values()) < 3 * TASKS:
                try:
                    connection.drain_events(timeout=0.5)
                except TimeoutError:
                    pass
    assert events == {"task-received": TASKS, "task-started": TASKS, "task-succeeded": TASKS}
    # Celery alone sends one message per event here (3 a task, 360); batched, a few a second.
    assert messages <= TASKS // 2, messages
