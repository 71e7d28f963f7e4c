"""Opening the event store's database: the engine per dialect, SQLite's pragmas, the tables.

SQLite (a file in WAL mode, or ``:memory:`` shared by every thread on one connection) or
PostgreSQL (a small pool, checked before use). Two streamers opening one new store together
race to create its tables and to switch a new SQLite file to WAL: both are retried here.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from vigil.stream.store_schema import metadata

CONNECT_TIMEOUT_S = 3
SQLITE_BUSY_TIMEOUT_MS = 5000


def in_memory(url: URL) -> bool:
    """Whether ``url`` is a SQLite database in memory."""
    return not url.database or url.database == ":memory:"


def create_engine(url: URL) -> Engine:
    """An engine for a ``sqlite`` or ``postgresql`` URL, with the pragmas every SQLite connection needs."""
    if url.get_backend_name() == "postgresql":
        return sa.create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=4,
                                connect_args={"connect_timeout": CONNECT_TIMEOUT_S})
    memory = in_memory(url)
    engine = sa.create_engine(
        url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        poolclass=StaticPool if memory else None,
    )

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if not memory:
            _set_wal(cursor)  # readers never block the writer
            cursor.execute("PRAGMA synchronous=NORMAL")  # durable across a process crash
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    return engine


def create_tables(engine: Engine, attempts: int = 3) -> None:
    """Create the store's tables that are missing.

    Raises:
        SQLAlchemyError: the database cannot be reached or the tables created.
    """
    # create_all checks, then creates: two streamers starting together on one store can both
    # find a table missing and one of them then fails ("already exists"; PostgreSQL: a duplicate
    # key in its catalogue). Checking again
    # finds it made.
    for attempt in range(attempts):
        try:
            metadata.create_all(engine)
            return
        except (OperationalError, ProgrammingError, IntegrityError) as exc:
            message = str(exc).lower()
            if attempt == attempts - 1 or not ("already exists" in message or "duplicate key" in message):
                raise


def reason(exc: SQLAlchemyError) -> str:
    """The first line of the database's own message (not SQLAlchemy's wrapping and SQL)."""
    original = getattr(exc, "orig", None)
    return str(original or exc).strip().splitlines()[0] if str(original or exc).strip() else type(exc).__name__


def _set_wal(cursor: Any, attempts: int = 50, pause: float = 0.1) -> None:
    """Put a SQLite file in WAL mode, waiting while another process holds it.

    The switch needs the file to itself and SQLite answers "database is locked" at once rather
    than waiting out the busy timeout: two streamers opening one new file together hit it.
    """
    for attempt in range(attempts):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if attempt == attempts - 1 or "locked" not in str(exc):
                raise
            time.sleep(pause)
