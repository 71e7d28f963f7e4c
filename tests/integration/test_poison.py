"""Messages nobody should send, published to a real queue in front of a real worker pool.

Each malformed task message must be refused (logged and rejected, not requeued) while the
worker keeps consuming: a valid frame sent after all of them gets its result.
"""

from __future__ import annotations

import uuid

import msgpack
import pytest
from kombu import Connection, Producer

from tests.helpers import frame_payload
from tests.integration.conftest import BROKER_URL, start_pool_worker
from vigil.queues import DETECT_EXCHANGE

pytestmark = pytest.mark.integration

TASK = "vigil.detect.fall"
MSGPACK = "application/x-msgpack"


def headers(**changes: object) -> dict[str, object]:
    return {"id": f"poison-{uuid.uuid4()}", "task": TASK, **changes}


# (body, headers, content type, what the worker's log says about it)
POISON = [
    (msgpack.packb({"args": [1]}), headers(), MSGPACK, "the body must be [args, kwargs, embed], got a dict"),
    (msgpack.packb([[], {}]), headers(), MSGPACK, "got a list of 2"),
    (msgpack.packb(7), headers(), MSGPACK, "got a int"),
    (msgpack.packb(None), headers(), MSGPACK, "got a NoneType"),
    (msgpack.packb(["x", {}, {}]), headers(), MSGPACK, "args must be a list, got str"),
    (msgpack.packb([[], [], {}]), headers(), MSGPACK, "kwargs must be a map with string keys"),
    (msgpack.packb([[], {}, 7]), headers(), MSGPACK, "embed must be a map, got int"),
    (msgpack.packb([[], {}, {}]), {"task": TASK}, MSGPACK, "header 'id' must be a string"),
    (msgpack.packb([[1, 2, 3], {}, {}]), headers(), MSGPACK, "takes one frame payload and no keyword arguments"),
    (msgpack.packb([[{}], {"x": 1}, {}]), headers(), MSGPACK, "got 1 argument(s) and 1 keyword(s)"),
    (b"\xc1\xc1\xc1", headers(), MSGPACK, "Can't decode message body"),
    (b"\x80\x04K\x01.", headers(), "application/x-python-serialize", "Refusing to deserialize untrusted content"),
    (b"{}", {}, "application/json", "Received and deleted unknown message"),
    (msgpack.packb([[{"seq": "x"}], {}, {}]), headers(), MSGPACK, "malformed frame payload"),
]


@pytest.fixture
def pool_worker(clean, spawn, vigil_env):
    return start_pool_worker(spawn, vigil_env, "poison-worker")


def test_poison_messages_are_refused_and_the_worker_keeps_serving(pool_worker, vigil_env):
    from vigil.app import create_app
    from vigil.settings import Settings

    with Connection(BROKER_URL) as connection:
        producer = Producer(connection.default_channel)
        for body, message_headers, content_type, logged in POISON:
            # Given one malformed message on the fall queue (one at a time: the queue is bounded)
            producer.publish(body, exchange=DETECT_EXCHANGE, routing_key="fall", headers=message_headers,
                             content_type=content_type, content_encoding="binary", serializer=None)
            # Then the worker says what was wrong with it, and stays up
            pool_worker.wait_for(logged, 30)
            assert pool_worker.popen.poll() is None, pool_worker.output()[-3000:]
    # And a valid frame after all of them is processed
    app = create_app(Settings.load(environ={k: v for k, v in vigil_env.items() if k.startswith("VIGIL_")}))
    result = app.send_task(TASK, args=(frame_payload(1),), queue="fall").get(timeout=60)
    assert result["status"] == "ok", result
    assert "Unrecoverable error" not in pool_worker.output()
