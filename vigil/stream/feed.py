"""Receiving the capture feed (frames and status reports) from the broker."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from kombu import Connection, Consumer
from kombu.mixins import ConsumerMixin

from vigil.queues import streamer_queue
from vigil.redact import redact
from vigil.settings import Settings
from vigil.tls import broker_ssl

log = logging.getLogger(__name__)

FEED_HEARTBEAT = 30.0  # seconds; RabbitMQ closes a connection that sends nothing for about two of them
FAILURE_LOG_INTERVAL = 5.0  # seconds between two tracebacks of failed feed messages
HEARTBEAT_CHECKS = 4  # heartbeat checks per interval: amqp sends a heartbeat once half an interval is silent


class FeedConsumer(ConsumerMixin):
    """Consumes the ``vigil.frames`` fanout through this streamer's own bounded queue.

    kombu's ConsumerMixin reconnects with backoff when the broker goes away. It only checks
    heartbeats when no message came for a second; this consumer never acknowledges (``no_ack``),
    so while frames flow it sent nothing at all and RabbitMQ closed the connection for missed
    heartbeats. :meth:`on_iteration` checks them on a clock instead.

    Args:
        settings: the broker URL and the feed queue's bound.
        on_message: called with each decoded feed message, on the consumer's thread (whatever
            its type: the caller validates and counts what it refuses).
        on_undecodable: called with the error when a message cannot be decoded (corrupt msgpack,
            a serializer that is not accepted), instead of kombu's log line for each.
        heartbeat: seconds of the AMQP heartbeat asked of the broker.
    """

    def __init__(self, settings: Settings, on_message: Callable[[Any], None],
                 on_undecodable: Callable[[Exception], None] | None = None,
                 heartbeat: float = FEED_HEARTBEAT) -> None:
        self.connection = Connection(settings.broker_url, connect_timeout=2, heartbeat=heartbeat,
                                     ssl=broker_ssl(settings) or False)
        self.queue = streamer_queue(f"vigil.stream.{socket.gethostname()}.{os.getpid()}", settings)
        self.on_message = on_message
        self.on_undecodable = on_undecodable
        self.connected = threading.Event()
        self.connections = 0  # connections established: stays 1 while the first one holds
        self._check_every = min(1.0, heartbeat / HEARTBEAT_CHECKS)
        self._consuming: Connection | None = None  # the mixin consumes on a clone of self.connection
        self._next_check = 0.0
        self.failures = 0  # messages whose handling raised: a bug, each logged (rate-limited)
        self._next_failure_log = 0.0

    def get_consumers(self, consumer_cls: Any, channel: Any) -> list[Consumer]:
        return [consumer_cls(queues=[self.queue], callbacks=[self._receive], accept=["msgpack"], no_ack=True,
                             on_decode_error=self._undecodable)]

    def on_consume_ready(self, connection: Any, channel: Any, consumers: Any, **kwargs: Any) -> None:
        self._consuming = connection
        self.connections += 1
        self.connected.set()
        log.info("receiving frames from %s", redact(connection.as_uri(include_password=True)))

    def on_iteration(self) -> None:
        """Before each drain: send a heartbeat when one is due, however busy the feed is."""
        now = time.monotonic()
        if self._consuming is not None and now >= self._next_check:
            self._next_check = now + self._check_every
            self._consuming.heartbeat_check()  # raises a connection error the mixin reconnects on

    def on_connection_error(self, exc: Exception, interval: float) -> None:
        self.connected.clear()
        self._consuming = None
        log.warning("broker unreachable (%s): retrying in %.1f s", exc, interval)

    def _receive(self, body: Any, message: Any) -> None:
        try:
            self.on_message(body)
        except Exception:  # a bug on one message must not end the feed: say so loudly, go on
            self.failures += 1
            now = time.monotonic()
            if now >= self._next_failure_log:
                self._next_failure_log = now + FAILURE_LOG_INTERVAL
                log.exception("failed to handle a feed message (%d so far); the feed goes on", self.failures)

    def _undecodable(self, message: Any, exc: Exception) -> None:
        if self.on_undecodable is not None:
            self.on_undecodable(exc)
        else:
            log.warning("ignoring a feed message that cannot be decoded: %s", exc)

    def run_until(self, stop: threading.Event) -> None:
        def stop_when_told() -> None:
            stop.wait()
            self.should_stop = True  # ConsumerMixin checks this between drains

        threading.Thread(target=stop_when_told, daemon=True).start()
        try:
            self.run()
        finally:
            self.connection.release()
