"""Sending a captured frame: one Celery task per algorithm, plus the frame for streamers.

The dispatcher owns one broker connection; kombu connections are not thread-safe, so
every use of it holds one lock (the capture daemon's reader reports status while its
sender sends frames). It never retries a frame: when the broker is down a send fails at once, the frame is
dropped and counted by the caller, and the connection is rebuilt after a short,
growing, jittered pause. Frames are live data; a late frame is worth less than the
next one. Only the connection errors of the broker's transport mean "broker
unavailable"; anything else is a bug and surfaces as one.

On RabbitMQ every publish waits for the broker's confirm, so a frame counts as sent
only once the broker took all of its messages; a nack (the broker refused it) makes
the frame dropped, not sent. What that costs is measured by ``vigil bench --scenario
publish`` (docs/performance.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from amqp.exceptions import MessageNacked
from celery import Celery
from kombu import Connection
from kombu.exceptions import OperationalError

from vigil.backoff import Backoff
from vigil.errors import BrokerUnavailableError, QueueMismatchError
from vigil.frames import Frame
from vigil.messages import CaptureStats, frame_message, status_message, task_id
from vigil.queues import FRAMES_EXCHANGE, declare_queues, drop_head_in_memory, task_name
from vigil.settings import Settings

log = logging.getLogger(__name__)

RECONNECT_MIN_DELAY = 0.5
RECONNECT_MAX_DELAY = 5.0
REDECLARE_INTERVAL = 30.0  # kombu caches declarations; a deleted queue must come back
# A broker that stops confirming (a memory or disk alarm blocks publishers) must not stall
# the sender forever: the frame is dropped and the connection rebuilt.
CONFIRM_TIMEOUT = 2.0

FeedCallback = Callable[[dict[str, Any]], None]


class FrameDispatcher:
    """Publishes frames as detection tasks (and to the frames feed) over one connection.

    Args:
        app: the Celery app (its routing and serializer settings are used).
        settings: Vigil settings (frame age, queue arguments).
        feed: in embedded mode, a callback that receives feed messages directly;
            otherwise they are published to the ``vigil.frames`` fanout exchange.
        confirm: wait for RabbitMQ's publisher confirm of every message (AMQP only).
    """

    def __init__(self, app: Celery, settings: Settings, feed: FeedCallback | None = None, *,
                 confirm: bool = True) -> None:
        self.app = app
        self.settings = settings
        self.feed = feed
        self._connection: Connection | None = None
        self._producer: Any = None
        self._retry_at = 0.0
        self._backoff = Backoff(base=RECONNECT_MIN_DELAY, cap=RECONNECT_MAX_DELAY)
        self._declared_at = 0.0
        self._amqp = app.conf.broker_url.startswith(("amqp", "pyamqp"))
        self._confirm = confirm and self._amqp
        self._in_memory = app.conf.broker_url.startswith("memory://")
        self._connection_errors: tuple[type[BaseException], ...] = (OSError, OperationalError, MessageNacked)
        self._lock = threading.RLock()

    def send(self, frame: Frame, algorithms: Sequence[str], stats: CaptureStats) -> None:
        """Publish ``frame`` to every algorithm's queue and to the streamers.

        Raises:
            BrokerUnavailableError: the broker cannot be reached (the frame is lost).
        """
        with self._lock:
            self._send(frame, algorithms, stats)

    def _send(self, frame: Frame, algorithms: Sequence[str], stats: CaptureStats) -> None:
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
        except self._connection_errors as exc:
            self._fail(exc)

    def connect(self) -> None:
        """Open the connection and declare the queues now, so the first frame does not pay for it.

        Raises:
            BrokerUnavailableError: the broker cannot be reached (sending will retry).
            QueueMismatchError: a queue exists with other arguments.
        """
        with self._lock:
            self._ensure_producer()

    def send_status(self, camera: str, session: int, stats: CaptureStats) -> None:
        """Tell the streamers how the camera is doing (sent even when no frames flow)."""
        message = status_message(camera, session, stats)
        if self.feed is not None:
            self.feed(message)
            return
        with self._lock:
            producer = self._ensure_producer()
            try:
                self._publish_feed(producer, message)
            except self._connection_errors as exc:
                self._fail(exc)

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                try:
                    self._connection.release()
                except self._connection_errors:  # closing a dead connection can fail; nothing is lost
                    pass
            self._connection = self._producer = None

    def _send_task(self, producer: Any, frame: Frame, payload: dict[str, Any], algorithm: str) -> None:
        if self._in_memory:
            # kombu's in-memory transport ignores x-max-length: without this a slow
            # detector would let frames pile up without bound in `vigil run`.
            drop_head_in_memory(producer.channel, algorithm, self.settings.queue_max_length)
        amqp = self.app.amqp
        name = task_name(algorithm)
        # Built with the low-level API so no result subscription is opened per task
        # (send_task would SUBSCRIBE in Redis for every frame).
        message = amqp.create_task_message(
            task_id(frame.camera, frame.session, frame.seq, algorithm),
            name,
            (payload,),
            {},
            expires=self.settings.max_frame_age,
            argsrepr=f"<frame {frame.camera}#{frame.seq} {frame.width}x{frame.height} {len(frame.jpeg)} B>",
            kwargsrepr="{}",
        )
        amqp.send_task_message(
            producer, name, message, queue=algorithm, declare=[], retry=False, confirm_timeout=CONFIRM_TIMEOUT,
            serializer="msgpack", delivery_mode=1,
        )

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
            confirm_timeout=CONFIRM_TIMEOUT,
        )

    def _ensure_producer(self) -> Any:
        now = time.monotonic()
        if self._producer is not None and now - self._declared_at < REDECLARE_INTERVAL:
            return self._producer
        if self._producer is None and now < self._retry_at:
            raise BrokerUnavailableError(f"broker unavailable; next attempt in {self._retry_at - now:.1f} s")
        try:
            if self._connection is None:
                options = {"confirm_publish": True} if self._confirm else {}
                self._connection = self.app.connection_for_write(transport_options=options)
                # kombu's OperationalError (what it raises once its own retries give up) and
                # the transport's connection and channel errors: these, and only these,
                # mean "broker unavailable".
                self._connection_errors = (
                    OSError, OperationalError, MessageNacked, *self._connection.connection_errors,
                    *self._connection.channel_errors,
                )
                self._connection.ensure_connection(max_retries=1, timeout=2)
            self._declare(self._connection)
            self._producer = self.app.amqp.Producer(self._connection, auto_declare=False)
        except QueueMismatchError:
            self.close()
            raise  # a configuration problem: retrying cannot help
        except self._connection_errors as exc:
            self._fail(exc)
        self._declared_at = now
        self._backoff.reset()
        return self._producer

    def _declare(self, connection: Connection) -> None:
        if self._amqp:
            queues = [self.app.amqp.queues[name] for name in self.settings.algorithms]
            declare_queues(connection, queues, self.settings)
            FRAMES_EXCHANGE(connection.default_channel).declare()

    def _fail(self, exc: BaseException) -> NoReturn:
        self.close()
        self._retry_at = time.monotonic() + self._backoff.next()
        if isinstance(exc, MessageNacked):
            raise BrokerUnavailableError("the broker refused the frame (publisher confirm: nack)") from exc
        raise BrokerUnavailableError(f"cannot reach the broker: {exc}") from exc
