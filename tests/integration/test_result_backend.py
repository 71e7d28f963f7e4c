"""The one-round-trip result backend against the real Redis: what Celery stored, the streamer still hears."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery import states

from vigil.app import create_app
from vigil.messages import DetectionResult, TaskRef, task_id
from vigil.result_backend import OneWriteRedisBackend
from vigil.settings import Settings
from vigil.stream.results import RedisResultListener

from .conftest import BROKER_URL, RESULT_BACKEND

# Redis pub/sub ignores the database number: other Vigil runs on this Redis publish on the same
# channels, so this test's results carry a camera name of their own and the listener keeps only those.
CAMERA = f"rb{uuid.uuid4().hex[:10]}"


@pytest.fixture
def backend(clean) -> Iterator[Any]:
    app = create_app(Settings.load(environ={"VIGIL_BROKER_URL": BROKER_URL, "VIGIL_RESULT_BACKEND": RESULT_BACKEND}))
    assert isinstance(app.backend, OneWriteRedisBackend)
    yield app.backend
    app.close()


@pytest.fixture
def heard(clean) -> Iterator[list[DetectionResult]]:
    """What the streamer's result listener receives, while the test runs."""
    received: list[DetectionResult] = []
    listener = RedisResultListener(
        RESULT_BACKEND, lambda ref, result: received.append(result) if ref.camera == CAMERA else None
    )
    stop = threading.Event()
    thread = threading.Thread(target=listener.run, args=(stop,), daemon=True)
    thread.start()
    assert listener.connected.wait(5)
    yield received
    stop.set()
    thread.join(5)


def result(seq: int, error: str = "") -> tuple[str, dict[str, Any]]:
    ref = TaskRef(CAMERA, 1, seq, "pose")
    if error:
        return task_id(CAMERA, 1, seq, "pose"), DetectionResult.failed(ref, "pose", error).to_dict()
    done = DetectionResult(camera=CAMERA, session=1, seq=seq, algorithm="pose", status="ok", detector="pose",
                           observation={"faces": []}, captured_at=1.0, started_at=1.0, finished_at=1.0)
    return task_id(CAMERA, 1, seq, "pose"), done.to_dict()


def wait_for(received: list[DetectionResult], count: int) -> None:
    stop = threading.Event()
    for _ in range(100):
        if len(received) >= count:
            return
        stop.wait(0.05)


def test_a_stored_result_is_readable_expires_and_reaches_the_streamers_listener(backend, heard):
    # Given a finished task's result
    tid, value = result(7)
    # When the worker's backend stores it
    backend.store_result(tid, value, states.SUCCESS)
    # Then Celery reads it back, it expires as configured, and the streamer heard it once
    meta = backend.get_task_meta(tid)
    assert (meta["status"], meta["result"]) == (states.SUCCESS, value)
    ttl = redis.Redis.from_url(RESULT_BACKEND).ttl(backend.get_key_for_task(tid))
    assert 0 < ttl <= backend.expires
    wait_for(heard, 1)
    assert [(r.seq, r.status) for r in heard] == [(7, "ok")]


def test_a_success_is_never_overwritten_nor_published_again(backend, heard):
    # Given a stored success (a task that a redelivery runs a second time)
    tid, value = result(8)
    backend.store_result(tid, value, states.SUCCESS)
    # When the second run stores a failure
    _, failed = result(8, error="boom")
    backend.store_result(tid, failed, states.FAILURE)
    # Then the success stays and the streamer heard one result, as with Celery's own backend
    assert backend.get_task_meta(tid)["result"] == value
    wait_for(heard, 2)
    assert [(r.seq, r.status) for r in heard] == [(8, "ok")]


def test_a_failure_may_be_replaced(backend):
    tid, failed = result(9, error="boom")
    backend.store_result(tid, failed, states.FAILURE)
    _, value = result(9)
    backend.store_result(tid, value, states.SUCCESS)
    assert backend.get_task_meta(tid)["status"] == states.SUCCESS


def test_storing_a_result_is_one_redis_command(backend, monkeypatch):
    backend.store_result(*result(10), states.SUCCESS)  # the script is loaded into Redis once
    client = backend.client
    calls: list[Any] = []
    original = type(client).execute_command

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(client), "execute_command", counting)
    pipelines = []
    monkeypatch.setattr(type(client), "pipeline", lambda *a, **k: pipelines.append(a) or pytest.fail("pipeline"))
    backend.store_result(*result(11), states.SUCCESS)
    assert calls == ["EVALSHA"] and not pipelines
