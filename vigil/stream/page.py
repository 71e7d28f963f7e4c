"""The page a person watches: ``GET /`` and its static files under ``/static/``.

Plain HTML, CSS and JavaScript shipped as package data (``vigil/stream/static``), no build
step. The page only uses the streamer's JSON API (``/cameras``, ``/healthz``, ``/events``...),
so anything it shows can also be had with curl.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).with_name("static")
# The page must never be a stale copy: a new streamer version serves new scripts at once.
NO_CACHE = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def add_page_routes(app: web.Application) -> None:
    """Serve ``/`` (index.html) and ``/static/<file>`` from the package's static folder."""
    app.router.add_get("/", index)
    # aiohttp's static route refuses paths that leave the folder (``..``, symlinks).
    app.router.add_static("/static/", STATIC_DIR, follow_symlinks=False, append_version=False)
    app.on_response_prepare.append(_static_headers)


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Content-Type": "text/html; charset=utf-8",
                                                                **NO_CACHE})


async def _static_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith("/static/"):
        response.headers.update(NO_CACHE)
