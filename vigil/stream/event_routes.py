"""The streamer's event routes: history, one incident, its snapshot and clip, acknowledgement, SSE.

GET  /events?camera=&kind=&since=&until=&limit=&before=&open=1
                              incidents newest first: {"events": [...], "next": cursor | null}
GET  /events (Accept: text/event-stream)
                              live lifecycle messages (``id:`` = the store's cursor); a client
                              sending ``Last-Event-ID`` first gets every message stored after it
GET  /events/{id}             the incident and its "updates"
GET  /events/{id}/snapshot.jpg
GET  /events/{id}/clip.webm   (Range requests work: browsers seek in it)
POST /events/{id}/ack         stored acknowledgement by the logged-in user (or the body's "by"
                              without a login); needs the header ``X-Vigil-Request: 1``

Every store read runs in the default executor, never on the event loop.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from vigil.errors import VigilError
from vigil.stream import mediafiles
from vigil.stream.access import CSRF_HEADER as REQUEST_HEADER
from vigil.stream.access import current_user
from vigil.stream.http import CORE, GUARD, HUB, KEEPALIVE_SECONDS, sse_message
from vigil.stream.limits import send_or_drop
from vigil.stream.store import MAX_PAGE, StoredMessage

ID_PATTERN = r"{id:[A-Za-z0-9_-]{1,64}}"
DEFAULT_PAGE = 50
REPLAY_MAX = 5 * MAX_PAGE  # messages a reconnecting client may be sent from the store


def add_event_routes(app: web.Application) -> None:
    app.router.add_get("/events", events)
    app.router.add_get(f"/events/{ID_PATTERN}", incident)
    app.router.add_get(f"/events/{ID_PATTERN}/snapshot.jpg", snapshot)
    app.router.add_get(f"/events/{ID_PATTERN}/clip.{{ext:[a-z0-9]{{1,5}}}}", clip)
    app.router.add_post(f"/events/{ID_PATTERN}/ack", acknowledge)


def _error(kind: type[web.HTTPException], message: str) -> web.HTTPException:
    return kind(text=json.dumps({"error": message}), content_type="application/json")


async def _off_loop(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a store call in the executor; an unreachable store is a 503 naming it."""
    try:
        return await asyncio.get_running_loop().run_in_executor(None, lambda: function(*args, **kwargs))
    except VigilError as exc:
        raise _error(web.HTTPServiceUnavailable, str(exc)) from exc


def _number(request: web.Request, name: str) -> float | None:
    raw = request.query.get(name)
    if raw in (None, ""):
        return None
    try:
        return float(raw)
    except ValueError:
        raise _error(web.HTTPBadRequest, f"{name} must be a number (epoch seconds)") from None


async def events(request: web.Request) -> web.StreamResponse:
    camera = request.query.get("camera") or None
    kind = request.query.get("kind") or None
    if "text/event-stream" in request.headers.get("Accept", ""):
        return await _event_stream(request, camera, kind)
    try:
        limit = max(1, min(int(request.query.get("limit", DEFAULT_PAGE)), MAX_PAGE))
    except ValueError:
        raise _error(web.HTTPBadRequest, "limit must be an integer") from None
    store = request.app[CORE].events.store
    try:
        page = await _off_loop(store.page, camera=camera, kind=kind, since=_number(request, "since"),
                               until=_number(request, "until"), open_only=request.query.get("open") in ("1", "true"),
                               before=request.query.get("before") or None, limit=limit)
    except ValueError as exc:
        raise _error(web.HTTPBadRequest, f"before: {exc}") from None
    return web.json_response({"events": page.incidents, "next": page.next})


async def incident(request: web.Request) -> web.Response:
    found = await _off_loop(request.app[CORE].events.store.get, request.match_info["id"])
    if found is None:
        raise _error(web.HTTPNotFound, f"no event {request.match_info['id']!r}")
    return web.json_response(found)


async def snapshot(request: web.Request) -> web.StreamResponse:
    core = request.app[CORE]
    event_id = request.match_info["id"]
    path = await _media_path(request, "snapshot_path")
    headers = {"Cache-Control": "no-cache"}  # replaced by a better frame while the incident is open
    if path is not None:
        return web.FileResponse(path, headers={**headers, "Content-Type": "image/jpeg"})
    jpeg = await _off_loop(core.events.snapshot, event_id)  # being written: waits briefly for it
    if jpeg is None:
        raise _error(web.HTTPNotFound, f"no snapshot of event {event_id!r}")
    return web.Response(body=jpeg, content_type="image/jpeg", headers=headers)


async def clip(request: web.Request) -> web.StreamResponse:
    path = await _media_path(request, "clip_path")
    if path is None or path.suffix != f".{request.match_info['ext']}":
        raise _error(web.HTTPNotFound, f"no clip of event {request.match_info['id']!r} (yet)")
    return web.FileResponse(path, headers={"Content-Type": mediafiles.CLIP_CONTENT_TYPE,
                                           "Cache-Control": "private, max-age=3600"})


async def _media_path(request: web.Request, column: str) -> Any:
    core = request.app[CORE]
    row = await _off_loop(core.events.store.media, request.match_info["id"])
    relative = getattr(row, column) if row is not None else None
    if not relative or core.media is None:
        return None
    path = mediafiles.resolve(core.media.media_dir, relative)
    exists = await asyncio.get_running_loop().run_in_executor(None, lambda: path is not None and path.is_file())
    return path if exists else None


async def acknowledge(request: web.Request) -> web.Response:
    # The access middleware refuses it first without the header; this stays true without it.
    if request.headers.get(REQUEST_HEADER) != "1":
        raise _error(web.HTTPForbidden, f"state-changing requests need the header {REQUEST_HEADER}: 1")
    by = current_user(request)  # the logged-in user; without a login, who the body names
    if by is None:
        by = None
        if request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                raise _error(web.HTTPBadRequest, "the body must be JSON, e.g. {\"by\": \"alice\"}") from None
            if isinstance(body, dict) and isinstance(body.get("by"), str):
                by = body["by"][:255]
    event_id = request.match_info["id"]
    found = await _off_loop(request.app[CORE].events.store.acknowledge, event_id, by, time.time())
    if found is None:
        raise _error(web.HTTPNotFound, f"no event {event_id!r}")
    return web.json_response(found)


def _wanted(event: dict[str, Any], camera: str | None, kind: str | None) -> bool:
    return (camera is None or event.get("camera") == camera) and (kind is None or event.get("kind") == kind)


async def _event_stream(request: web.Request, camera: str | None, kind: str | None) -> web.StreamResponse:
    hub = request.app[HUB]
    guard = request.app[GUARD]
    store = request.app[CORE].events.store
    timeout = guard.limits.viewer_timeout
    last = request.headers.get("Last-Event-ID", "")
    async with guard.viewer():
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        queue = hub.subscribe()  # before the replay: a message stored meanwhile is queued, not lost
        replayed: set[int] = set()
        try:
            await send_or_drop(request, response, b": connected\n\n", timeout, guard)
            if last.isdigit():
                try:
                    missed = await _replay(store, int(last))
                except web.HTTPException:  # the store is unreachable: live messages still flow
                    missed = []
                    await send_or_drop(request, response, b": replay unavailable\n\n", timeout, guard)
                for message in missed:
                    replayed.add(message.cursor)
                    if _wanted(message.event, camera, kind):
                        await send_or_drop(request, response, sse_message(message.event, cursor=message.cursor),
                                           timeout, guard)
            while True:
                try:
                    cursor, event = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    await send_or_drop(request, response, b": keep-alive\n\n", timeout, guard)
                    continue
                if cursor in replayed or not _wanted(event, camera, kind):
                    continue
                await send_or_drop(request, response, sse_message(event, cursor=cursor), timeout, guard)
        except ConnectionResetError:
            pass  # the subscriber went away, or was dropped
        finally:
            hub.unsubscribe(queue)
    return response


async def _replay(store: Any, after: int) -> list[StoredMessage]:
    messages: list[StoredMessage] = []
    while len(messages) < REPLAY_MAX:
        batch = await _off_loop(store.messages_after, after, MAX_PAGE)
        messages.extend(batch)
        if len(batch) < MAX_PAGE:
            break
        after = batch[-1].cursor
    return messages
