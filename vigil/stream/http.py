"""The streamer's HTTP API and live views (aiohttp).

GET /                        the page people watch (vigil/stream/page.py, files in static/)
GET /cameras                 cameras as JSON, and when this streamer started
GET /cameras/{name}/mjpeg    multipart/x-mixed-replace stream of annotated frames
GET /cameras/{name}/latest.jpg
GET /cameras/{name}/results  the latest joined results (JSON)
GET /events...                incidents, snapshots, clips, acknowledgement, SSE (stream/event_routes.py)
GET /healthz                 200 {"status": "ok", ...} or 503 {"status": "degraded", "reasons": [...]}
GET /metrics                 Prometheus text
GET/POST /login, POST /logout  the login page (vigil.stream.login)

Every request first passes vigil.stream.access: Host allow-list, login, CSRF.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from vigil.stream.access import Access
from vigil.stream.auth import AuthConfig
from vigil.stream.core import StreamCore
from vigil.stream.limits import ConnectionGuard, HttpLimits, send_or_drop
from vigil.stream.login import add_login_routes
from vigil.stream.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from vigil.stream.page import add_page_routes
from vigil.stream.views import AnnotatedFrame, CameraView

log = logging.getLogger(__name__)

BOUNDARY = "vigilframe"
SSE_QUEUE_SIZE = 100
KEEPALIVE_SECONDS = 15.0

HealthCheck = Callable[[], dict[str, bool]]
CORE = web.AppKey("core", StreamCore)
HEALTH: web.AppKey[HealthCheck] = web.AppKey("health")
GUARD = web.AppKey("guard", ConnectionGuard)
STARTED = web.AppKey("started", float)  # when this server was created: a new value means a restart


def mjpeg_part(jpeg: bytes, headers: dict[str, str] | None = None, boundary: str = BOUNDARY) -> bytes:
    """One part of a multipart/x-mixed-replace MJPEG stream, with optional extra headers."""
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    head = f"--{boundary}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n{extra}\r\n"
    return head.encode("ascii") + jpeg + b"\r\n"


def frame_headers(camera: str, annotated: AnnotatedFrame) -> dict[str, str]:
    """Which frame a part shows and which result each overlay came from (for clients and tests)."""
    overlays = ",".join(f"{name}:{seq}" for name, seq in sorted(annotated.overlays.items()))
    return {"X-Vigil-Camera": camera, "X-Vigil-Seq": str(annotated.seq), "X-Vigil-Overlays": overlays}


def sse_message(data: dict[str, Any], event: str = "event", cursor: int | None = None) -> bytes:
    """One server-sent event; ``cursor`` becomes its ``id:`` (what ``Last-Event-ID`` resumes from)."""
    head = f"id: {cursor}\n" if cursor is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data)}\n\n".encode()


Stored = tuple[int | None, dict[str, Any]]  # (cursor, event dict)


class Hub:
    """Bridges the processing thread to the asyncio loop: new frames and new events."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._frame_ready: dict[str, asyncio.Event] = {}
        self._subscribers: set[asyncio.Queue[Stored]] = set()

    # called from the processing thread
    def frame_emitted(self, camera: str) -> None:
        self.loop.call_soon_threadsafe(self._wake, camera)

    def event_stored(self, cursor: int | None, event: dict[str, Any]) -> None:
        try:
            self.loop.call_soon_threadsafe(self._publish, (cursor, event))
        except RuntimeError:  # the loop closed (the server stopped): nobody is left to tell
            pass

    # loop side
    def frame_ready(self, camera: str) -> asyncio.Event:
        return self._frame_ready.setdefault(camera, asyncio.Event())

    def subscribe(self) -> asyncio.Queue[Stored]:
        queue: asyncio.Queue[Stored] = asyncio.Queue(SSE_QUEUE_SIZE)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Stored]) -> None:
        self._subscribers.discard(queue)

    def _wake(self, camera: str) -> None:
        event = self._frame_ready.pop(camera, None)
        if event is not None:
            event.set()  # wakes every viewer waiting for this camera's next frame

    def _publish(self, event: Stored) -> None:
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()  # a slow subscriber loses its oldest event, not the newest
            queue.put_nowait(event)


HUB = web.AppKey("hub", Hub)


def create_web_app(core: StreamCore, health: Callable[[], dict[str, bool]],
                   limits: HttpLimits | None = None, access: Access | None = None) -> web.Application:
    """The aiohttp application serving ``core``.

    Args:
        core: the stream core (views, events, metrics).
        health: returns the connection state of each input, e.g. ``{"feed": True, "results": True}``.
        limits: connections, viewers and timeouts (default: from ``core.settings``, fitted to the
            open-files limit). A server that wraps its protocol with ``app[GUARD]`` enforces all of
            them; any other (aiohttp's test server) gets the viewer cap and timeout.
        access: Host allow-list, login and CSRF rules (default: no login, served on loopback).
    """
    limits = limits or HttpLimits.from_settings(core.settings).fitted()
    guard = ConnectionGuard(limits, lambda reason: core.metrics.http_closed.labels(reason=reason).inc())
    access = access or Access(AuthConfig())
    app = web.Application(middlewares=[guard.middleware, access.middleware])
    app[CORE] = core
    app[HEALTH] = health
    app[GUARD] = guard
    app[STARTED] = time.time()

    async def on_startup(app: web.Application) -> None:
        hub = app[HUB] = Hub(asyncio.get_running_loop())
        core.frame_listeners.append(hub.frame_emitted)
        core.events.subscribe_stored(hub.event_stored)

    async def on_cleanup(app: web.Application) -> None:
        core.frame_listeners.remove(app[HUB].frame_emitted)
        core.events.unsubscribe_stored(app[HUB].event_stored)  # ends sent at stop come after the loop

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    app.on_response_prepare.append(_security_headers)
    add_login_routes(app, access)
    add_page_routes(app)
    app.router.add_get("/cameras", cameras)
    app.router.add_get("/cameras/{name}/mjpeg", mjpeg)
    app.router.add_get("/cameras/{name}/latest.jpg", latest_jpeg)
    app.router.add_get("/cameras/{name}/results", results)
    from vigil.stream.event_routes import add_event_routes  # its handlers use this module's keys

    add_event_routes(app)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    return app


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    # No page of ours is framed (clickjacking the acknowledge button), sniffed or leaks its URL.
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")


def _view(request: web.Request) -> CameraView:
    name = request.match_info["name"]
    views = request.app[CORE].views
    view = views.get(name)
    if view is None:
        known = ", ".join(views.names()) or "none yet"
        raise web.HTTPNotFound(text=json.dumps({"error": f"unknown camera {name!r}; cameras: {known}"}),
                               content_type="application/json")
    return view


async def cameras(request: web.Request) -> web.Response:
    # "started" changes when the streamer restarts: the page then re-requests its live views.
    return web.json_response({"cameras": [view.listing() for view in request.app[CORE].views.all()],
                              "started": request.app[STARTED]})


async def mjpeg(request: web.Request) -> web.StreamResponse:
    view = _view(request)
    hub = request.app[HUB]
    guard = request.app[GUARD]
    loop = asyncio.get_running_loop()
    async with guard.viewer():
        response = web.StreamResponse(headers={
            "Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}",
            "Cache-Control": "no-cache, no-store",
        })
        await response.prepare(request)
        view.viewers += 1
        sent_version = -1
        try:
            while True:
                if view.version == sent_version or view.frame is None:
                    ready = hub.frame_ready(view.name)
                    try:
                        await asyncio.wait_for(ready.wait(), KEEPALIVE_SECONDS)
                    except TimeoutError:
                        continue
                annotated = await loop.run_in_executor(None, view.annotated)
                if annotated is None or annotated.version == sent_version:
                    continue
                sent_version = annotated.version
                # A slow viewer blocks here alone; meanwhile newer frames replace older ones,
                # so it skips frames instead of slowing the others. One that stopped reading is dropped.
                part = mjpeg_part(annotated.jpeg, frame_headers(view.name, annotated))
                await send_or_drop(request, response, part, guard.limits.viewer_timeout, guard)
        except ConnectionResetError:
            pass  # the viewer went away, or was dropped
        finally:
            view.viewers -= 1
    return response


async def latest_jpeg(request: web.Request) -> web.Response:
    view = _view(request)
    annotated = await asyncio.get_running_loop().run_in_executor(None, view.annotated)
    if annotated is None:
        raise web.HTTPServiceUnavailable(text="no frame yet")
    headers = {"Cache-Control": "no-store", **frame_headers(view.name, annotated)}
    return web.Response(body=annotated.jpeg, content_type="image/jpeg", headers=headers)


async def results(request: web.Request) -> web.Response:
    return web.json_response(_view(request).results())


async def healthz(request: web.Request) -> web.Response:
    # Health asks the broker how many workers consume each queue (rate-limited): off the event loop.
    core = request.app[CORE]
    health = await asyncio.get_running_loop().run_in_executor(None, core.health, request.app[HEALTH]())
    body = {**health.to_dict(), "time": time.time()}
    return web.json_response(body, status=200 if health.healthy else 503)


async def metrics(request: web.Request) -> web.Response:
    # Rendering may ask the broker for queue depths: keep it off the event loop.
    body = await asyncio.get_running_loop().run_in_executor(None, request.app[CORE].metrics.render)
    return web.Response(body=body, headers={"Content-Type": METRICS_CONTENT_TYPE,
                                            "X-Content-Type-Options": "nosniff"})
