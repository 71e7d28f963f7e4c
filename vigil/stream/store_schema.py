"""The event store's tables and how the ``events_url`` setting names a database.

- ``vigil_incidents``: one row per event id, its latest state (the event dict of the latest
  lifecycle message), who acknowledged it and when, its snapshot and clip files.
- ``vigil_event_updates``: every lifecycle message once, numbered by a monotonic ``cursor``
  (the SSE ``id:``).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

incidents = sa.Table(
    "vigil_incidents",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("camera", sa.String(255), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("state", sa.String(8), nullable=False),  # type of the latest message: new, update or end
    sa.Column("started", sa.Float, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),  # capture time of the latest message
    sa.Column("ended", sa.Float, nullable=True),
    sa.Column("version", sa.BigInteger, nullable=False),  # orders messages: seq, then new < update < end
    sa.Column("body", sa.JSON, nullable=False),  # the latest event dict
    sa.Column("ack_by", sa.String(255), nullable=True),
    sa.Column("ack_at", sa.Float, nullable=True),
    sa.Column("snapshot_path", sa.String(1024), nullable=True),
    sa.Column("clip_path", sa.String(1024), nullable=True),
    sa.Column("media_bytes", sa.BigInteger, nullable=False, server_default="0"),
    sa.Index("vigil_incidents_by_start", "started", "id"),
    sa.Index("vigil_incidents_by_camera", "camera", "started"),
    sa.Index("vigil_incidents_by_updated", "updated"),
)

updates = sa.Table(
    "vigil_event_updates",
    metadata,
    sa.Column("cursor", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.String(64), nullable=False),
    sa.Column("type", sa.String(8), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("time", sa.Float, nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Column("body", sa.JSON, nullable=False),  # the whole event dict, replayed to SSE clients
    sa.UniqueConstraint("incident_id", "type", "seq", name="vigil_event_updates_once"),
    sa.Index("vigil_event_updates_by_incident", "incident_id", "cursor"),
)


def database_url(events_url: str) -> sa.URL:
    """The SQLAlchemy URL of an ``events_url`` setting (a path, ``:memory:``, sqlite:// or postgresql://)."""
    if events_url == ":memory:":
        return sa.make_url("sqlite://")
    if "://" not in events_url:
        return sa.URL.create("sqlite", database=events_url)
    url = sa.make_url(events_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")  # psycopg 3, not SQLAlchemy's default psycopg2
    return url


def sqlite_path(events_url: str) -> str | None:
    """The file of a SQLite ``events_url`` (None for PostgreSQL and ``:memory:``)."""
    url = database_url(events_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return url.database
