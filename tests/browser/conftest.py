"""The page in headless Chromium (Debian's ``chromium``), driven by playwright.

Playwright only drives the browser: it never downloads one (``executable_path`` is the
system Chromium; ``playwright install`` is never needed). Without Chromium the tests skip
on a laptop and FAIL when CI=true. Screenshots go to ``test-artifacts/<test>/`` (gitignored);
their folder is printed.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.integration.conftest import (  # noqa: F401 (fixtures the live tests use)
    IN_CI,
    clean,
    services,
    spawn,
    streamer,
    vigil_env,
    worker,
)
from vigil.settings import Settings
from vigil.stream.core import StreamCore
from vigil.stream.http import create_web_app
from vigil.stream.store import EventStore

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("VIGIL_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the page's browser tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """Chromium for this package's tests only: playwright's sync API keeps an asyncio loop running
    in the main thread while it is started, which would break other tests' ``asyncio.run``."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _unavailable(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium chromium-driver")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            # root in a container has no user namespace for the sandbox; clips play without a click
            args=["--no-sandbox", "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def artifacts(request) -> Path:
    """This test's folder for screenshots, printed so a failing run says where to look."""
    folder = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    print(f"screenshots: {folder}")
    return folder


@pytest.fixture
def page(browser, artifacts) -> Iterator[Any]:
    """A fresh browser page; its console errors are collected in ``page.console_errors``."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.console_errors = []
    tab.on("console", lambda message: tab.console_errors.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: tab.console_errors.append(str(error)))
    yield tab
    tab.screenshot(path=str(artifacts / "last.png"), full_page=True)
    context.close()


class InProcessStreamer:
    """The real streamer app and core on a loopback port, fed frames by the test.

    The inputs (broker feed, result listener) are replaced by calls to ``core.on_feed`` and
    ``core.on_result``, exactly what those inputs call. ``middlewares`` run in front of the
    streamer's own handlers (tests use it for routes that other branches provide).
    """

    def __init__(self, middlewares: list[Callable[..., Any]] | None = None) -> None:
        self.core = StreamCore(Settings.load(environ={}), EventStore(":memory:"))
        self.app = create_web_app(self.core, lambda: {"feed": True, "results": True})
        for middleware in middlewares or []:
            self.app.middlewares.insert(0, middleware)
        self.stop = threading.Event()
        self.url = ""
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._threads = [threading.Thread(target=self.core.run, args=(self.stop,), daemon=True),
                         threading.Thread(target=self._serve, daemon=True)]

    def __enter__(self) -> InProcessStreamer:
        for thread in self._threads:
            thread.start()
        assert self._ready.wait(10), "in-process streamer did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._done.set_result, None)
        for thread in self._threads:
            thread.join(10)

    def _serve(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        runner = web.AppRunner(self.app, shutdown_timeout=0.5)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        port = runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self._done: asyncio.Future[None] = loop.create_future()
        self._ready.set()
        try:
            loop.run_until_complete(self._done)
        finally:
            loop.run_until_complete(runner.cleanup())
            tasks = asyncio.all_tasks(loop)  # viewers' handlers still streaming
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.close()


def pytest_terminal_summary(terminalreporter) -> None:
    """Say where the screenshots are, whatever the outcome (they are the page's test artefacts)."""
    if ARTIFACTS.is_dir() and any(ARTIFACTS.iterdir()):
        terminalreporter.write_line(f"browser screenshots: {ARTIFACTS}/<test>/*.png")
