"""Sending a captured frame: one Celery task per algorithm, plus the frame for streamers.

The dispatcher owns one broker connection (kombu connections are not thread-safe) and
never retries a frame: when the broker is down a send fails at once, the frame is
dropped and counted by the caller, and the connection is rebuilt after a short,
growing pause. Frames are live data; a late frame is worth less than the next one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from celery import Celery
from kombu import Connection

from vigil.errors import BrokerUnavailableError, QueueMismatchError
from vigil.frames import Frame
from vigil.queues import FRAMES_EXCHANGE, declare_queues, task_name
from vigil.settings import Settings

log = logging.getLogger(__name__)

RECONNECT_MIN_DELAY = 0.5
RECONNECT_MAX_DELAY = 5.0
REDECLARE_INTERVAL = 30.0  # kombu caches declarations; a deleted queue must come back

FeedCallback = Callable[[dict[str, Any]], None]


def task_id_for(camera: str, session: int, seq: int, algorithm: str) -> str:
    """The task id of one algorithm on one frame; streamers derive it back."""
    return f"vigil.{camera}.{session}.{seq}.{algorithm}"


def parse_task_id(task_id: str) -> tuple[str, int, int, str] | None:
    """(camera, session, seq, algorithm) from a Vigil task id, or ``None``."""
    parts = task_id.split(".")
    if len(parts) != 5 or parts[0] != "vigil":
        return None
    try:
        return parts[1], int(parts[2]), int(parts[3]), parts[4]
    except ValueError:
        return None


def frame_message(payload: dict[str, Any], algorithms: Sequence[str], stats: dict[str, Any]) -> dict[str, Any]:
    """What streamers receive for each frame: the frame's payload, what was asked of it, capture counters."""
    return {"kind": "frame", "frame": payload, "algorithms": list(algorithms), "stats": stats}


def status_message(camera: str, session: int, stats: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "status", "camera": camera, "session": session, "stats": stats}


class FrameDispatcher:
    """Publishes frames as detection tasks (and to the frames feed) over one connection.

    Args:
        app: the Celery app (its routing and serializer settings are used).
        settings: Vigil settings (frame age, queue arguments).
        feed: in embedded mode, a callback that receives feed messages directly;
            otherwise they are published to the ``vigil.frames`` fanout exchange.
    """

    def __init__(self, app: Celery, settings: Settings, feed: FeedCallback | None = None) -> None:
        self.app = app
        self.settings = settings
        self.feed = feed
        self._connection: Connection | None = None
        self._producer: Any = None
        self._retry_at = 0.0
        self._delay = RECONNECT_MIN_DELAY
        self._declared_at = 0.0
        self._amqp = app.conf.broker_url.startswith(("amqp", "pyamqp"))
        self._in_memory = app.conf.broker_url.startswith("memory://")

    def send(self, frame: Frame, algorithms: Sequence[str], stats: dict[str, Any]) -> None:
        """Publish ``frame`` to every algorithm's queue and to the streamers.

        Raises:
            BrokerUnavailableError: the broker cannot be reached (the frame is lost).
        """
        producer = self._ensure_producer()
        payload = frame.to_payload()
        try:
            for algorithm in algorithms:
                self._send_task(producer, frame, payload, algorithm)
            message = frame_message(payload, algorithms, stats)
            if self.feed is not None:
                self.feed(message)
            else:
                self._publish_feed(producer, message)
        except Exception as exc:
            self._fail(exc)

    def send_status(self, camera: str, session: int, stats: dict[str, Any]) -> None:
        """Tell the streamers how the camera is doing (sent even when no frames flow)."""
        message = status_message(camera, session, stats)
        if self.feed is not None:
            self.feed(message)
            return
        producer = self._ensure_producer()
        try:
            self._publish_feed(producer, message)
        except Exception as exc:
            self._fail(exc)

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.release()
            except Exception:  # closing a dead connection can fail; nothing is lost
                pass
        self._connection = self._producer = None

    def _send_task(self, producer: Any, frame: Frame, payload: dict[str, Any], algorithm: str) -> None:
        if self._in_memory:
            self._drop_head_in_memory(producer.channel, algorithm)
        amqp = self.app.amqp
        name = task_name(algorithm)
        # Built with the low-level API so no result subscription is opened per task
        # (send_task would SUBSCRIBE in Redis for every frame).
        message = amqp.create_task_message(
            task_id_for(frame.camera, frame.session, frame.seq, algorithm),
            name,
            (payload,),
            {},
            expires=self.settings.max_frame_age,
            argsrepr=f"<frame {frame.camera}#{frame.seq} {frame.width}x{frame.height} {len(frame.jpeg)} B>",
            kwargsrepr="{}",
        )
        amqp.send_task_message(
            producer, name, message, queue=algorithm, declare=[], retry=False,
            serializer="msgpack", delivery_mode=1,
        )

    def _drop_head_in_memory(self, channel: Any, queue: str) -> None:
        """Give kombu's in-memory queues the bound RabbitMQ enforces (``vigil run``).

        The memory transport ignores ``x-max-length``; without this a slow detector
        would let frames pile up without bound in embedded mode.
        """
        import queue as queue_module

        while channel._size(queue) >= self.settings.queue_max_length:
            try:
                channel._get(queue)  # the oldest frame goes, as with x-overflow: drop-head
            except queue_module.Empty:
                return

    def _publish_feed(self, producer: Any, message: dict[str, Any]) -> None:
        producer.publish(
            message,
            exchange=FRAMES_EXCHANGE,
            routing_key="",
            serializer="msgpack",
            delivery_mode=1,
            expiration=self.settings.max_frame_age,
            declare=[],
            retry=False,
        )

    def _ensure_producer(self) -> Any:
        now = time.monotonic()
        if self._producer is not None and now - self._declared_at < REDECLARE_INTERVAL:
            return self._producer
        if self._producer is None and now < self._retry_at:
            raise BrokerUnavailableError(f"broker unavailable; next attempt in {self._retry_at - now:.1f} s")
        try:
            if self._connection is None:
                self._connection = self.app.connection_for_write()
                self._connection.ensure_connection(max_retries=1, timeout=2)
            self._declare(self._connection)
            self._producer = self.app.amqp.Producer(self._connection, auto_declare=False)
        except Exception as exc:
            self._fail(exc)
        self._declared_at = now
        self._delay = RECONNECT_MIN_DELAY
        return self._producer

    def _declare(self, connection: Connection) -> None:
        if self._amqp:
            queues = [self.app.amqp.queues[name] for name in self.settings.algorithms]
            declare_queues(connection, queues, self.settings)
            FRAMES_EXCHANGE(connection.default_channel).declare()

    def _fail(self, exc: Exception) -> None:
        self.close()
        if isinstance(exc, QueueMismatchError):
            raise exc  # a configuration problem: retrying cannot help
        self._retry_at = time.monotonic() + self._delay
        self._delay = min(self._delay * 2, RECONNECT_MAX_DELAY)
        if isinstance(exc, BrokerUnavailableError):
            raise exc
        raise BrokerUnavailableError(f"cannot reach the broker: {exc}") from exc
