"""The login page: GET/POST /login, POST /logout.

The form carries a random token that must equal the ``vigil_login`` cookie set with the page
(SameSite=Strict, so a cross-site form post arrives without it): another site cannot log a
visitor in under its own account. Every value put in the page is escaped; ``next`` is only
ever a path on this site (:func:`vigil.stream.access.safe_next`). Passwords are checked off
the event loop (argon2 takes tens of milliseconds on purpose), failures are throttled per
client address.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import logging
import secrets

from aiohttp import web

from vigil.stream.access import LOGIN_PATH, SESSION_COOKIE, Access, safe_next

log = logging.getLogger(__name__)

ACCESS = web.AppKey("access", Access)
VERIFYING = web.AppKey("verifying", asyncio.Semaphore)
MAX_VERIFYING = 2  # argon2 takes 64 MiB a check: a flood of logins must not take the memory with it
LOGIN_COOKIE = "vigil_login"
LOGIN_COOKIE_MAX_AGE = 3600
MAX_FIELD = 1024  # longer names or passwords are refused before hashing
PAGE_HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                                           "frame-ancestors 'none'"}


def add_login_routes(app: web.Application, access: Access) -> None:
    app[ACCESS] = access
    app[VERIFYING] = asyncio.Semaphore(MAX_VERIFYING)
    app.router.add_get(LOGIN_PATH, login_page)
    app.router.add_post(LOGIN_PATH, login)
    app.router.add_post("/logout", logout)


async def login_page(request: web.Request) -> web.StreamResponse:
    access = request.app[ACCESS]
    target = safe_next(request.query.get("next"))
    if not access.config.enabled or access.identify(request)[0] is not None:
        raise web.HTTPSeeOther(target)  # nothing to log in to, or already logged in
    return _page(request, target)


async def login(request: web.Request) -> web.StreamResponse:
    access = request.app[ACCESS]
    form = await request.post()
    target = safe_next(str(form.get("next", "")))
    if not access.config.enabled:
        raise web.HTTPSeeOther(target)
    token, cookie = str(form.get("csrf", "")), request.cookies.get(LOGIN_COOKIE, "")
    if not cookie or not hmac.compare_digest(token.encode(), cookie.encode()):
        return _page(request, target, "The form expired or came from another site: try again.", status=403)
    client = request.remote or "?"
    wait = access.throttle.retry_after(client)
    if wait > 0:
        response = _page(request, target, f"Too many failed logins: wait {wait:.0f} s.", status=429)
        response.headers["Retry-After"] = str(max(1, round(wait)))
        return response
    user, password = str(form.get("user", "")), str(form.get("password", ""))
    ok = False
    if len(user) <= MAX_FIELD and len(password) <= MAX_FIELD:
        async with request.app[VERIFYING]:
            ok = await asyncio.get_running_loop().run_in_executor(None, access.config.check_password, user, password)
    if not ok:
        access.throttle.failed(client)
        # A name that is no user's is not logged: it may be a password typed in the wrong field.
        log.warning("failed login for %s from %s", user if user in access.config.users else "an unknown name",
                    client)
        return _page(request, target, "Wrong name or password.", status=401, user=user)
    access.throttle.succeeded(client)
    log.info("%s logged in from %s", user, client)
    response = web.HTTPSeeOther(target)
    response.set_cookie(SESSION_COOKIE, access.sessions.create(user), httponly=True, samesite="Strict",
                        secure=_secure(request, access), path="/", max_age=int(access.config.session_lifetime_s))
    response.del_cookie(LOGIN_COOKIE, path=LOGIN_PATH)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    access = request.app[ACCESS]
    access.sessions.end(request.cookies.get(SESSION_COOKIE))
    if "text/html" in request.headers.get("Accept", ""):
        redirect = web.HTTPSeeOther(LOGIN_PATH)
        redirect.del_cookie(SESSION_COOKIE, path="/")
        raise redirect
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


def _secure(request: web.Request, access: Access) -> bool:
    return request.secure or access.config.https


def _page(request: web.Request, target: str, error: str = "", status: int = 200, user: str = "") -> web.Response:
    token = secrets.token_urlsafe(24)
    body = LOGIN_HTML.format(
        error=f'<p class="error" role="alert">{html.escape(error)}</p>' if error else "",
        user=html.escape(user[:MAX_FIELD], quote=True), next=html.escape(target, quote=True), csrf=token,
    )
    response = web.Response(text=body, content_type="text/html", status=status, headers=PAGE_HEADERS)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="Strict", secure=_secure(request, request.app[
        ACCESS]), path=LOGIN_PATH, max_age=LOGIN_COOKIE_MAX_AGE)
    return response


LOGIN_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Vigil: log in</title>
<style>
body{{font-family:system-ui,sans-serif;background:#111;color:#eee;display:flex;justify-content:center;margin-top:10vh}}
form{{display:flex;flex-direction:column;gap:.6rem;min-width:16rem}}
label{{display:flex;flex-direction:column;gap:.2rem}}input,button{{font-size:1rem;padding:.4rem}}.error{{color:#f66}}
</style></head>
<body><form method="post" action="/login">
<h1>Vigil</h1>{error}
<label>Name <input name="user" autocomplete="username" required autofocus value="{user}"></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<input type="hidden" name="next" value="{next}"><input type="hidden" name="csrf" value="{csrf}">
<button type="submit">Log in</button>
</form></body></html>
"""
