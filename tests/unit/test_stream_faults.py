"""A streamer thread that dies, or a recording that cannot be written, is loud and turns health to 503."""

from __future__ import annotations

import errno
import logging
import threading
import time
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import feed_frame
from vigil.messages import DetectionResult, TaskRef
from vigil.settings import Settings
from vigil.stream.core import StreamCore
from vigil.stream.service import StreamService
from vigil.stream.store import EventStore


class DiskFull:
    """A recorder whose disk is full (what JsonLinesRecorder raises on ENOSPC)."""

    path = "/full/record.jsonl"
    setting = "--record"

    def __init__(self) -> None:
        self.writes = 0

    def frame(self, record: dict[str, Any]) -> None:
        self.writes += 1
        raise OSError(errno.ENOSPC, "No space left on device")

    def event(self, event: dict[str, Any]) -> None:
        self.frame(event)

    def close(self) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")


class Dies:
    """An input whose thread dies on its first run, then runs until stopped."""

    def __init__(self) -> None:
        self.connected = threading.Event()
        self.connected.set()
        self.runs = 0

    def run(self, stop: threading.Event) -> None:
        self.runs += 1
        if self.runs == 1:
            raise RuntimeError("boom")
        stop.wait()


def emit_one(core: StreamCore, seq: int) -> None:
    core.on_feed(feed_frame(seq, ("fall",)))
    core.on_result(TaskRef("door", 1, seq, "fall"), DetectionResult(
        camera="door", session=1, seq=seq, algorithm="fall", status="ok",
        observation={"width": 32, "height": 24, "people": []}))
    assert core.process(now=time.time()) == 1


def test_a_full_disk_stops_recording_once_and_loudly_while_frames_go_on(caplog: pytest.LogCaptureFixture) -> None:
    recorder = DiskFull()
    core = StreamCore(Settings.load(environ={}), EventStore(":memory:"), recorder=recorder)
    with caplog.at_level(logging.ERROR):
        for seq in range(3):
            emit_one(core, seq)  # every frame is still emitted
    assert recorder.writes == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "/full/record.jsonl (--record)" in errors[0] and "No space left" in errors[0]
    health = core.health({"feed": True})
    assert health.status == "degraded" and health.reasons == (errors[0],)
    core.close_recording()  # closing onto the full disk is logged, not raised


def test_a_dead_thread_is_logged_counted_and_makes_health_degraded(caplog: pytest.LogCaptureFixture) -> None:
    core = StreamCore(Settings.load(environ={}), EventStore(":memory:"))
    feed = Dies()
    service = StreamService(core, {"feed": feed}, port=None)
    with caplog.at_level(logging.CRITICAL):
        service.start()
        deadline = time.monotonic() + 10
        while feed.runs < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    service.stop()
    assert feed.runs == 2  # restarted after the backoff
    (message,) = core.faults.values()
    assert "stream-feed thread" in message and "RuntimeError('boom')" in message and "restarted" in message
    assert any(r.levelno == logging.CRITICAL and r.exc_info for r in caplog.records)
    deaths = [s.value for f in text_string_to_metric_families(core.metrics.render().decode())
              for s in f.samples if s.name == "vigil_thread_deaths_total"]
    assert deaths and deaths[0] >= 1.0
    assert core.health(service.health()).reasons == (message,)
