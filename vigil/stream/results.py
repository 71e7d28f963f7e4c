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

from vigil.backoff import Backoff
from vigil.errors import MessageError
from vigil.logs import RateLimitedLog
from vigil.messages import STATUS_ERROR, STATUS_EXPIRED, DetectionResult, TaskRef, parse_task_id
from vigil.redact import redact
from vigil.stream.admission import MALFORMED, MAX_RESULT_BYTES, TOO_LARGE

log = logging.getLogger(__name__)

RESULT_KEY_PREFIX = "celery-task-meta-"
RESULT_PATTERN = RESULT_KEY_PREFIX + "vigil.*"
RECONNECT_MAX_DELAY = 5.0

ResultCallback = Callable[[TaskRef, DetectionResult], None]
RejectCallback = Callable[[str], None]


def result_from_meta(task_id: str, meta: Any) -> tuple[TaskRef, DetectionResult] | None:
    """Turn a Celery result meta dict into the task's :class:`TaskRef` and result.

    Returns ``None`` for anything that is not a finished Vigil task, and for a result
    whose own fields disagree with its task id (a forged or corrupted message).

    Raises:
        MessageError: the result is malformed.
    """
    ref = parse_task_id(task_id)
    if ref is None or not isinstance(meta, dict):
        return None
    state = meta.get("status")
    if state == "SUCCESS":
        result = DetectionResult.from_dict(meta.get("result"))
        if (result.camera, result.session, result.seq, result.algorithm) != (
            ref.camera, ref.session, ref.seq, ref.algorithm
        ):
            raise MessageError(f"result for {result.label} stored under task id {task_id!r}")
        return ref, result
    if state in ("FAILURE", "REVOKED", "REJECTED"):
        error = meta.get("result")
        message = error.get("exc_message") if isinstance(error, dict) else error
        # REVOKED is how a worker reports a task that expired before it started.
        status = STATUS_EXPIRED if state == "REVOKED" else STATUS_ERROR
        return ref, DetectionResult.failed(ref, ref.algorithm, f"{state}: {message}", status=status)
    return None


class RedisResultListener:
    """Receives every Vigil result from Redis pub/sub, reconnecting with backoff.

    Anyone who can write to Redis can publish on these channels: a message over
    ``MAX_RESULT_BYTES``, with a channel that is no Vigil task id, or whose result disagrees
    with its id is refused and reported to ``on_reject`` with the reason.
    """

    def __init__(self, url: str, on_result: ResultCallback, on_reject: RejectCallback | None = None,
                 ssl_options: dict[str, Any] | None = None) -> None:
        self.url = url
        self.ssl_options = ssl_options or {}  # vigil.tls.redis_ssl(): CA, client cert for rediss://
        self.on_result = on_result
        self.on_reject = on_reject
        self.connected = threading.Event()
        self._errors = RateLimitedLog(log)

    def run(self, stop: threading.Event) -> None:
        backoff = Backoff(cap=RECONNECT_MAX_DELAY)
        while not stop.is_set():
            try:
                self._listen(stop, backoff)
            except redis.RedisError as exc:
                self.connected.clear()
                delay = backoff.next()
                self._errors.warning("result backend unreachable (%s): retrying in %.1f s", exc, delay)
                stop.wait(delay)

    def _listen(self, stop: threading.Event, backoff: Backoff) -> None:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=2, health_check_interval=10,
                                      **self.ssl_options)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.psubscribe(RESULT_PATTERN)
            self.connected.set()
            backoff.reset()
            log.info("listening for results on %s", redact(self.url))
            while not stop.is_set():
                message = pubsub.get_message(timeout=0.5)
                if message is not None:
                    self._handle(message)
        finally:
            pubsub.close()
            client.close()

    def _handle(self, message: dict[str, Any]) -> None:
        channel = message["channel"].decode(errors="replace")
        data = message["data"]
        if len(data) > MAX_RESULT_BYTES:
            self._reject(TOO_LARGE, "ignoring a result of %d bytes on %r", len(data), channel)
            return
        task_id = channel[len(RESULT_KEY_PREFIX):]
        if parse_task_id(task_id) is None:
            self._reject(MALFORMED, "ignoring a result on %r: not a Vigil task id", channel)
            return
        try:
            parsed = result_from_meta(task_id, json.loads(data))
        except (ValueError, TypeError, MessageError) as exc:
            self._reject(MALFORMED, "ignoring a malformed result on %r: %s", channel, exc)
            return
        if parsed is not None:
            self.on_result(*parsed)

    def _reject(self, reason: str, message: str, *args: object) -> None:
        if self.on_reject is not None:
            self.on_reject(reason)
        self._errors.warning(message, *args)


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
                try:
                    parsed = result_from_meta(task_id, self.backend.get_task_meta(task_id))
                except MessageError as exc:
                    log.warning("ignoring a malformed result of %s: %s", task_id, exc)
                    continue
                if parsed is not None:
                    self.on_result(*parsed)
