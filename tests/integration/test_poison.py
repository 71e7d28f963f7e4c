"""Messages nobody should send, published to a real queue in front of a real worker pool.

Each malformed task message must be refused (logged and rejected, not requeued) while the
worker keeps consuming: a valid frame sent after all of them gets its result.
"""

from __future__ import annotations

import time
import uuid

import msgpack
import pytest
from kombu import Connection, Producer

from tests.helpers import frame_payload
from tests.integration.conftest import BROKER_URL, celery
from vigil.queues import DETECT_EXCHANGE

pytestmark = pytest.mark.integration

TASK = "vigil.detect.fall"


def headers(**changes: object) -> dict[str, object]:
    return {"id": f"poison-{uuid.uuid4()}", "task": TASK, **changes}


POISON = [
    pytest.param(msgpack.packb({"args": [1]}), headers(), "application/x-msgpack", id="a map body"),
    pytest.param(msgpack.packb([[], {}]), headers(), "application/x-msgpack", id="two parts"),
    pytest.param(msgpack.packb(7), headers(), "application/x-msgpack", id="a number body"),
    pytest.param(msgpack.packb(None), headers(), "application/x-msgpack", id="a nil body"),
    pytest.param(msgpack.packb(["x", {}, {}]), headers(), "application/x-msgpack", id="args not a list"),
    pytest.param(msgpack.packb([[], [], {}]), headers(), "application/x-msgpack", id="kwargs not a map"),
    pytest.param(msgpack.packb([[], {}, 7]), headers(), "application/x-msgpack", id="embed not a map"),
    pytest.param(msgpack.packb([[1, 2, 3], {}, {}]), headers(), "application/x-msgpack", id="wrong arity"),
    pytest.param(msgpack.packb([[], {}, {}]), {"task": TASK}, "application/x-msgpack", id="no id header"),
    pytest.param(b"\xc1\xc1\xc1", headers(), "application/x-msgpack", id="not msgpack"),
    pytest.param(b"\x80\x04K\x01.", headers(), "application/x-python-serialize", id="pickle"),
    pytest.param(b"{}", {}, "application/json", id="no task at all"),
    pytest.param(msgpack.packb([[{"seq": "x"}], {}, {}]), headers(), "application/x-msgpack", id="bad frame"),
]


@pytest.fixture
def pool_worker(clean, spawn, vigil_env):
    process = spawn(celery("worker", "-Q", "fall", "-c", "2", "-l", "INFO", "--without-mingle", "--without-gossip",
                           "-n", f"poison-{time.time_ns()}@%h"), vigil_env, "pool-worker")
    process.wait_for("ready.", 60)
    return process


def test_poison_messages_are_refused_and_the_worker_keeps_serving(pool_worker, vigil_env):
    from vigil.app import create_app
    from vigil.settings import Settings

    # Given every malformed shape, published to the fall queue
    with Connection(BROKER_URL) as connection:
        producer = Producer(connection.default_channel)
        for param in POISON:
            body, message_headers, content_type = param.values
            producer.publish(body, exchange=DETECT_EXCHANGE, routing_key="fall", headers=message_headers,
                             content_type=content_type, content_encoding="binary", serializer=None)
    # When a valid frame follows them
    app = create_app(Settings.load(environ={k: v for k, v in vigil_env.items() if k.startswith("VIGIL_")}))
    result = app.send_task(TASK, args=(frame_payload(1),), queue="fall").get(timeout=60)
    # Then it is processed, by a worker that is still up, and each poison was reported
    assert result["status"] == "ok", result
    assert pool_worker.popen.poll() is None, pool_worker.output()[-3000:]
    output = pool_worker.output()
    assert output.count("malformed task message refused") == 8, output[-5000:]
    assert "Unrecoverable error" not in output
