"""Events after a rule raised them: stored (a capped Redis stream or SQLite), kept, announced.

:class:`EventLog` is where every event goes: the store, the recent list, the recorder,
the listeners (live pages). The stores are interchangeable behind :class:`EventStore`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, cast

import redis

from vigil.detectors.base import Event
from vigil.errors import BrokerUnavailableError, VigilError
from vigil.stream.recorder import Recorder

log = logging.getLogger(__name__)

RECENT_EVENTS = 200
EventListener = Callable[[dict[str, Any]], None]

REDIS_STREAM_KEY = "vigil:events"


class EventStore(Protocol):
    def append(self, event: Event) -> None: ...

    def recent(self, limit: int = 100, camera: str | None = None) -> list[dict[str, Any]]:
        """Newest last."""
        ...

    def close(self) -> None: ...


class RedisEventStore:
    """Events in a Redis stream capped at about ``maxlen`` entries (``XADD MAXLEN ~``)."""

    def __init__(self, url: str, maxlen: int, key: str = REDIS_STREAM_KEY,
                 ssl_options: dict[str, Any] | None = None) -> None:
        self.client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, **(ssl_options or {}))
        self.maxlen = maxlen
        self.key = key

    def append(self, event: Event) -> None:
        try:
            self.client.xadd(
                self.key, {"event": json.dumps(event.to_dict())}, maxlen=self.maxlen, approximate=True
            )
        except redis.RedisError as exc:
            raise BrokerUnavailableError(f"cannot store event in Redis: {exc}") from exc

    def recent(self, limit: int = 100, camera: str | None = None) -> list[dict[str, Any]]:
        try:
            entries = self.client.xrevrange(self.key, count=limit if camera is None else limit * 10)
        except redis.RedisError as exc:
            raise BrokerUnavailableError(f"cannot read events from Redis: {exc}") from exc
        events = [json.loads(fields[b"event"]) for _, fields in cast(list[Any], entries)]
        if camera is not None:
            events = [e for e in events if e.get("camera") == camera][:limit]
        return events[::-1]

    def close(self) -> None:
        self.client.close()


class SqliteEventStore:
    """Events in a SQLite file, keeping the newest ``maxlen``."""

    def __init__(self, path: str, maxlen: int) -> None:
        self.maxlen = maxlen
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " camera TEXT NOT NULL, body TEXT NOT NULL)"
        )
        self._db.commit()

    def append(self, event: Event) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO events (camera, body) VALUES (?, ?)", (event.camera, json.dumps(event.to_dict()))
            )
            self._db.execute(
                "DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - ?", (self.maxlen,)
            )
            self._db.commit()

    def recent(self, limit: int = 100, camera: str | None = None) -> list[dict[str, Any]]:
        query = "SELECT body FROM events"
        params: tuple[Any, ...] = ()
        if camera is not None:
            query, params = query + " WHERE camera = ?", (camera,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY id DESC LIMIT ?", (*params, limit)).fetchall()
        return [json.loads(body) for (body,) in reversed(rows)]

    def close(self) -> None:
        with self._lock:
            self._db.close()


class EventLog:
    """Stores, keeps and announces events. Used by the processing thread; listeners may be added any time.

    Args:
        store: where events are kept for later (``/events``).
        recorder: also receives every event (reports, audits), if given.
    """

    def __init__(self, store: EventStore, recorder: Recorder | None = None) -> None:
        self.store = store
        self.recorder = recorder
        self.count = 0  # lifecycle messages
        self.incidents = 0  # of which "new": one per incident
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_EVENTS)
        self._listeners: list[EventListener] = []

    def subscribe(self, listener: EventListener) -> None:
        self._listeners.append(listener)

    def publish(self, event: Event) -> None:
        data = event.to_dict()
        log.info("event %s %s %s on %s at frame %d (%s, onset %d): %s", event.type, event.kind, event.id,
                 event.camera, event.seq, event.severity, event.start_seq, event.details)
        self.count += 1
        self.incidents += event.type == "new"
        self.recent.append(data)
        if self.recorder is not None:
            self.recorder.event(data)
        try:
            self.store.append(event)
        except VigilError as exc:
            log.error("event %s on %s#%d not stored: %s", event.kind, event.camera, event.seq, exc)
        for listener in list(self._listeners):
            listener(data)
