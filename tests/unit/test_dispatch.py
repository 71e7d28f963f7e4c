"""The frame dispatcher against kombu's in-memory transport: tasks, the feed, the bound, the errors."""

from __future__ import annotations

import msgpack
import pytest
from kombu import Connection

from tests.helpers import frame_payload
from vigil.app import create_app
from vigil.capture.dispatch import FrameDispatcher
from vigil.errors import BrokerUnavailableError
from vigil.frames import Frame
from vigil.messages import CaptureStats, FrameMessage, parse_feed_message, task_id
from vigil.queues import drop_head_in_memory
from vigil.settings import Settings

MEMORY = {"VIGIL_BROKER_URL": "memory://", "VIGIL_RESULT_BACKEND": "cache+memory://", "VIGIL_QUEUE_MAX_LENGTH": "3"}


def frame(seq: int) -> Frame:
    return Frame.from_payload(frame_payload(seq), 1 << 20)


def drain(app, queue: str) -> list:
    with app.connection_for_read() as connection:
        simple = connection.SimpleQueue(queue, no_ack=True)
        messages = []
        while True:
            try:
                messages.append(simple.get(block=False))
            except simple.Empty:
                return messages


def test_each_algorithm_gets_a_task_and_streamers_get_the_frame():
    settings = Settings.load(environ=MEMORY)
    app = create_app(settings)
    feed: list = []
    dispatcher = FrameDispatcher(app, settings, feed=feed.append)
    dispatcher.send(frame(7), ["fall", "blink"], CaptureStats(camera="door", captured=8, sent=7))
    for algorithm in ("fall", "blink"):
        (message,) = drain(app, algorithm)
        assert message.headers["id"] == task_id("door", 1, 7, algorithm)
        assert message.headers["task"] == f"vigil.detect.{algorithm}"
        assert message.content_type == "application/x-msgpack"
        (payload,), _, _ = msgpack.unpackb(message.body)
        assert payload["seq"] == 7 and payload["jpeg"].startswith(b"\xff\xd8")
    parsed = parse_feed_message(feed[0], 1 << 20)
    assert isinstance(parsed, FrameMessage) and parsed.algorithms == ("fall", "blink")
    assert parsed.stats.captured == 8


def test_the_memory_queue_keeps_only_the_newest_frames():
    # Given a detector slower than the camera (nobody consumes)
    settings = Settings.load(environ=MEMORY)
    app = create_app(settings)
    dispatcher = FrameDispatcher(app, settings, feed=lambda message: None)
    # When ten frames are sent
    for seq in range(10):
        dispatcher.send(frame(seq), ["fall"], CaptureStats(camera="door"))
    # Then the queue holds the newest three, as RabbitMQ's x-max-length with drop-head would
    seqs = [msgpack.unpackb(m.body)[0][0]["seq"] for m in drain(app, "fall")]
    assert seqs == [7, 8, 9]


def test_drop_head_in_memory_uses_kombus_private_api_correctly():
    # The one place Vigil reaches into kombu's memory channel: checked against the installed kombu.
    with Connection("memory://") as connection:
        queue = connection.SimpleQueue("bounded-test", no_ack=True)
        for index in range(5):
            queue.put({"index": index})
        assert drop_head_in_memory(queue.channel, "bounded-test", 2) == 4
        assert [queue.get(block=False).payload["index"]] == [4]


def test_an_unreachable_broker_is_reported_as_such():
    settings = Settings.load(environ={"VIGIL_BROKER_URL": "amqp://guest:guest@127.0.0.1:9//"})
    dispatcher = FrameDispatcher(create_app(settings), settings)
    with pytest.raises(BrokerUnavailableError, match="cannot reach the broker"):
        dispatcher.send(frame(0), ["fall"], CaptureStats(camera="door"))
    # and the next attempt waits for the backoff instead of hammering the broker
    with pytest.raises(BrokerUnavailableError, match="next attempt in"):
        dispatcher.send(frame(1), ["fall"], CaptureStats(camera="door"))


def test_a_bug_is_not_disguised_as_an_unavailable_broker():
    settings = Settings.load(environ=MEMORY)

    def broken_feed(message: dict) -> None:
        raise KeyError("a bug in the feed callback")

    dispatcher = FrameDispatcher(create_app(settings), settings, feed=broken_feed)
    with pytest.raises(KeyError):
        dispatcher.send(frame(0), ["fall"], CaptureStats(camera="door"))


def test_a_task_carries_no_camera_url_for_flower_to_show():
    # Given a camera whose URL has a password
    settings = Settings.load(environ=MEMORY)
    app = create_app(settings)
    dispatcher = FrameDispatcher(app, settings, feed=lambda message: None)
    stats = CaptureStats(camera="door", source="stream rtsp://admin:hunter2@cam/live")
    drain(app, "fall")  # the in-memory broker is shared by the tests of this process
    # When a frame is sent
    dispatcher.send(frame(3), ["fall"], stats)
    # Then its task's arguments and their repr (what Flower shows) are the frame alone
    (message,) = drain(app, "fall")
    (payload,), kwargs, _ = msgpack.unpackb(message.body)
    assert set(payload) == {"camera", "session", "seq", "captured_at", "width", "height", "jpeg"} and kwargs == {}
    assert message.headers["argsrepr"].startswith("<frame door#3 ") and "rtsp" not in str(message.headers)
