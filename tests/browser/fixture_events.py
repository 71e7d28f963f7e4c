"""A stand-in for the events API (contract section 2, owner: events-store) on fixture data.

NEEDS-EVENTS-API: the page's alert tests use this until the events store lands; then the
lead swaps it for the real store (publish through ``core.events`` and let the stream side
write the snapshot and clip). It serves exactly the contract's routes, in front of the real
streamer's handlers (as a middleware):

    GET  /events?camera=&kind=&since=&until=&limit=&before=&open=1  -> {"events": [...], "next"}
    GET  /events (Accept: text/event-stream)  event: event, id: <cursor>, Last-Event-ID resumes
    GET  /events/{id}                         -> incident + "updates"
    GET  /events/{id}/snapshot.jpg, /events/{id}/clip.<ext>
    POST /events/{id}/ack                     needs X-Vigil-Request: 1
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from aiohttp import web

CLIP_EXT = "webm"  # VP8 in WebM: what Chromium plays; see make_clip
_ROUTE = re.compile(r"^/events/(?P<id>[^/]+)(?:/(?P<file>snapshot\.jpg|clip\.[a-z0-9]+|ack))?$")


def make_snapshot(text: str = "FALL", size: tuple[int, int] = (320, 180)) -> bytes:
    image = np.full((size[1], size[0], 3), 40, np.uint8)
    cv2.rectangle(image, (100, 60), (220, 160), (40, 40, 230), 3)
    cv2.putText(image, text, (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
    return cv2.imencode(".jpg", image)[1].tobytes()


def make_clip(path: Path, frames: int = 30, fps: float = 10.0, size: tuple[int, int] = (320, 180)) -> Path:
    """A short WebM (VP8) clip of a moving box, written with OpenCV's bundled FFmpeg."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"VP80"), fps, size)
    assert writer.isOpened(), "OpenCV cannot write WebM/VP8 here"
    for index in range(frames):
        image = np.full((size[1], size[0], 3), 30, np.uint8)
        x = 10 + index * (size[0] - 60) // frames
        cv2.rectangle(image, (x, 60), (x + 50, 160), (40, 40, 230), -1)
        writer.write(image)
    writer.release()
    return path


def incident(event_id: str, camera: str = "door", kind: str = "fall", severity: str = "warning",
             start: float | None = None, end: float | None = None, details: dict[str, Any] | None = None,
             snapshot: bool = True, clip: bool = True) -> dict[str, Any]:
    """An incident in the contract's shape (section 1 + "acknowledged")."""
    start = time.time() - 60 if start is None else start
    return {
        "id": event_id, "type": "end" if end else "new", "camera": camera, "session": 1, "algorithm": "fall",
        "kind": kind, "severity": severity, "start_seq": 10, "start": start, "seq": 10, "time": end or start,
        "end": end, "score": 0.87, "details": details or {"duration_s": 4.2, "track": 3},
        "snapshot": f"/events/{event_id}/snapshot.jpg" if snapshot else None,
        "clip": f"/events/{event_id}/clip.{CLIP_EXT}" if clip else None,
        "acknowledged": None,
    }


class FixtureEvents:
    """The events API over an in-memory list; ``publish`` is safe from any thread once serving."""

    def __init__(self, clip: Path) -> None:
        self.clip = clip
        self.log: list[dict[str, Any]] = []          # every lifecycle message; cursor = index + 1
        self.acks: list[dict[str, str]] = []          # headers of each POST .../ack
        self.snapshots: dict[str, bytes] = {}
        self._subscribers: set[asyncio.Queue[int]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, event: dict[str, Any], snapshot: bytes | None = None) -> None:
        """Store an event before the page loads (no live subscriber yet)."""
        self.log.append(dict(event))
        self.snapshots[event["id"]] = snapshot or make_snapshot()

    def publish(self, event: dict[str, Any]) -> None:
        """A live event: stored, then sent to every SSE subscriber."""
        assert self._loop is not None, "publish after the page connected"
        self._loop.call_soon_threadsafe(self._publish, dict(event))

    def _publish(self, event: dict[str, Any]) -> None:
        self.add(event)
        for queue in self._subscribers:
            queue.put_nowait(len(self.log))

    def incidents(self) -> list[dict[str, Any]]:
        latest: dict[str, dict[str, Any]] = {}
        for event in self.log:
            latest[event["id"]] = {**latest.get(event["id"], {}), **event}
        return sorted(latest.values(), key=lambda e: e["start"], reverse=True)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self._loop = asyncio.get_running_loop()
        if request.path == "/events":
            if "text/event-stream" in request.headers.get("Accept", ""):
                return await self._stream(request)
            return self._list(request)
        match = _ROUTE.match(request.path)
        if match is None:
            return await handler(request)
        found = [e for e in self.incidents() if e["id"] == match["id"]]
        if not found:
            raise web.HTTPNotFound()
        event, file = found[0], match["file"]
        if file is None:
            updates = [{k: e[k] for k in ("type", "seq", "time", "severity", "score", "details")}
                       for e in self.log if e["id"] == event["id"]]
            return web.json_response({**event, "updates": updates})
        if file == "snapshot.jpg":
            return web.Response(body=self.snapshots[event["id"]], content_type="image/jpeg")
        if file == "ack":
            if request.method != "POST" or request.headers.get("X-Vigil-Request") != "1":
                raise web.HTTPForbidden(text="state-changing requests need X-Vigil-Request: 1")
            self.acks.append(dict(request.headers))
            for stored in self.log:
                if stored["id"] == event["id"]:
                    stored["acknowledged"] = {"by": None, "at": time.time()}
            return web.json_response(next(e for e in self.incidents() if e["id"] == event["id"]))
        return web.FileResponse(self.clip, headers={"Content-Type": "video/webm"})

    def _list(self, request: web.Request) -> web.Response:
        query = request.query
        events = self.incidents()
        if query.get("camera"):
            events = [e for e in events if e["camera"] == query["camera"]]
        if query.get("kind"):
            events = [e for e in events if e["kind"] == query["kind"]]
        if query.get("since"):
            events = [e for e in events if e["start"] >= float(query["since"])]
        if query.get("open") == "1":
            events = [e for e in events if not e["end"]]
        if query.get("before"):
            events = [e for e in events if e["start"] < float(query["before"])]
        limit = int(query.get("limit", "100"))
        page, rest = events[:limit], events[limit:]
        return web.json_response({"events": page, "next": page[-1]["start"] if rest else None})

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        queue: asyncio.Queue[int] = asyncio.Queue()
        self._subscribers.add(queue)
        sent = int(request.headers.get("Last-Event-ID", str(len(self.log))))
        try:
            await response.write(b": connected\n\n")
            while True:
                for cursor in range(sent + 1, len(self.log) + 1):
                    data = json.dumps(self.log[cursor - 1])
                    await response.write(f"event: event\nid: {cursor}\ndata: {data}\n\n".encode())
                    sent = cursor
                await queue.get()
        finally:
            self._subscribers.discard(queue)
