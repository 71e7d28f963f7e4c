"""Every broker entity Vigil uses, declared in one place.

- ``vigil.detect`` (direct exchange): one queue per algorithm, routing key = queue name =
  algorithm name. Each queue is bounded: at most ``queue_max_length`` ready frames, the
  oldest dropped first (``x-overflow: drop-head``), none older than ``max_frame_age``.
  Only *ready* messages count toward the limit, which is why workers prefetch one
  frame and acknowledge late (see ``celeryconfig.py``).
- ``vigil.frames`` (fanout exchange): every captured frame and capture status report,
  for the streamers; each streamer binds its own exclusive, bounded queue.
"""

from __future__ import annotations

import dataclasses
import queue as queue_module
import re
from collections.abc import Iterable
from typing import Any

from kombu import Connection, Exchange, Queue

from vigil.errors import QueueMismatchError
from vigil.settings import Settings

DETECT_EXCHANGE = Exchange("vigil.detect", type="direct", durable=True)
FRAMES_EXCHANGE = Exchange("vigil.frames", type="fanout", durable=False, delivery_mode="transient")
TASK_NAME_PREFIX = "vigil.detect."


def task_name(algorithm: str) -> str:
    """The Celery task name of an algorithm, as shown in Flower."""
    return TASK_NAME_PREFIX + algorithm


def queue_arguments(settings: Settings) -> dict[str, object]:
    return {
        "x-max-length": settings.queue_max_length,
        "x-overflow": "drop-head",
        "x-message-ttl": settings.max_frame_age_ms,
    }


def algorithm_queue(algorithm: str, settings: Settings) -> Queue:
    return Queue(
        algorithm,
        DETECT_EXCHANGE,
        routing_key=algorithm,
        queue_arguments=queue_arguments(settings),
    )


def algorithm_queues(settings: Settings) -> tuple[Queue, ...]:
    return tuple(algorithm_queue(name, settings) for name in settings.algorithms)


def task_routes(settings: Settings) -> dict[str, dict[str, str]]:
    return {
        task_name(name): {"queue": name, "routing_key": name, "exchange": DETECT_EXCHANGE.name}
        for name in settings.algorithms
    }


def streamer_queue(name: str, settings: Settings) -> Queue:
    """A streamer's own queue on the frames fanout: exclusive, bounded, short-lived."""
    return Queue(
        name,
        FRAMES_EXCHANGE,
        exclusive=True,
        auto_delete=True,
        durable=False,
        queue_arguments={
            "x-max-length": settings.feed_max_length,
            "x-overflow": "drop-head",
            "x-message-ttl": settings.max_frame_age_ms,
        },
    )


_INEQUIVALENT = re.compile(
    r"inequivalent arg '(?P<arg>[^']+)' for queue '(?P<queue>[^']+)'.*?"
    r"received (?:(?:the value )?'(?P<ours>[^']*)'|none).*?current is (?:(?:the value )?'(?P<theirs>[^']*)'|none)",
    re.DOTALL,
)


def mismatch_message(error_text: str, settings: Settings) -> str:
    """Turn RabbitMQ's 406 PRECONDITION_FAILED text into advice a user can act on."""
    match = _INEQUIVALENT.search(error_text)
    if not match:
        return f"a queue exists on the broker with other arguments than Vigil's: {error_text}"
    queue, arg = match["queue"], match["arg"]
    ours = match["ours"] if match["ours"] is not None else "(not set)"
    theirs = match["theirs"] if match["theirs"] is not None else "(not set)"
    return (
        f"queue {queue!r} already exists on the broker with {arg}={theirs}, but Vigil's settings "
        f"ask for {arg}={ours}. Either delete the old queue (it holds only stale frames): "
        f"`rabbitmqctl delete_queue {queue}`, or make the settings match the queue "
        f"(VIGIL_QUEUE_MAX_LENGTH={settings.queue_max_length}, "
        f"VIGIL_MAX_FRAME_AGE={settings.max_frame_age} now) on every capture and worker."
    )


def declare_queues(connection: Connection, queues: Iterable[Queue], settings: Settings) -> None:
    """Declare ``queues`` on the broker, explaining any argument mismatch.

    Raises:
        QueueMismatchError: a queue exists with other arguments (AMQP 406).
    """
    from amqp.exceptions import PreconditionFailed

    for queue in queues:
        # A 406 closes the channel, so each queue gets a fresh one.
        channel = connection.channel()
        try:
            queue(channel).declare()
        except PreconditionFailed as exc:
            raise QueueMismatchError(mismatch_message(str(exc), settings)) from exc
        finally:
            try:
                channel.close()
            except connection.channel_errors + connection.connection_errors:
                pass  # the broker already closed it after the 406


def drop_head_in_memory(channel: Any, queue: str, max_length: int) -> int:
    """Give a kombu ``memory://`` queue RabbitMQ's ``x-max-length`` + ``drop-head`` bound.

    Returns how many messages were dropped. kombu's in-memory channel has no public
    size or bound, so this is the one place Vigil uses its private ``_size`` and
    ``_get`` (tested in ``tests/unit/test_routing.py`` against the kombu we install).
    """
    dropped = 0
    while channel._size(queue) >= max_length:
        try:
            channel._get(queue)  # the oldest goes first, as with x-overflow: drop-head
        except queue_module.Empty:
            break
        dropped += 1
    return dropped


@dataclasses.dataclass(frozen=True)
class QueueDepth:
    """Ready messages and consumers of one queue, as the broker reports them."""

    messages: int
    consumers: int


def queue_depths(connection: Connection, names: Iterable[str]) -> dict[str, QueueDepth]:
    """Ask the broker how deep each queue is and how many consume it (a passive declare).

    No management plugin needed: ``queue.declare`` with ``passive`` returns both counts
    and creates nothing. A queue that does not exist yet is left out.
    """
    from amqp.exceptions import NotFound

    depths: dict[str, QueueDepth] = {}
    for name in names:
        channel = connection.channel()  # a 404 closes the channel, so each queue gets its own
        try:
            _, messages, consumers = channel.queue_declare(queue=name, passive=True)
            depths[name] = QueueDepth(int(messages), int(consumers))
        except NotFound:
            continue
        finally:
            try:
                channel.close()
            except connection.channel_errors + connection.connection_errors:
                pass  # already closed by the broker after a 404
    return depths
