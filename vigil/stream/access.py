"""Who may ask the streamer what: Host allow-list, login, CSRF (one aiohttp middleware).

Every request passes three checks, in this order:

1. **Host** (always, login or not): the ``Host`` header must name this server: ``localhost``,
   an IP address (a DNS-rebinding page can only send its own host name), the bind address, or
   an ``[auth] allowed_hosts`` entry. Anything else gets 421, so a page on a domain an attacker
   re-points at 127.0.0.1 cannot read the cameras.
2. **Login** (when the site file has users or tokens): public paths and ``/login`` pass; else
   ``Authorization: Bearer <token>`` or the ``vigil_session`` cookie must be valid. A browser
   asking for a page is sent to ``/login?next=<path>``; anything else gets 401 JSON.
3. **CSRF** (every request but GET, HEAD and OPTIONS, login or not): the ``X-Vigil-Request: 1``
   header (a cross-site form cannot send it, and a cross-site ``fetch`` with it needs a CORS
   pre-flight we never grant), and an ``Origin``, when sent, equal to the ``Host``. A request
   authenticated by a bearer token needs no header (browsers never attach one on their own);
   the login form carries its own token instead (``vigil.stream.login``).
"""

from __future__ import annotations

import ipaddress
import json
import urllib.parse
from collections.abc import Awaitable, Callable

from aiohttp import web

from vigil.stream.auth import AuthConfig
from vigil.stream.sessions import SessionStore
from vigil.stream.throttle import LoginThrottle

SESSION_COOKIE = "vigil_session"
CSRF_HEADER = "X-Vigil-Request"
LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::", "[::]"})

USER = web.RequestKey("user", str)  # who is asking: a user's name, "token:NAME", absent with no login

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Access:
    """The streamer's access rules and state: its config, login sessions and failed-login throttle."""

    def __init__(self, config: AuthConfig, bind_host: str = "127.0.0.1") -> None:
        self.config = config
        self.bind_host = bind_host.strip("[]").lower()
        self.sessions = SessionStore(config.session_lifetime_s)
        self.throttle = LoginThrottle(config.login_attempts, config.login_window_s)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get("Host", "")
        if not self.host_allowed(host):
            return _refuse(web.HTTPMisdirectedRequest.status_code,
                           f"this server does not answer to Host {host!r}: add the name to [auth] allowed_hosts")
        by_token = False
        if self.config.enabled and not self._open_path(request.path):
            user, by_token = self.identify(request)
            if user is None:
                return self._unauthenticated(request)
            request[USER] = user
        if request.method not in SAFE_METHODS and not by_token:
            problem = self.csrf_problem(request, header_required=request.path != LOGIN_PATH)
            if problem:
                return _refuse(web.HTTPForbidden.status_code, problem)
        return await handler(request)

    def host_allowed(self, host: str) -> bool:
        """Whether a ``Host`` header value names this server (see the module docstring)."""
        name = host_name(host)
        if name is None:
            return False
        if name == "localhost" or name.endswith(".localhost") or _is_ip(name):
            return True
        if name == self.bind_host and name not in WILDCARD_BINDS:
            return True
        for allowed in self.config.allowed_hosts:
            allowed = allowed.lower().rstrip(".")
            if allowed == "*" or name == allowed or (allowed.startswith(".") and
                                                     (name.endswith(allowed) or name == allowed[1:])):
                return True
        return False

    def identify(self, request: web.Request) -> tuple[str | None, bool]:
        """(who sent ``request`` or None, whether by bearer token). A bad token is never retried as a cookie."""
        authorization = request.headers.get("Authorization")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return None, False
            name = self.config.token_name(token.strip())
            return (f"token:{name}" if name else None), True
        return self.sessions.user(request.cookies.get(SESSION_COOKIE)), False

    def csrf_problem(self, request: web.Request, header_required: bool = True) -> str | None:
        """Why a state-changing request may be a cross-site forgery, or None."""
        if header_required and request.headers.get(CSRF_HEADER) != "1":
            return f"missing header {CSRF_HEADER}: 1 (state-changing requests must come from Vigil's page)"
        origin = request.headers.get("Origin")
        if origin is not None:
            netloc = urllib.parse.urlsplit(origin).netloc.lower() if origin != "null" else ""
            if not netloc or netloc != request.headers.get("Host", "").lower():
                return f"cross-origin request refused (Origin {origin!r})"
        return None

    def _open_path(self, path: str) -> bool:
        return path == LOGIN_PATH or self.config.is_public(path)

    def _unauthenticated(self, request: web.Request) -> web.StreamResponse:
        if request.method in ("GET", "HEAD") and "text/html" in request.headers.get("Accept", ""):
            query = urllib.parse.urlencode({"next": request.rel_url.path_qs})
            raise web.HTTPSeeOther(f"{LOGIN_PATH}?{query}")
        response = _refuse(web.HTTPUnauthorized.status_code, "authentication required: log in at /login, "
                           "or send Authorization: Bearer <token>")
        response.headers["WWW-Authenticate"] = 'Bearer realm="vigil"'
        return response


def current_user(request: web.Request) -> str | None:
    """Who made ``request`` (a user's name or ``token:NAME``), or None when no login is configured."""
    return request.get(USER)


def host_name(host: str) -> str | None:
    """The lower-case name or address in a ``Host`` header (no port, no brackets), None if malformed."""
    host = host.strip().lower()
    if host.startswith("["):
        address, bracket, rest = host[1:].partition("]")
        if not bracket or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        return address if _is_ip(address) else None
    name, colon, port = host.rpartition(":")
    if not colon:
        name = port
    elif not port.isdigit():
        return None
    name = name.rstrip(".")
    if not name or any(not (char.isalnum() or char in "-.") for char in name):
        return None
    return name


def safe_next(value: str | None) -> str:
    """``value`` if it is a path on this site (``/x?y``), else ``/``: a login never redirects away."""
    if (not value or not value.startswith("/") or value.startswith(("//", "/\\"))
            or any(char in value for char in "\\\r\n\t") or any(ord(char) < 0x20 for char in value)):
        return "/"
    parts = urllib.parse.urlsplit(value)
    if parts.scheme or parts.netloc or parts.path.startswith((LOGIN_PATH, LOGOUT_PATH)):
        return "/"
    return value


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _refuse(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=json.dumps({"error": message}), content_type="application/json")
