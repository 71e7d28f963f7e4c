"""The durable event store: incidents and their lifecycle messages, in SQLite or PostgreSQL.

One schema, written once with SQLAlchemy Core; the dialect comes from ``events_url``:
a file path (SQLite in WAL mode, the default, on the streamer's host) or a
``postgresql://`` URL (psycopg 3; one database several streamers share).

Tables (:mod:`~vigil.stream.store_schema`): an incident per event id with its latest state,
acknowledgement and files; every lifecycle message once, numbered by a monotonic cursor (the
SSE ``id:``, so a client resumes from ``Last-Event-ID``). Opening the database (pragmas, WAL,
creating the tables): :mod:`~vigil.stream.store_engine`.

Writes are idempotent by event id: two streamers watching one camera produce the same ids,
so they store ONE incident and each message once (``INSERT ... ON CONFLICT``), whichever
arrives first; an older message never overwrites a newer state.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from vigil.errors import EventStoreError
from vigil.stream.store_engine import create_engine, create_tables, in_memory, reason
from vigil.stream.store_schema import database_url, incidents, updates

log = logging.getLogger(__name__)

TYPES = ("new", "update", "end")
MAX_PAGE = 1000

@dataclasses.dataclass(frozen=True)
class Page:
    """A page of incidents, newest first; ``next`` is the ``before=`` cursor of the following page."""

    incidents: list[dict[str, Any]]
    next: str | None


@dataclasses.dataclass(frozen=True)
class StoredMessage:
    """A lifecycle message as stored: its cursor and its event dict."""

    cursor: int
    event: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class MediaRow:
    """An incident's files, for retention."""

    id: str
    updated: float
    snapshot_path: str | None
    clip_path: str | None
    media_bytes: int


def _version(event: dict[str, Any]) -> int:
    return int(event["seq"]) * len(TYPES) + TYPES.index(event["type"])


def _url_of(incident_id: str, path: str | None, name: str) -> str | None:
    return f"/events/{incident_id}/{name}" if path else None


class EventStore:
    """Incidents and lifecycle messages in a SQL database; safe to use from any thread.

    Args:
        events_url: a SQLite file path, ``:memory:``, or a ``postgresql://`` URL.

    Raises:
        EventStoreError: the database cannot be opened or its tables created.
    """

    def __init__(self, events_url: str) -> None:
        self.url = database_url(events_url)
        self.dialect = self.url.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise EventStoreError(f"unsupported event store {self.dialect!r}: use a SQLite path or postgresql://")
        self.engine = create_engine(self.url)
        self._lock = threading.Lock() if self.dialect == "sqlite" else None
        # ":memory:" is one connection shared by every thread: reads take the writers' lock too.
        self._read_lock = self._lock if self.dialect == "sqlite" and in_memory(self.url) else None
        try:
            create_tables(self.engine)
        except SQLAlchemyError as exc:
            self.engine.dispose()
            raise EventStoreError(f"cannot open the event store {self.describe()}: {reason(exc)}") from exc

    def describe(self) -> str:
        """The store's URL without its password (for logs and messages)."""
        return self.url.render_as_string(hide_password=True)

    # -- writing ------------------------------------------------------------------------

    def append(self, event: dict[str, Any]) -> int:
        """Store one lifecycle message and the incident's new latest state.

        Returns:
            The message's cursor (the same one when another streamer stored it first).

        Raises:
            EventStoreError: the database cannot be written.
        """
        row = {
            "id": event["id"], "camera": event["camera"], "kind": event["kind"], "severity": event["severity"],
            "state": event["type"], "started": float(event["start"]), "updated": float(event["time"]),
            "ended": event.get("end"), "version": _version(event), "body": event,
        }
        message = {
            "incident_id": event["id"], "type": event["type"], "seq": int(event["seq"]), "time": float(event["time"]),
            "severity": event["severity"], "score": float(event.get("score") or 0.0),
            "details": event.get("details") or {}, "body": event,
        }
        insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        upsert = insert(incidents).values(row)
        upsert = upsert.on_conflict_do_update(
            index_elements=[incidents.c.id],
            set_={name: upsert.excluded[name] for name in
                  ("severity", "state", "updated", "ended", "version", "body")},
            where=incidents.c.version <= upsert.excluded.version,  # an older message never wins
        )
        add = insert(updates).values(message).on_conflict_do_nothing().returning(updates.c.cursor)
        with self._transaction(f"cannot store event {event['id']}") as connection:
            connection.execute(upsert)
            cursor = connection.execute(add).scalar()
            if cursor is None:  # stored already, by another streamer or before a restart
                cursor = connection.execute(sa.select(updates.c.cursor).where(
                    updates.c.incident_id == event["id"], updates.c.type == event["type"],
                    updates.c.seq == int(event["seq"]))).scalar_one()
        return int(cursor)

    def acknowledge(self, incident_id: str, by: str | None, at: float) -> dict[str, Any] | None:
        """Mark an incident acknowledged; returns it, or None if there is no such incident."""
        with self._transaction(f"cannot acknowledge {incident_id}") as connection:
            done = connection.execute(incidents.update().where(incidents.c.id == incident_id)
                                      .values(ack_by=by, ack_at=at))
            if not done.rowcount:
                return None
        return self.get(incident_id, with_updates=False)

    def set_media(self, incident_id: str, *, snapshot_path: str | None = None, clip_path: str | None = None,
                  media_bytes: int = 0) -> None:
        """Record a snapshot or clip file of an incident (``media_bytes``: the incident's files in total)."""
        values: dict[str, Any] = {"media_bytes": media_bytes}
        if snapshot_path is not None:
            values["snapshot_path"] = snapshot_path
        if clip_path is not None:
            values["clip_path"] = clip_path
        with self._transaction(f"cannot record the media of {incident_id}") as connection:
            connection.execute(incidents.update().where(incidents.c.id == incident_id).values(**values))

    def delete(self, incident_ids: Sequence[str]) -> int:
        """Delete incidents and their messages (retention); returns how many incidents went."""
        if not incident_ids:
            return 0
        with self._transaction("cannot delete old events") as connection:
            connection.execute(updates.delete().where(updates.c.incident_id.in_(incident_ids)))
            return int(connection.execute(incidents.delete().where(incidents.c.id.in_(incident_ids))).rowcount)

    # -- reading ------------------------------------------------------------------------

    def page(self, *, camera: str | None = None, kind: str | None = None, since: float | None = None,
             until: float | None = None, open_only: bool = False, before: str | None = None,
             limit: int = 50) -> Page:
        """Incidents newest first (by onset), filtered, after the ``before`` cursor of a previous page.

        Raises:
            ValueError: ``before`` is not a cursor this store gave.
            EventStoreError: the database cannot be read.
        """
        limit = max(1, min(limit, MAX_PAGE))
        query = sa.select(incidents).order_by(incidents.c.started.desc(), incidents.c.id.desc()).limit(limit + 1)
        if camera is not None:
            query = query.where(incidents.c.camera == camera)
        if kind is not None:
            query = query.where(incidents.c.kind == kind)
        if since is not None:
            query = query.where(incidents.c.started >= since)
        if until is not None:
            query = query.where(incidents.c.started < until)
        if open_only:
            query = query.where(incidents.c.state != "end")
        if before:
            started, incident_id = parse_page_cursor(before)
            query = query.where(sa.or_(incidents.c.started < started,
                                       sa.and_(incidents.c.started == started, incidents.c.id < incident_id)))
        with self._read("cannot list events") as connection:
            rows = connection.execute(query).mappings().all()
        found = [_incident(row) for row in rows[:limit]]
        more = len(rows) > limit
        return Page(found, page_cursor(rows[limit - 1]["started"], rows[limit - 1]["id"]) if more else None)

    def get(self, incident_id: str, with_updates: bool = True) -> dict[str, Any] | None:
        """One incident with its lifecycle messages (oldest first), or None."""
        with self._read(f"cannot read event {incident_id}") as connection:
            row = connection.execute(sa.select(incidents).where(incidents.c.id == incident_id)).mappings().first()
            if row is None:
                return None
            incident = _incident(row)
            if with_updates:
                messages = connection.execute(
                    sa.select(updates.c.type, updates.c.seq, updates.c.time, updates.c.severity, updates.c.score,
                              updates.c.details).where(updates.c.incident_id == incident_id)
                    .order_by(updates.c.seq, updates.c.cursor)).mappings().all()
                incident["updates"] = [dict(message) for message in messages]
        return incident

    def media(self, incident_id: str) -> MediaRow | None:
        """The incident's files (paths relative to the media folder), or None."""
        with self._read(f"cannot read event {incident_id}") as connection:
            row = connection.execute(sa.select(incidents.c.id, incidents.c.updated, incidents.c.snapshot_path,
                                               incidents.c.clip_path, incidents.c.media_bytes)
                                     .where(incidents.c.id == incident_id)).first()
        return None if row is None else MediaRow(*row)

    def oldest(self, limit: int = 500, updated_before: float | None = None,
               with_media: bool = False) -> list[MediaRow]:
        """Incidents least recently updated first (retention): only those updated before a time, or with files."""
        query = sa.select(incidents.c.id, incidents.c.updated, incidents.c.snapshot_path, incidents.c.clip_path,
                          incidents.c.media_bytes).order_by(incidents.c.updated, incidents.c.id).limit(limit)
        if updated_before is not None:
            query = query.where(incidents.c.updated < updated_before)
        if with_media:
            query = query.where(incidents.c.media_bytes > 0)
        with self._read("cannot list old events") as connection:
            return [MediaRow(*row) for row in connection.execute(query)]

    def media_total(self) -> int:
        """Bytes of every stored snapshot and clip."""
        with self._read("cannot sum the media size") as connection:
            return int(connection.execute(sa.select(sa.func.coalesce(sa.func.sum(incidents.c.media_bytes), 0)))
                       .scalar_one())

    def messages_after(self, cursor: int, limit: int = MAX_PAGE) -> list[StoredMessage]:
        """Lifecycle messages stored after ``cursor``, oldest first (SSE replay)."""
        query = (sa.select(updates.c.cursor, updates.c.body).where(updates.c.cursor > cursor)
                 .order_by(updates.c.cursor).limit(limit))
        with self._read("cannot replay events") as connection:
            return [StoredMessage(int(row.cursor), dict(row.body)) for row in connection.execute(query)]

    def last_cursor(self) -> int:
        with self._read("cannot read the event cursor") as connection:
            return int(connection.execute(sa.select(sa.func.coalesce(sa.func.max(updates.c.cursor), 0))).scalar_one())

    def close(self) -> None:
        self.engine.dispose()

    # -- connections --------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self, what: str) -> Iterator[Connection]:
        """A connection in a transaction; database errors become EventStoreError naming ``what``."""
        # One SQLite writer per process at a time (SQLite makes the others wait anyway, less politely).
        with self._lock or contextlib.nullcontext(), self._errors(what), self.engine.begin() as connection:
            yield connection

    @contextlib.contextmanager
    def _read(self, what: str) -> Iterator[Connection]:
        with self._read_lock or contextlib.nullcontext(), self._errors(what), self.engine.connect() as connection:
            yield connection

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            raise EventStoreError(f"{what} in {self.describe()}: {reason(exc)}") from exc


def _incident(row: Any) -> dict[str, Any]:
    incident = dict(row["body"])
    incident["snapshot"] = _url_of(row["id"], row["snapshot_path"], "snapshot.jpg")
    clip = row["clip_path"]
    incident["clip"] = _url_of(row["id"], clip, "clip" + clip[clip.rfind("."):]) if clip else None
    incident["acknowledged"] = None if row["ack_at"] is None else {"by": row["ack_by"], "at": row["ack_at"]}
    return incident


def page_cursor(started: float, incident_id: str) -> str:
    return f"{started!r}~{incident_id}"


def parse_page_cursor(cursor: str) -> tuple[float, str]:
    started, sep, incident_id = cursor.partition("~")
    if not sep or not incident_id:
        raise ValueError(f"bad cursor {cursor!r}")
    return float(started), incident_id
