"""A frame counts as sent only when RabbitMQ confirmed every message of it."""

from __future__ import annotations

import pytest
from kombu import Connection, Queue

from tests.helpers import frame_payload
from tests.integration.conftest import BROKER_URL, RESULT_BACKEND
from vigil.app import create_app
from vigil.capture.dispatch import FrameDispatcher
from vigil.errors import BrokerUnavailableError
from vigil.frames import Frame
from vigil.messages import CaptureStats
from vigil.queues import FRAMES_EXCHANGE
from vigil.settings import Settings

pytestmark = pytest.mark.integration

FULL_QUEUE = "vigil-test-reject-publish"


@pytest.fixture
def refusing_listener(clean):
    """A queue on the frames fanout that holds one message and then refuses more (reject-publish)."""
    queue = Queue(FULL_QUEUE, FRAMES_EXCHANGE, durable=False,
                  queue_arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    with Connection(BROKER_URL) as connection:
        FRAMES_EXCHANGE(connection.default_channel).declare()
        queue(connection.default_channel).declare()
        yield
        connection.default_channel.queue_delete(FULL_QUEUE)


def test_a_refused_frame_is_not_counted_as_sent(refusing_listener):
    settings = Settings.load(environ={"VIGIL_BROKER_URL": BROKER_URL, "VIGIL_RESULT_BACKEND": RESULT_BACKEND})
    dispatcher = FrameDispatcher(create_app(settings), settings)
    stats = CaptureStats(camera="door")
    # Given the first frame fills the listener's queue
    dispatcher.send(Frame.from_payload(frame_payload(0), 1 << 20), ["fall"], stats)
    # When the next frame's feed message is refused by the broker
    with pytest.raises(BrokerUnavailableError, match="the broker refused the frame"):
        dispatcher.send(Frame.from_payload(frame_payload(1), 1 << 20), ["fall"], stats)
    dispatcher.close()


def test_without_confirms_the_same_refusal_goes_unnoticed(refusing_listener):
    # The reason confirms are on: this is what "sent" counted before.
    settings = Settings.load(environ={"VIGIL_BROKER_URL": BROKER_URL, "VIGIL_RESULT_BACKEND": RESULT_BACKEND})
    dispatcher = FrameDispatcher(create_app(settings), settings, confirm=False)
    stats = CaptureStats(camera="door")
    for seq in range(3):
        dispatcher.send(Frame.from_payload(frame_payload(seq), 1 << 20), ["fall"], stats)
    dispatcher.close()


def test_status_and_frames_from_two_threads_share_the_connection_safely(clean):
    # The capture daemon's reader reports status while its sender sends frames: with confirms,
    # two threads waiting on one connection's acks once deadlocked the capture.
    import threading

    settings = Settings.load(environ={"VIGIL_BROKER_URL": BROKER_URL, "VIGIL_RESULT_BACKEND": RESULT_BACKEND})
    dispatcher = FrameDispatcher(create_app(settings), settings)
    stats = CaptureStats(camera="door")
    errors: list[BaseException] = []

    def frames() -> None:
        try:
            for seq in range(150):
                dispatcher.send(Frame.from_payload(frame_payload(seq), 1 << 20), ["fall"], stats)
        except BaseException as exc:  # reported below
            errors.append(exc)

    def statuses() -> None:
        try:
            for _ in range(300):
                dispatcher.send_status("door", 1, stats)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=frames), threading.Thread(target=statuses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads), "the dispatcher deadlocked"
    assert errors == []
    dispatcher.close()
