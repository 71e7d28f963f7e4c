"""The streamer's login, Host allow-list and CSRF rules, in-process through aiohttp's test client."""

from __future__ import annotations

import asyncio
import functools
import re
import urllib.parse
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tests.unit.test_stream_http import make_core
from vigil.stream.access import Access, safe_next
from vigil.stream.auth import AuthConfig, TokenConfig, UserConfig
from vigil.stream.credentials import hash_password, new_token, token_digest
from vigil.stream.http import create_web_app

PASSWORD = "correct horse battery"
JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html,application/xhtml+xml"}
PAGE = {"X-Vigil-Request": "1"}  # what the page's fetch sends on a state-changing request


@functools.cache
def alice_hash() -> str:
    return hash_password(PASSWORD)  # argon2 is slow on purpose: once per test run


TOKEN = new_token()


def auth_config(**changes) -> AuthConfig:
    values = {"users": {"alice": UserConfig(password_hash=alice_hash())},
              "tokens": {"script": TokenConfig(sha256=token_digest(TOKEN))}}
    return AuthConfig(**{**values, **changes})


Scenario = Callable[[TestClient, web.Application], Awaitable[None]]


def serve(scenario: Scenario, config: AuthConfig | None = None, bind: str = "127.0.0.1") -> None:
    async def main() -> None:
        app = create_web_app(make_core(), lambda: {"feed": True}, access=Access(config or auth_config(), bind))
        async with TestClient(TestServer(app)) as client:
            await scenario(client, app)

    asyncio.run(main())


async def log_in(client: TestClient, user: str = "alice", password: str = PASSWORD, next_: str = "/",
                 headers: dict[str, str] | None = None) -> web.Response:
    page = await client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', await page.text())[1]
    return await client.post("/login", data={"user": user, "password": password, "next": next_, "csrf": csrf},
                             allow_redirects=False, headers=headers)


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "door", path)


def protected_routes(app: web.Application) -> list[tuple[str, str]]:
    """Every (method, path) the app serves, its variables filled in, but the login's and the public ones."""
    config = auth_config()
    routes = []
    for route in app.router.routes():
        path = concrete(route.resource.canonical) if route.resource else ""
        if route.method in ("HEAD", "*") or path in ("/login", "/logout") or config.is_public(path):
            continue
        routes.append((route.method, path))
    return routes


def test_every_route_but_the_public_ones_needs_a_login():
    async def scenario(client: TestClient, app: web.Application) -> None:
        routes = protected_routes(app)
        assert ("GET", "/cameras") in routes and ("GET", "/") in routes
        for method, path in routes:
            response = await client.request(method, path, headers={**JSON, **PAGE}, allow_redirects=False)
            assert response.status == 401, (method, path)
            assert (await response.json())["error"].startswith("authentication required")
            assert response.headers["WWW-Authenticate"] == 'Bearer realm="vigil"'
        assert (await client.get("/healthz")).status == 200
        assert (await client.get("/metrics")).status == 200

    serve(scenario)


def test_public_paths_are_configurable():
    async def scenario(client: TestClient, app: web.Application) -> None:
        assert (await client.get("/metrics")).status == 401
        assert (await client.get("/healthz")).status == 200

    serve(scenario, auth_config(public_paths=("/healthz",)))


def test_a_browser_without_a_login_is_sent_to_the_login_page_and_back():
    async def scenario(client: TestClient, app: web.Application) -> None:
        response = await client.get("/cameras/door/results?x=1", headers=HTML, allow_redirects=False)
        assert response.status == 303
        location = urllib.parse.urlsplit(response.headers["Location"])
        assert location.path == "/login"
        assert urllib.parse.parse_qs(location.query) == {"next": ["/cameras/door/results?x=1"]}
        done = await log_in(client, next_="/cameras/door/results?x=1")
        assert (done.status, done.headers["Location"]) == (303, "/cameras/door/results?x=1")

    serve(scenario)


def test_login_sets_a_session_cookie_only_scripts_of_this_site_cannot_read():
    async def scenario(client: TestClient, app: web.Application) -> None:
        response = await log_in(client)
        assert response.status == 303
        cookie = SimpleCookie(response.headers.getall("Set-Cookie")[0])["vigil_session"]
        assert cookie["httponly"] is True and cookie["samesite"] == "Strict" and cookie["path"] == "/"
        assert not cookie["secure"]  # plain HTTP here; HTTPS sets it (tests/integration/test_stream_auth.py)
        assert len(cookie.value) >= 40
        assert (await client.get("/cameras")).status == 200

    serve(scenario)


@pytest.mark.parametrize("user, password", [("alice", "wrong password"), ("mallory", PASSWORD), ("alice", "")])
def test_a_wrong_name_or_password_is_refused(user, password):
    async def scenario(client: TestClient, app: web.Application) -> None:
        response = await log_in(client, user, password)
        assert response.status == 401 and "Wrong name or password." in await response.text()
        assert "vigil_session" not in response.cookies
        assert (await client.get("/cameras")).status == 401

    serve(scenario)


def test_repeated_failed_logins_are_throttled_even_with_the_right_password_then():
    async def scenario(client: TestClient, app: web.Application) -> None:
        statuses = [(await log_in(client, password=f"guess {n}")).status for n in range(3)]
        blocked = await log_in(client)
        assert statuses == [401, 401, 401] and blocked.status == 429
        assert 1 <= int(blocked.headers["Retry-After"]) <= 60
        assert (await client.get("/cameras")).status == 401

    serve(scenario, auth_config(login_attempts=3))


def test_a_login_form_posted_from_elsewhere_is_refused():
    async def scenario(client: TestClient, app: web.Application) -> None:
        # no token from our page (another site's form)
        forged = await client.post("/login", data={"user": "alice", "password": PASSWORD, "csrf": "guess"},
                                   allow_redirects=False)
        assert forged.status == 403 and "vigil_session" not in forged.cookies
        # our token, but the browser says the post came from another origin
        cross = await log_in(client, headers={"Origin": "https://evil.example"})
        assert cross.status == 403 and "vigil_session" not in cross.cookies

    serve(scenario)


def test_a_bearer_token_works_and_a_wrong_one_does_not():
    async def scenario(client: TestClient, app: web.Application) -> None:
        ok = await client.get("/cameras", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status == 200 and (await ok.json())["cameras"][0]["name"] == "door"
        for value in (f"Bearer {TOKEN}x", f"Basic {TOKEN}", "Bearer "):
            assert (await client.get("/cameras", headers={"Authorization": value})).status == 401
        # a script posts without the page's header: no browser attaches a bearer token by itself
        assert (await client.post("/logout", headers={"Authorization": f"Bearer {TOKEN}"})).status == 204

    serve(scenario)


@pytest.mark.parametrize("headers, status", [
    ({}, 403),                                                        # a cross-site form cannot set the header
    ({"X-Vigil-Request": "1", "Origin": "https://evil.example"}, 403),
    ({"X-Vigil-Request": "1", "Origin": "null"}, 403),
    ({"X-Vigil-Request": "1"}, 204),
    ({"X-Vigil-Request": "1", "Origin": "SAME"}, 204),
])
def test_state_changing_requests_need_the_page_header_and_a_same_origin(headers, status):
    async def scenario(client: TestClient, app: web.Application) -> None:
        await log_in(client)
        sent = {k: (f"http://{client.host}:{client.port}" if v == "SAME" else v) for k, v in headers.items()}
        response = await client.post("/logout", headers=sent)
        assert response.status == status, await response.text()
        assert (await client.get("/cameras")).status == (401 if status == 204 else 200)

    serve(scenario)


def test_csrf_is_checked_even_with_no_login_configured():
    async def scenario(client: TestClient, app: web.Application) -> None:
        assert (await client.get("/cameras")).status == 200
        response = await client.post("/logout", headers={"Origin": "https://evil.example", **PAGE})
        assert response.status == 403

    serve(scenario, AuthConfig())


@pytest.mark.parametrize("target, expected", [
    ("/cameras?x=1", "/cameras?x=1"),
    ("https://evil.example/", "/"),
    ("//evil.example/", "/"),
    ("/\\evil.example", "/"),
    ("\\\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("/ok\r\nSet-Cookie: x=1", "/"),
    ("/login?next=/x", "/"),
    ("", "/"),
    (None, "/"),
])
def test_next_is_only_ever_a_path_on_this_site(target, expected):
    assert safe_next(target) == expected


def test_a_login_never_redirects_to_another_site():
    async def scenario(client: TestClient, app: web.Application) -> None:
        response = await log_in(client, next_="//evil.example/phish")
        assert (response.status, response.headers["Location"]) == (303, "/")
        page = await client.get("/login", params={"next": "https://evil.example/"}, allow_redirects=False)
        assert page.status == 303 and page.headers["Location"] == "/"  # logged in already: straight to /

    serve(scenario)


def test_the_login_page_escapes_what_the_visitor_sent():
    async def scenario(client: TestClient, app: web.Application) -> None:
        page = await client.get("/login", params={"next": '/x"><script>alert(1)</script>'})
        text = await page.text()
        assert page.headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in page.headers[
            "Content-Security-Policy"]
        assert "<script>" not in text and 'value="/x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in text
        failed = await log_in(client, user='<img src=x onerror=alert(1)>"', password="wrong")
        text = await failed.text()
        assert "<img" not in text and 'value="&lt;img src=x onerror=alert(1)&gt;&quot;"' in text

    serve(scenario)


@pytest.mark.parametrize("host, bind, allowed, ok", [
    ("127.0.0.1:8080", "127.0.0.1", (), True),
    ("localhost:8080", "127.0.0.1", (), True),
    ("[::1]:8080", "::1", (), True),
    ("192.168.1.20:8080", "0.0.0.0", (), True),        # an IP address cannot be DNS-rebound
    ("vigil.lan:8080", "vigil.lan", (), True),          # the bind address
    ("evil.example:8080", "127.0.0.1", (), False),     # a rebinding page: its own name, our address
    ("evil.example", "0.0.0.0", (), False),
    ("vigil.example.org", "0.0.0.0", ("vigil.example.org",), True),
    ("VIGIL.example.org.:443", "0.0.0.0", ("vigil.example.org",), True),
    ("cam.example.org", "0.0.0.0", (".example.org",), True),
    ("example.org.evil.net", "0.0.0.0", (".example.org",), False),
    ("anything.example", "0.0.0.0", ("*",), True),
    ("", "127.0.0.1", (), False),
    ("a b", "127.0.0.1", (), False),
    ("[::1", "127.0.0.1", (), False),
    ("host:port", "127.0.0.1", (), False),
])
def test_host_allow_list(host, bind, allowed, ok):
    assert Access(AuthConfig(allowed_hosts=allowed), bind).host_allowed(host) is ok


def test_a_foreign_host_is_refused_even_without_a_login():
    async def scenario(client: TestClient, app: web.Application) -> None:
        response = await client.get("/cameras", headers={"Host": "rebind.evil.example"})
        assert response.status == 421
        assert "allowed_hosts" in (await response.json())["error"]
        assert (await client.get("/cameras", headers={"Host": "vigil.example.org"})).status == 200
        assert (await client.get("/healthz", headers={"Host": "rebind.evil.example"})).status == 421

    serve(scenario, AuthConfig(allowed_hosts=("vigil.example.org",)))


def test_logging_out_ends_the_session_for_good():
    async def scenario(client: TestClient, app: web.Application) -> None:
        await log_in(client)
        session = client.session.cookie_jar.filter_cookies(client.make_url("/"))["vigil_session"].value
        assert (await client.post("/logout", headers={**PAGE, **HTML}, allow_redirects=False)).status == 303
        # the old cookie, replayed, is worth nothing
        replay = await client.get("/cameras", headers={"Cookie": f"vigil_session={session}"})
        assert replay.status == 401

    serve(scenario)


def test_every_response_says_not_to_frame_or_sniff_it():
    async def scenario(client: TestClient, app: web.Application) -> None:
        response = await client.get("/cameras")
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"

    serve(scenario, AuthConfig())
