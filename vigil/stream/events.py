"""Durable event storage: a capped Redis stream (distributed) or SQLite (embedded)."""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any, Protocol, cast

import redis

from vigil.detectors.base import Event
from vigil.errors import BrokerUnavailableError

REDIS_STREAM_KEY = "vigil:events"


class EventStore(Protocol):
    def append(self, event: Event) -> None: ...

    def recent(self, limit: int = 100, camera: str | None = None) -> list[dict[str, Any]]:
        """Newest last."""
        ...

    def close(self) -> None: ...


class RedisEventStore:
    """Events in a Redis stream capped at about ``maxlen`` entries (``XADD MAXLEN ~``)."""

    def __init__(self, url: str, maxlen: int, key: str = REDIS_STREAM_KEY) -> None:
        self.client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
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
