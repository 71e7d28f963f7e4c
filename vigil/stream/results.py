"""Where the streamer gets results: pushed by Redis, or polled from any Celery backend.

Celery's Redis backend stores each result under ``celery-task-meta-<task id>`` and
PUBLISHes it on a channel of the same name. Vigil's task ids start with ``vigil.``, so
one pattern subscription (``celery-task-meta-vigil.*``) delivers every result the moment
it is stored, without a per-task subscription. Backends without pub/sub (the in-memory
one of ``vigil run``) are polled for the task ids the streamer still awaits.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import redis

from vigil.capture.dispatch import parse_task_id
from vigil.logs import RateLimitedLog

log = logging.getLogger(__name__)

RESULT_KEY_PREFIX = "celery-task-meta-"
RESULT_PATTERN = RESULT_KEY_PREFIX + "vigil.*"
RECONNECT_MAX_DELAY = 5.0

ResultCallback = Callable[[str, int, int, str, dict[str, Any]], None]


def result_from_meta(task_id: str, meta: dict[str, Any]) -> tuple[tuple[str, int, int, str], dict[str, Any]] | None:
    """Turn a Celery result meta dict into ``((camera, session, seq, algorithm), result)``."""
    ids = parse_task_id(task_id)
    if ids is None:
        return None
    state = meta.get("status")
    if state == "SUCCESS" and isinstance(meta.get("result"), dict):
        return ids, meta["result"]
    if state in ("FAILURE", "REVOKED", "REJECTED"):
        camera, _, seq, algorithm = ids
        error = meta.get("result")
        message = error.get("exc_message") if isinstance(error, dict) else error
        # REVOKED is how a worker reports a task that expired before it started.
        status = "expired" if state == "REVOKED" else "error"
        return ids, {"camera": camera, "seq": seq, "algorithm": algorithm, "status": status,
                     "error": f"{state}: {message}", "observation": None, "timings": {}}
    return None


class RedisResultListener:
    """Receives every Vigil result from Redis pub/sub, reconnecting with backoff."""

    def __init__(self, url: str, on_result: ResultCallback) -> None:
        self.url = url
        self.on_result = on_result
        self.connected = threading.Event()
        self._errors = RateLimitedLog(log)

    def run(self, stop: threading.Event) -> None:
        delay = 0.5
        while not stop.is_set():
            try:
                self._listen(stop)
                delay = 0.5
            except redis.RedisError as exc:
                self.connected.clear()
                self._errors.warning("result backend unreachable (%s): retrying in %.1f s", exc, delay)
                stop.wait(delay)
                delay = min(delay * 2, RECONNECT_MAX_DELAY)

    def _listen(self, stop: threading.Event) -> None:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=2, health_check_interval=10)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.psubscribe(RESULT_PATTERN)
            self.connected.set()
            log.info("listening for results on %s", self.url)
            while not stop.is_set():
                message = pubsub.get_message(timeout=0.5)
                if message is not None:
                    self._handle(message)
        finally:
            pubsub.close()
            client.close()

    def _handle(self, message: dict[str, Any]) -> None:
        channel = message["channel"].decode()
        try:
            meta = json.loads(message["data"])
        except (ValueError, TypeError):
            log.warning("ignoring a result that is not JSON on %s", channel)
            return
        parsed = result_from_meta(channel[len(RESULT_KEY_PREFIX):], meta)
        if parsed is not None:
            (camera, session, seq, algorithm), result = parsed
            self.on_result(camera, session, seq, algorithm, result)


class BackendPoller:
    """Polls a Celery result backend for the task ids the streamer awaits."""

    def __init__(self, backend: Any, pending: Callable[[], list[str]], on_result: ResultCallback,
                 interval: float = 0.002) -> None:
        self.backend = backend
        self.pending = pending
        self.on_result = on_result
        self.interval = interval
        self.connected = threading.Event()
        self.connected.set()

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            for task_id in self.pending():
                meta = self.backend.get_task_meta(task_id)
                parsed = result_from_meta(task_id, meta)
                if parsed is not None:
                    (camera, session, seq, algorithm), result = parsed
                    self.on_result(camera, session, seq, algorithm, result)
