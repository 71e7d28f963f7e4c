"""The live grid's reconnection rules in Chromium, on the real streamer app in process."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import InProcessStreamer
from tests.helpers import feed_frame, jpeg_bytes
from vigil.messages import DetectionResult, TaskRef

pytestmark = pytest.mark.browser


@pytest.fixture
def frames() -> Iterator[InProcessStreamer]:
    """A streamer fed 10 frames a second of camera "door" by a thread, as the capture would."""
    stop = threading.Event()
    with InProcessStreamer() as streamer:
        def feed() -> None:
            seq = 0
            while not stop.wait(0.1):
                seq += 1
                streamer.core.on_feed(feed_frame(seq, ("fall",), camera="door"))
                streamer.core.on_result(TaskRef("door", 1, seq, "fall"), DetectionResult(
                    camera="door", session=1, seq=seq, algorithm="fall", status="ok",
                    observation={"width": 32, "height": 24, "people": []}))

        thread = threading.Thread(target=feed, daemon=True)
        thread.start()
        yield streamer
        stop.set()
        thread.join(5)


def mjpeg_requests(page: Any) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url) if "/mjpeg" in request.url else None)
    return seen


def wait_streaming(page: Any) -> None:
    page.wait_for_selector(".tile[data-camera='door'][data-state='streaming']")
    page.wait_for_function("document.querySelector(\".tile[data-camera='door'] img\").naturalWidth > 0")


def test_a_new_streamer_process_gets_its_live_views_asked_again_at_once(page, frames):
    # Given the page streaming a camera
    requested = mjpeg_requests(page)
    page.goto(frames.url)
    wait_streaming(page)
    assert len(requested) == 1

    # When /cameras says another streamer process answers (restarted faster than a poll could fail)
    def restarted(route: Any) -> None:
        body = json.loads(route.fetch().text())
        route.fulfill(json={**body, "started": body["started"] + 1})

    page.route("**/cameras", restarted)

    # Then the page asks for the live view again, with a new cache-busting query
    deadline = time.monotonic() + 10
    while len(requested) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert len(requested) >= 2 and requested[0] != requested[1]
    wait_streaming(page)


def test_a_stream_the_server_no_longer_counts_is_asked_again(page, frames):
    # Given the page streaming a camera
    requested = mjpeg_requests(page)
    page.goto(frames.url)
    wait_streaming(page)

    # When the streamer counts no viewer (the connection died without an error in the page)
    def nobody_watching(route: Any) -> None:
        body = json.loads(route.fetch().text())
        route.fulfill(json={**body, "cameras": [{**camera, "viewers": 0} for camera in body["cameras"]]})

    page.route("**/cameras", nobody_watching)

    # Then, after a grace period, the page asks for its live view again
    deadline = time.monotonic() + 20
    while len(requested) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert len(requested) >= 2


def test_a_live_view_whose_stream_ends_is_asked_again(page, frames):
    # Given a first live view that ends after one frame (as when a streamer stops or drops a viewer)
    requested = mjpeg_requests(page)
    part = (b"--vigilframe\r\nContent-Type: image/jpeg\r\n\r\n" + jpeg_bytes(64, 48) + b"\r\n--vigilframe--\r\n")
    page.route("**/mjpeg?*", lambda route: route.fulfill(
        status=200, body=part, headers={"Content-Type": "multipart/x-mixed-replace; boundary=vigilframe"}),
        times=1)
    page.goto(frames.url)

    # Then the page asks for it again by itself (Chromium keeps the last frame and fires no error:
    # the streamer counting no viewer tells it), and streams
    page.wait_for_selector(".tile[data-camera='door']")
    started = time.monotonic()
    while len(requested) < 2 and time.monotonic() < started + 20:
        page.wait_for_timeout(100)
    assert len(requested) >= 2
    wait_streaming(page)
