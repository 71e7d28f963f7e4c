"""Running the streamer: its inputs, the processing thread and the HTTP server.

``distributed_streamer`` reads the capture feed from RabbitMQ and results from Redis
(``vigil stream``); ``vigil run`` wires the same core to in-process inputs.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from vigil.backoff import Backoff
from vigil.errors import ConfigError
from vigil.notify import Notifications, NotifyConfig
from vigil.settings import Settings
from vigil.stream.access import Access
from vigil.stream.auth import AuthConfig
from vigil.stream.core import StreamCore
from vigil.stream.feed import FeedConsumer
from vigil.stream.http import GUARD, create_web_app
from vigil.stream.limits import ACCEPT_BACKLOG, ConnectionGuard, quiet_accept_errors
from vigil.stream.media import MediaRecorder
from vigil.stream.metrics import QueueProbe
from vigil.stream.recorder import Recorder
from vigil.stream.results import BackendPoller, RedisResultListener
from vigil.stream.store import EventStore
from vigil.stream.tls import server_ssl_context
from vigil.tls import broker_ssl, redis_ssl

if TYPE_CHECKING:
    from vigil.config import SiteConfig

log = logging.getLogger(__name__)

HTTP_SHUTDOWN_TIMEOUT = 1.0
THREAD_RESTART_MAX_DELAY = 30.0
INPUT_CONNECT_TIMEOUT = 10.0


class Input(Protocol):
    connected: threading.Event

    def run(self, stop: threading.Event) -> None: ...


class StreamService:
    """Runs a :class:`StreamCore`, its inputs, its notifiers (if any) and (unless ``port`` is None) the HTTP server.

    ``auth`` (the ``[auth]`` table) sets the login, the Host allow-list and HTTPS.
    """

    def __init__(self, core: StreamCore, inputs: dict[str, Input], host: str = "127.0.0.1",
                 port: int | None = 8080, auth: AuthConfig | None = None,
                 notifications: Notifications | None = None) -> None:
        self.core = core
        self.notifications = notifications
        self.inputs = inputs
        self.host = host
        self.port = port
        self.auth = auth or AuthConfig()
        self._ssl: ssl.SSLContext | None = None
        self.stop_event = threading.Event()
        self._threads: list[threading.Thread] = []
        self._http_ready = threading.Event()
        self._http_error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._http_done: asyncio.Future[None] | None = None
        self.guard: ConnectionGuard | None = None  # the HTTP server's connections, once it serves
        core.input_state = self.health

    @property
    def url(self) -> str:
        return f"{'https' if self.auth.https else 'http'}://{self.host}:{self.port}"

    def health(self) -> dict[str, bool]:
        return {name: source.connected.is_set() for name, source in self.inputs.items()}

    def start(self) -> None:
        """Start every thread; returns once the HTTP server listens.

        Raises:
            ConfigError: the HTTP port cannot be bound, or the TLS certificate cannot be used.
        """
        if self.port is not None and self.auth.tls_cert is not None and self.auth.tls_key is not None:
            self._ssl = server_ssl_context(self.auth.tls_cert, self.auth.tls_key)  # before any thread starts
        if self.notifications is not None:
            self.notifications.start()  # its own threads; a broker that is down only fills a backlog
        self._spawn("stream-core", self.core.run, self.stop_event)
        for name, source in self.inputs.items():
            self._spawn(f"stream-{name}", source.run, self.stop_event)
        # Frames published before our feed queue is bound are lost, so wait for it (briefly:
        # a broker that is down must not stop the HTTP view from coming up).
        deadline = time.monotonic() + INPUT_CONNECT_TIMEOUT
        for name, source in self.inputs.items():
            if not source.connected.wait(max(0.0, deadline - time.monotonic())):
                log.warning("%s not connected yet; serving anyway and retrying in the background", name)
        if self.port is not None:
            self._spawn("stream-http", self._serve)
            self._http_ready.wait(10)
            if self._http_error is not None:
                self.stop()
                raise ConfigError(f"cannot serve HTTP on {self.host}:{self.port}: {self._http_error}")
            log.info("streamer serving on %s", self.url)

    def stop(self) -> None:
        self.stop_event.set()
        if self._loop is not None and self._http_done is not None:
            self._loop.call_soon_threadsafe(self._http_done.set_result, None)
        for thread in self._threads:
            thread.join(timeout=5)
        if not any(thread.is_alive() for thread in self._threads):
            self.core.finish()  # incidents that cleared get their end; the rules are ours alone now
        if self.notifications is not None:
            self.notifications.stop()  # after the core: the last events are queued by now
        self.core.events.close()  # pending clips written, then the store closed
        if self.core.queues is not None:
            self.core.queues.close()
        self.core.close_recording()

    def _spawn(self, name: str, target: Callable[..., Any], *args: Any) -> None:
        thread = threading.Thread(target=self._guarded, args=(name, target, *args), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _guarded(self, name: str, target: Callable[..., Any], *args: Any) -> None:
        """Run a thread's target; if it dies, say so loudly and restart it.

        Each death is logged at CRITICAL with its traceback and counted (``vigil_thread_deaths``);
        ``/healthz`` says 503, naming the thread and the error, until the streamer is restarted (a
        thread that died once has a bug or a broken dependency worth a look, even if it now runs).
        The thread is restarted after a backoff, so a transient error does not stop the stream.
        """
        backoff = Backoff(cap=THREAD_RESTART_MAX_DELAY)
        deaths = 0
        while True:
            try:
                target(*args)
                return
            except Exception as exc:
                deaths += 1
                delay = backoff.next()
                what = _THREAD_ROLES.get(name, "a streamer thread")
                message = (f"the streamer's {name} thread ({what}) died {deaths} time(s), last of {exc!r}; "
                           "restarted, but restart the streamer and read the log's traceback")
                log.critical("the streamer's %s thread died: %r; restarting it in %.1f s", name, exc, delay,
                             exc_info=True)
                self.core.metrics.thread_deaths.labels(thread=name).inc()
                self.core.add_fault(f"thread:{name}", message)
            if self.stop_event.wait(delay):
                return

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        quiet_accept_errors(loop)
        app = create_web_app(self.core, self.health, access=Access(self.auth, self.host))
        guard = self.guard = app[GUARD]
        # aiohttp's own keep-alive timeout too, though the guard closes idle connections first.
        runner = web.AppRunner(app, shutdown_timeout=HTTP_SHUTDOWN_TIMEOUT, access_log=None,
                               keepalive_timeout=guard.limits.header_timeout)
        server: asyncio.Server | None = None
        try:
            loop.run_until_complete(runner.setup())
            assert runner.server is not None
            # Our own listening socket instead of a TCPSite: every connection goes through the guard.
            server = loop.run_until_complete(loop.create_server(
                guard.protocol_factory(runner.server), self.host, self.port, backlog=ACCEPT_BACKLOG,
                reuse_address=True, ssl=self._ssl,
            ))
            self.port = server.sockets[0].getsockname()[1]  # the port the OS picked when asked for 0
        except OSError as exc:
            self._http_error = exc
            self._http_ready.set()
            loop.run_until_complete(runner.cleanup())
            loop.close()
            return
        self._http_done = loop.create_future()
        self._http_ready.set()
        try:
            loop.run_until_complete(self._http_done)
        finally:
            server.close()
            loop.run_until_complete(runner.cleanup())
            _cancel_remaining(loop)
            loop.close()


_THREAD_ROLES = {
    "stream-core": "it joins results and emits frames: none are emitted while it is down",
    "stream-feed": "it reads frames from the broker",
    "stream-results": "it reads results from Redis",
    "stream-http": "it serves HTTP",
}


def _cancel_remaining(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel and await what is still running (viewers' handlers), so nothing is destroyed pending."""
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


def open_event_store(settings: Settings) -> tuple[EventStore, MediaRecorder]:
    """The durable store (``events_url``) and the snapshot and clip writer (``media_dir``).

    Redis is only a transport: events are never kept only there (a Redis restart lost them all).

    Raises:
        EventStoreError: the store cannot be opened.
    """
    store = EventStore(settings.events_url)
    return store, MediaRecorder(store, settings.media_dir, settings)


def attach_notifications(core: StreamCore, config: NotifyConfig,
                         cameras: tuple[str, ...] = ()) -> Notifications | None:
    """The site's notifiers, subscribed to the core's events and counted in its ``/metrics``; None if none."""
    if not config.enabled:
        return None
    notifications = Notifications(config, core.metrics.registry, snapshot_of=getattr(core.events, "snapshot", None),
                                  cameras=cameras or tuple(config.cameras))
    core.events.subscribe(notifications)
    return notifications


def distributed_streamer(settings: Settings, host: str, port: int | None,
                         recorder: Recorder | None = None, site: SiteConfig | None = None,
                         auth: AuthConfig | None = None) -> StreamService:
    """The ``vigil stream`` service: feed from the broker, results from the backend.

    ``site``: the site file, for each camera's rule options, zones and notifications;
    ``auth``: who may log in.

    Raises:
        ConfigError: a bad notification setting.
        EventStoreError: the event store cannot be opened.
    """
    notify = site.notifications() if site is not None else NotifyConfig()
    store, media = open_event_store(settings)
    queues = (QueueProbe(settings.broker_url, settings.algorithms, ssl=broker_ssl(settings))
              if _is_amqp(settings.broker_url) else None)
    core = StreamCore(settings, store, recorder=recorder, queues=queues, site=site, media=media)
    inputs: dict[str, Input] = {"feed": _FeedInput(FeedConsumer(settings, core.on_feed, core.feed_undecodable))}
    if settings.result_backend.startswith(("redis://", "rediss://")):
        inputs["results"] = RedisResultListener(settings.result_backend, core.on_result, core.result_rejected,
                                                redis_ssl(settings))
    else:
        from vigil.app import create_app

        inputs["results"] = BackendPoller(create_app(settings).backend, core.pending_task_ids, core.on_result)
    return StreamService(core, inputs, host, port, auth, attach_notifications(core, notify))


def _is_amqp(url: str) -> bool:
    return url.startswith(("amqp://", "amqps://", "pyamqp://"))


class _FeedInput:
    def __init__(self, consumer: FeedConsumer) -> None:
        self.consumer = consumer
        self.connected = consumer.connected

    def run(self, stop: threading.Event) -> None:
        self.consumer.run_until(stop)
