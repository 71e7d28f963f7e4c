"""The live grid in Chromium against the real processes: `vigil stream`, `vigil capture`, a worker.

RabbitMQ and Redis from VIGIL_TEST_BROKER_URL / VIGIL_TEST_RESULT_BACKEND (tests/integration).
Detectors are the null stand-in: these tests are about the page, not about accuracy.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytest
import requests

from tests.integration.conftest import free_port, start_worker, vigil
from vigil.bench.processes import BenchProcess

pytestmark = [pytest.mark.integration, pytest.mark.browser]

FPS = "5"  # enough to see frames move; little CPU on a shared machine


def capture(spawn, env: dict[str, str], camera: str) -> BenchProcess:
    return spawn(vigil("capture", "--camera", camera, "--source", "synthetic", "--fps", FPS,
                       "--algorithms", "fall", "--width", "320"), env, f"capture-{camera}")


def streamer_on(spawn, env: dict[str, str], port: int) -> BenchProcess:
    """`vigil stream` on this port, once it serves with its inputs connected (healthy or not)."""
    process = spawn(vigil("stream", "--port", str(port)), env, f"streamer-{port}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException, ValueError):
            checks = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()["checks"]
            inputs = checks.get("inputs", checks)  # {"feed": .., "results": ..}, nested or not
            if all(inputs.values()):
                return process
        time.sleep(0.2)
    raise AssertionError(f"streamer not connected:\n{process.output()}")


def health_reasons(url: str) -> list[str]:
    """What /healthz says is wrong (an empty list while it only reports checks)."""
    return list(requests.get(f"{url}/healthz", timeout=2).json().get("reasons", []))


def tile(camera: str) -> str:
    return f".tile[data-camera='{camera}']"


def wait_streaming(page: Any, camera: str, timeout: float = 30) -> None:
    page.wait_for_selector(f"{tile(camera)}[data-state='streaming']", timeout=timeout * 1000)
    page.wait_for_function(f"document.querySelector(\"{tile(camera)} img\").naturalWidth > 0",
                           timeout=timeout * 1000)


def test_a_camera_that_starts_later_appears_without_reload(worker, streamer, spawn, vigil_env, page, artifacts):
    # Given the page open on a streamer with one camera
    _, url = streamer
    capture(spawn, vigil_env, "porch")
    page.goto(url)
    wait_streaming(page, "porch")
    page.evaluate("window.__notReloaded = true")

    # When a second camera starts: its tile appears, live, in name order, without a reload
    late = capture(spawn, vigil_env, "attic")
    wait_streaming(page, "attic")
    assert page.evaluate("window.__notReloaded") is True
    assert [t.get_attribute("data-camera") for t in page.locator(".tile").all()] == ["attic", "porch"]
    latency = page.locator(f"{tile('attic')} .latency").inner_text()
    assert latency.endswith(" ms") and 0 <= int(latency.removesuffix(" ms")) < 5000
    page.screenshot(path=str(artifacts / "two-cameras.png"))

    # When that camera stops: its tile says so
    assert late.stop() == 0
    page.wait_for_selector(f"{tile('attic')}[data-state='stopped']", timeout=15000)
    page.screenshot(path=str(artifacts / "stopped.png"))


def test_a_tile_warns_while_no_worker_serves_its_results(streamer, spawn, vigil_env, page, artifacts):
    # Given a camera whose frames no worker answers
    _, url = streamer
    capture(spawn, vigil_env, "kitchen")
    page.goto(url)

    # Then its tile still streams (frames come out after the result deadline) and warns
    warning = f"{tile('kitchen')} .tile-warning"
    page.wait_for_selector(f"{warning}:visible", timeout=30000)
    assert "No results from fall" in page.locator(warning).inner_text()
    wait_streaming(page, "kitchen")
    reasons = health_reasons(url)
    if reasons:  # a streamer that reports reasons (contract: /healthz "reasons"): the banner shows them
        page.wait_for_selector("#health:visible", timeout=15000)
        assert any(reason in page.locator("#health").inner_text() for reason in reasons)
    page.screenshot(path=str(artifacts / "no-worker.png"))

    # When a worker starts, the warning goes away
    start_worker(spawn, vigil_env)
    page.wait_for_selector(warning, state="hidden", timeout=30000)


def test_live_views_come_back_by_themselves_after_a_streamer_restart(worker, spawn, vigil_env, page, artifacts):
    # Given the page watching a camera
    port = free_port()
    first = streamer_on(spawn, vigil_env, port)
    capture(spawn, vigil_env, "lounge")
    page.goto(f"http://127.0.0.1:{port}")
    wait_streaming(page, "lounge")
    page.evaluate("window.__notReloaded = true")

    # When the streamer stops: the tile says it is reconnecting
    assert first.stop() == 0
    page.wait_for_selector(f"{tile('lounge')}[data-state='reconnecting']", timeout=15000)
    assert "not answering" in page.locator("#health").inner_text()
    page.screenshot(path=str(artifacts / "streamer-down.png"))

    # When it is back on the same port: the page asks for the live view again by itself
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url) if "/mjpeg" in request.url else None)
    streamer_on(spawn, vigil_env, port)
    wait_streaming(page, "lounge")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the new streamer counts the page as a viewer
        viewers = {c["name"]: c["viewers"] for c in requests.get(f"http://127.0.0.1:{port}/cameras", timeout=2)
                   .json()["cameras"]}
        if viewers.get("lounge") == 1:
            break
        page.wait_for_timeout(250)
    assert viewers.get("lounge") == 1, viewers
    assert requested and all("attempt=" in url for url in requested)  # cache-busting query
    assert page.evaluate("window.__notReloaded") is True
    page.wait_for_function("!document.getElementById('health').textContent.includes('not answering')"
                           " || document.getElementById('health').hidden")
    page.screenshot(path=str(artifacts / "streamer-back.png"))
