"""The streamer's HTTP limits: request-head and idle timeouts, a connection cap, viewers.

aiohttp bounds the size of a request head (``max_line_size``, ``max_field_size``,
``max_headers``) but has no timeout for receiving it, and closes idle keep-alive
connections only after an hour: a client sending one header line every few seconds held
a connection (and a file descriptor) forever. :class:`ConnectionGuard` wraps each
connection's protocol and owns every open connection:

- a connection with no request in progress (its head still arriving, or idle between
  requests) is closed after ``header_timeout`` seconds;
- at ``max_connections`` a new connection closes the oldest one with no request in
  progress; only when every connection is busy is the new one closed at once. Viewers are
  capped below that (``max_viewers``), so short requests such as ``/healthz`` always find
  room;
- a viewer (MJPEG, server-sent events) whose socket takes no data for ``viewer_timeout``
  seconds is dropped (:func:`send_or_drop`);
- accept errors (out of file descriptors) are logged at most once every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import logging
import resource
import struct
import termios
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from vigil.logs import RateLimitedLog
from vigil.settings import Settings

log = logging.getLogger(__name__)

ACCEPT_BACKLOG = 64  # also how many connections asyncio accepts per loop turn, before we can close any
FD_RESERVE = 64  # descriptors kept for the broker, Redis, the event store and the loop itself
VIEWER_POLL = 0.5  # seconds between checks that a stalled viewer's socket still takes data
_OUTQ = getattr(termios, "TIOCOUTQ", None)  # Linux (SIOCOUTQ): a socket's bytes not yet acknowledged
RETRY_AFTER = "5"

# Why a connection was closed: the only values of the `reason` label of vigil_http_closed.
HEADER_TIMEOUT = "header_timeout"
EVICTED = "evicted"
REFUSED = "refused"
VIEWER_STALLED = "viewer_stalled"
TOO_MANY_VIEWERS = "too_many_viewers"

CloseCallback = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class HttpLimits:
    """The limits of one HTTP server (see the module docstring)."""

    max_connections: int
    max_viewers: int
    header_timeout: float
    viewer_timeout: float

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        return cls(settings.http_max_connections, settings.http_max_viewers, settings.http_header_timeout,
                   settings.http_viewer_timeout)

    def fitted(self, open_files: int | None = None) -> HttpLimits:
        """These limits lowered to fit the process's open-files limit, viewers below connections."""
        if open_files is None:
            open_files = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        connections = self.max_connections
        if open_files != resource.RLIM_INFINITY:
            fit = max(2, open_files - FD_RESERVE - ACCEPT_BACKLOG)
            if fit < connections:
                log.warning("serving at most %d HTTP connections (not %d): the open-files limit is %d",
                            fit, connections, open_files)
                connections = fit
        viewers = min(self.max_viewers, max(1, connections * 3 // 4))
        return dataclasses.replace(self, max_connections=connections, max_viewers=viewers)


class ConnectionGuard:
    """Every open connection of one HTTP server, with its timers and the caps.

    Args:
        limits: the caps and timeouts.
        on_close: called with the reason each time the guard closes or refuses a connection.
    """

    def __init__(self, limits: HttpLimits, on_close: CloseCallback | None = None) -> None:
        self.limits = limits
        self.viewers = 0
        self._on_close = on_close
        self._open: dict[asyncio.BaseTransport, _GuardedProtocol] = {}  # oldest first

    def protocol_factory(self, make_protocol: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """Wrap the server's protocol factory (an aiohttp ``runner.server``)."""
        return lambda: _GuardedProtocol(self, make_protocol)

    def open_connections(self) -> int:
        return len(self._open)

    @web.middleware
    async def middleware(self, request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        """Marks the connection busy while its request is handled (connections not ours pass through)."""
        connection = self._open.get(request.transport) if request.transport is not None else None
        if connection is not None:
            connection.busy = True
            connection.disarm()
        try:
            return await handler(request)
        finally:
            if connection is not None:
                connection.busy = False
                connection.arm(self.limits.header_timeout)  # also bounds writing the response

    @contextlib.asynccontextmanager
    async def viewer(self) -> AsyncIterator[None]:
        """A viewer's slot for the time it streams.

        Raises:
            web.HTTPServiceUnavailable: ``max_viewers`` already stream.
        """
        if self.viewers >= self.limits.max_viewers:
            self.closed(TOO_MANY_VIEWERS)
            raise web.HTTPServiceUnavailable(text=f"{self.viewers} viewers already: try again later",
                                             headers={"Retry-After": RETRY_AFTER})
        self.viewers += 1
        try:
            yield
        finally:
            self.viewers -= 1

    def closed(self, reason: str) -> None:
        if self._on_close is not None:
            self._on_close(reason)

    # -- called by _GuardedProtocol -----------------------------------------------------

    def _admit(self, connection: _GuardedProtocol, transport: asyncio.BaseTransport) -> bool:
        if len(self._open) >= self.limits.max_connections:
            oldest_idle = next((t for t, c in self._open.items() if not c.busy), None)
            if oldest_idle is None:
                self.closed(REFUSED)
                return False
            self._open.pop(oldest_idle).close(EVICTED)  # gone for counting, whenever asyncio reports it lost
        self._open[transport] = connection
        return True

    def _forget(self, transport: asyncio.BaseTransport) -> None:
        self._open.pop(transport, None)


class _GuardedProtocol(asyncio.Protocol):
    """Forwards everything to aiohttp's protocol, created only for an admitted connection."""

    def __init__(self, guard: ConnectionGuard, make_protocol: Callable[[], asyncio.Protocol]) -> None:
        self.guard = guard
        self.make_protocol = make_protocol
        self.inner: asyncio.Protocol | None = None
        self.transport: asyncio.BaseTransport | None = None
        self.busy = False
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        if not self.guard._admit(self, transport):
            transport.abort()  # type: ignore[attr-defined]
            return
        self.arm(self.guard.limits.header_timeout)
        self.inner = self.make_protocol()
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.inner is not None:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm()
        if self.transport is not None:
            self.guard._forget(self.transport)
        if self.inner is not None:
            self.inner.connection_lost(exc)

    def arm(self, timeout: float) -> None:
        self.disarm()
        self._timer = asyncio.get_running_loop().call_later(timeout, self.close, HEADER_TIMEOUT)

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close(self, reason: str) -> None:
        self.disarm()
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        self.guard.closed(reason)
        if isinstance(transport, asyncio.WriteTransport) and transport.get_write_buffer_size():
            transport.abort()  # close() would wait for a client that does not read
        else:
            transport.close()


async def send_or_drop(request: web.Request, response: web.StreamResponse, data: bytes, timeout: float,
                       guard: ConnectionGuard | None = None) -> None:
    """Write ``data`` to a streaming client, dropping it if its socket takes nothing for ``timeout`` s.

    A slow client that keeps reading is waited for (the caller skips frames meanwhile); one
    that stopped reading only fills buffers, so it is disconnected.

    Raises:
        ConnectionResetError: the client went away or was dropped.
    """
    write = asyncio.ensure_future(response.write(data))
    transport = request.transport
    loop = asyncio.get_running_loop()
    waiting, since = -1, loop.time()
    try:
        while True:
            await asyncio.wait({write}, timeout=min(VIEWER_POLL, timeout))
            if write.done():
                write.result()
                return
            size = _unacknowledged(transport)
            now = loop.time()
            if size != waiting:
                waiting, since = size, now  # it took some (or this is the first look)
            elif now - since >= timeout:
                if guard is not None:
                    guard.closed(VIEWER_STALLED)
                if transport is not None:
                    transport.abort()
                raise ConnectionResetError(f"viewer took no data for {timeout:g} s")
    finally:
        if not write.done():
            write.cancel()


def _unacknowledged(transport: asyncio.BaseTransport | None) -> int:
    """Bytes written to a client and not yet taken by it: asyncio's buffer and the kernel's queue.

    The kernel's queue matters: a socket becomes writable again only when half its (often
    megabytes large) send buffer is free, so asyncio's buffer alone can stand still for
    seconds while a slow client reads.
    """
    if not isinstance(transport, asyncio.WriteTransport):
        return 0
    size = transport.get_write_buffer_size()
    sock = transport.get_extra_info("socket")
    if sock is not None and _OUTQ is not None:
        with contextlib.suppress(OSError):  # not Linux, or the socket just closed: asyncio's buffer only
            size += struct.unpack("i", fcntl.ioctl(sock.fileno(), _OUTQ, b"\0\0\0\0"))[0]
    return size


def quiet_accept_errors(loop: asyncio.AbstractEventLoop, interval: float = 5.0) -> None:
    """Log ``accept()`` failures (e.g. out of file descriptors) at most once every ``interval`` s.

    asyncio logs each failed accept, many times per loop turn; other errors keep the default handler.
    """
    limited = RateLimitedLog(log, interval)

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if str(context.get("message", "")).startswith("socket.accept()"):
            limited.warning("cannot accept HTTP connections: %s", context.get("exception"))
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(handle)
