"""Login sessions, kept in the streamer's memory under random ids.

The ``vigil_session`` cookie holds only a random id (32 bytes); who is logged in, until when,
lives here. Logging out forgets the id for good, and a restart logs everyone out (run one
streamer behind a login, or pin clients to one). Bounded: at ``max_sessions`` the session
closest to expiring is dropped.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from collections.abc import Callable

MAX_SESSIONS = 10_000


@dataclasses.dataclass(frozen=True)
class Session:
    user: str
    expires: float  # time.monotonic() deadline


class SessionStore:
    """Random session ids -> :class:`Session`, each valid for ``lifetime`` seconds."""

    def __init__(self, lifetime: float, max_sessions: int = MAX_SESSIONS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.lifetime = lifetime
        self.max_sessions = max_sessions
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, user: str) -> str:
        """A new session for ``user``; returns its id (the cookie's value)."""
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            self._expire(now)
            if len(self._sessions) >= self.max_sessions:
                oldest = min(self._sessions, key=lambda key: self._sessions[key].expires)
                del self._sessions[oldest]
            self._sessions[session_id] = Session(user, now + self.lifetime)
        return session_id

    def user(self, session_id: str | None) -> str | None:
        """Who ``session_id`` belongs to, or None when it is unknown or expired."""
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if session.expires <= self._clock():
                del self._sessions[session_id]
                return None
            return session.user

    def end(self, session_id: str | None) -> None:
        with self._lock:
            self._sessions.pop(session_id or "", None)

    def __len__(self) -> int:
        return len(self._sessions)

    def _expire(self, now: float) -> None:
        for key in [key for key, session in self._sessions.items() if session.expires <= now]:
            del self._sessions[key]
