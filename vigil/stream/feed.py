"""Receiving the capture feed (frames and status reports) from the broker."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from kombu import Connection, Consumer
from kombu.mixins import ConsumerMixin

from vigil.queues import streamer_queue
from vigil.settings import Settings

log = logging.getLogger(__name__)


class FeedConsumer(ConsumerMixin):
    """Consumes the ``vigil.frames`` fanout through this streamer's own bounded queue.

    kombu's ConsumerMixin reconnects with backoff when the broker goes away.
    """

    def __init__(self, settings: Settings, on_message: Callable[[dict[str, Any]], None]) -> None:
        self.connection = Connection(settings.broker_url, connect_timeout=2, heartbeat=30)
        self.queue = streamer_queue(f"vigil.stream.{socket.gethostname()}.{os.getpid()}", settings)
        self.on_message = on_message
        self.connected = threading.Event()

    def get_consumers(self, consumer_cls: Any, channel: Any) -> list[Consumer]:
        return [consumer_cls(queues=[self.queue], callbacks=[self._receive], accept=["msgpack"], no_ack=True)]

    def on_consume_ready(self, connection: Any, channel: Any, consumers: Any, **kwargs: Any) -> None:
        self.connected.set()
        log.info("receiving frames from %s", connection.as_uri())

    def on_connection_error(self, exc: Exception, interval: float) -> None:
        self.connected.clear()
        log.warning("broker unreachable (%s): retrying in %.1f s", exc, interval)

    def _receive(self, body: Any, message: Any) -> None:
        if isinstance(body, dict):
            self.on_message(body)
        else:
            log.warning("ignoring a feed message of type %s", type(body).__name__)

    def run_until(self, stop: threading.Event) -> None:
        def stop_when_told() -> None:
            stop.wait()
            self.should_stop = True  # ConsumerMixin checks this between drains

        threading.Thread(target=stop_when_told, daemon=True).start()
        try:
            self.run()
        finally:
            self.connection.release()
