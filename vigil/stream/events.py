"""Events after a rule raised them: stored durably, pictured, kept, announced.

:class:`EventLog` is where every lifecycle message goes, on the processing thread: its
snapshot and clip are scheduled (:mod:`~vigil.stream.media`), it is written to the durable
store (:mod:`~vigil.stream.store`: SQLite or PostgreSQL, never only Redis), kept in the
recent list and the recorder, and handed to the listeners (live pages, notifiers), which
must not block.

A message is the event dict of ``docs/events.md`` (``Event.to_dict()``: id, type
new/update/end, camera, kind, severity, start, seq, time, end, score, details, snapshot,
clip), made plain JSON with every field set before anything sees it (:func:`as_event_dict`).
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from vigil.detectors.base import Event, event_id
from vigil.errors import VigilError
from vigil.logs import RateLimitedLog
from vigil.stream.media import MediaRecorder
from vigil.stream.recorder import Recorder
from vigil.stream.store import TYPES, EventStore

log = logging.getLogger(__name__)

RECENT_EVENTS = 200
UNSTORED_MAX = 1000  # messages kept for a retry while the store is unreachable
EventListener = Callable[[dict[str, Any]], None]
StoredListener = Callable[[int | None, dict[str, Any]], None]


def as_event_dict(event: Event | dict[str, Any]) -> dict[str, Any]:
    """The lifecycle message of ``event``: a copy in plain JSON values, every field of the contract set.

    A dict without lifecycle fields (camera, kind, seq, time: what rules sent before incidents)
    becomes the ``new`` message of an incident of its own (id from camera, session, kind and frame).

    Raises:
        ValueError: a field it cannot do without (camera, kind, seq, time) is missing or malformed.
    """
    raw = event if isinstance(event, dict) else event.to_dict()
    try:
        data: dict[str, Any] = json.loads(json.dumps(raw, default=_plain))  # numpy numbers, tuples...
        camera, kind, seq, when = str(data["camera"]), str(data["kind"]), int(data["seq"]), float(data["time"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not an event: {exc!r} in {str(raw)[:200]}") from None
    found = data.get("details")
    details: dict[str, Any] = found if isinstance(found, dict) else {}
    session = int(data.get("session") or 0)
    start_seq = int(data.get("start_seq", seq))
    confidence = details.get("confidence")
    score = data.get("score", confidence)
    defaults = {
        "id": event_id(camera, session, kind, start_seq), "type": "new", "camera": camera, "session": session,
        "algorithm": kind, "kind": kind, "severity": "info", "start_seq": start_seq, "start": when, "seq": seq,
        "time": when, "end": None, "score": float(score) if isinstance(score, (int, float)) else 0.0,
        "details": details, "snapshot": None, "clip": None,
    }
    message = {**defaults, **{key: value for key, value in data.items() if value is not None or key not in defaults}}
    if message["type"] not in TYPES:
        raise ValueError(f"event {message['id']}: type {message['type']!r} is not one of {', '.join(TYPES)}")
    return message


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)  # a numpy scalar
    return item() if callable(item) else str(value)


class EventLog:
    """Stores, pictures, keeps and announces events. ``publish`` runs on the processing thread.

    Args:
        store: the durable store (``/events``, SSE replay, acknowledgements).
        recorder: also receives every message (reports, audits), if given.
        media: schedules snapshots and clips, if given.
    """

    def __init__(self, store: EventStore, recorder: Recorder | None = None,
                 media: MediaRecorder | None = None) -> None:
        self.store = store
        self.recorder = recorder
        self.media = media
        self.count = 0  # lifecycle messages
        self.incidents = 0  # of which "new": one per incident
        self.unstored = 0  # messages that could not be stored, even after retries (dropped)
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_EVENTS)
        self._listeners: list[EventListener] = []
        self._stored_listeners: list[StoredListener] = []
        self._backlog: deque[dict[str, Any]] = deque()
        self._errors = RateLimitedLog(log)

    def subscribe(self, listener: EventListener) -> None:
        """``listener(event_dict)`` for every message, on the processing thread: it must not block."""
        self._listeners.append(listener)

    def subscribe_stored(self, listener: StoredListener) -> None:
        """``listener(cursor, event_dict)`` once stored (cursor None when the store failed): SSE."""
        self._stored_listeners.append(listener)

    def unsubscribe_stored(self, listener: StoredListener) -> None:
        if listener in self._stored_listeners:
            self._stored_listeners.remove(listener)

    def snapshot(self, event_id: str) -> bytes | None:
        """The JPEG of the event's snapshot, or None (waits briefly for one being written)."""
        return self.media.snapshot(event_id) if self.media is not None else None

    def publish(self, event: Event | dict[str, Any]) -> None:
        """Picture, store, keep and announce one message; a malformed one is logged and dropped."""
        try:
            data = as_event_dict(event)
        except ValueError as exc:
            log.error("event dropped: %s", exc)
            return
        log.info("event %s %s of %s on %s at frame %s (%s)", data["type"], data["id"], data["kind"],
                 data["camera"], data["seq"], data["severity"])
        self.count += 1
        self.incidents += data["type"] == "new"
        self._media("schedule the media of", data, lambda media: media.on_event(data))
        self.recent.append(data)
        if self.recorder is not None:
            self.recorder.event(data)
        cursor = self._store(data)
        self._media("hand over the media of", data, lambda media: media.flush())
        for listener in list(self._listeners):
            listener(data)
        for stored in list(self._stored_listeners):
            stored(cursor, data)

    def _media(self, what: str, data: dict[str, Any], call: Callable[[MediaRecorder], None]) -> None:
        if self.media is None:
            return
        try:
            call(self.media)
        except Exception:  # a snapshot or clip bug must not cost the event itself, nor the stream
            log.exception("cannot %s event %s on %s", what, data["id"], data["camera"])

    def _store(self, data: dict[str, Any]) -> int | None:
        """Store ``data`` after any backlog, in order; on failure keep it for the next try (bounded)."""
        self._backlog.append(data)
        try:
            return self._drain()
        except VigilError as exc:
            self._errors.warning("event %s on %s not stored yet (%d waiting): %s",
                               data["id"], data["camera"], len(self._backlog), exc)
            while len(self._backlog) > UNSTORED_MAX:
                self._backlog.popleft()
                self.unstored += 1
            return None

    def _drain(self) -> int | None:
        cursor = None
        while self._backlog:
            cursor = self.store.append(self._backlog[0])
            self._backlog.popleft()
        return cursor

    def close(self) -> None:
        """Write pending clips, then close the store."""
        if self.media is not None:
            self.media.close()
        try:
            self._drain()
        except VigilError as exc:
            log.error("%d events could not be stored before stopping: %s", len(self._backlog), exc)
        self.store.close()

    def backlog(self) -> int:
        """Messages waiting for the store to come back."""
        return len(self._backlog)


class EventCollector:
    """``/metrics`` series of the event log: what could not be stored, snapshots and clips written or lost."""

    def __init__(self, log: EventLog) -> None:
        self.log = log

    def describe(self) -> list[Metric]:
        return []  # collected at scrape time only

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily("vigil_events_unstored", "Event messages dropped after the store stayed "
                                  "unreachable past the backlog.", value=self.log.unstored)
        yield GaugeMetricFamily("vigil_events_store_backlog", "Event messages waiting for the store.",
                                value=self.log.backlog())
        media = self.log.media
        if media is None:
            return
        counters = media.counters
        written = CounterMetricFamily("vigil_event_media_written", "Snapshots and clips written.", labels=["kind"])
        written.add_metric(["snapshot"], counters.snapshots)
        written.add_metric(["clip"], counters.clips)
        yield written
        lost = CounterMetricFamily("vigil_event_media_lost", "Snapshots and clips not written: the writer "
                                   "queue was full, the file could not be written, or (busy) a clip of the same "
                                   "camera and kind was being filmed.", labels=["reason"])
        lost.add_metric(["queue_full"], counters.dropped)
        lost.add_metric(["write_failed"], counters.failed)
        lost.add_metric(["busy"], counters.skipped)
        yield lost
        yield CounterMetricFamily("vigil_event_clip_write_seconds", "Time spent drawing and encoding clips.",
                                  value=counters.clip_seconds)
