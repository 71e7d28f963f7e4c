"""Every HTTP handler of the streamer, in-process through aiohttp's test client."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import cv2
import numpy as np
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import feed_frame, incident_event
from vigil.messages import DetectionResult, TaskRef
from vigil.settings import Settings
from vigil.stream.core import StreamCore
from vigil.stream.http import create_web_app
from vigil.stream.store import EventStore


def make_core() -> StreamCore:
    core = StreamCore(Settings.load(environ={}), EventStore(":memory:"))
    core.on_feed(feed_frame(4, ("fall",)))
    core.on_result(TaskRef("door", 1, 4, "fall"), DetectionResult(
        camera="door", session=1, seq=4, algorithm="fall", status="ok",
        observation={"width": 32, "height": 24, "people": []},
    ))
    core.process()
    return core


def serve(scenario: Callable[[TestClient, StreamCore], Awaitable[None]], healthy: bool = True) -> None:
    """Run ``scenario`` against a streamer app on a loopback port."""
    core = make_core()

    async def main() -> None:
        app = create_web_app(core, lambda: {"feed": healthy, "results": True})
        async with TestClient(TestServer(app)) as client:
            await scenario(client, core)

    asyncio.run(main())


def test_cameras_lists_each_camera_with_its_links_and_capture_state():
    async def scenario(client: TestClient, core: StreamCore) -> None:
        response = await client.get("/cameras")
        assert response.status == 200
        (camera,) = (await response.json())["cameras"]
        assert camera["name"] == "door" and camera["latest_seq"] == 4
        assert camera["capture"]["state"] == "streaming" and camera["mjpeg"] == "/cameras/door/mjpeg"

    serve(scenario)


def test_latest_jpeg_is_the_annotated_frame():
    async def scenario(client: TestClient, core: StreamCore) -> None:
        response = await client.get("/cameras/door/latest.jpg")
        assert response.status == 200 and response.content_type == "image/jpeg"
        assert response.headers["X-Vigil-Seq"] == "4" and response.headers["X-Vigil-Overlays"] == "fall:4"
        image = cv2.imdecode(np.frombuffer(await response.read(), np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (24, 32, 3)

    serve(scenario)


@pytest.mark.parametrize("path", ["/cameras/hall/latest.jpg", "/cameras/hall/results", "/cameras/hall/mjpeg"])
def test_an_unknown_camera_is_a_404_naming_the_known_ones(path):
    async def scenario(client: TestClient, core: StreamCore) -> None:
        response = await client.get(path)
        assert response.status == 404
        assert (await response.json()) == {"error": "unknown camera 'hall'; cameras: door"}

    serve(scenario)


def test_results_are_the_latest_joined_frame():
    async def scenario(client: TestClient, core: StreamCore) -> None:
        body = await (await client.get("/cameras/door/results")).json()
        assert body["frame"]["seq"] == 4 and body["frame"]["complete"] is True
        assert body["frame"]["results"]["fall"]["observation"]["people"] == []
        assert body["summaries"]["fall"]["fallen"] is False

    serve(scenario)


def test_mjpeg_streams_each_new_frame_once():
    async def scenario(client: TestClient, core: StreamCore) -> None:
        response = await client.get("/cameras/door/mjpeg")
        assert response.content_type == "multipart/x-mixed-replace"
        first = await read_part(response)
        assert first["X-Vigil-Seq"] == "4"
        # a new frame arrives while the viewer waits
        core.on_feed(feed_frame(5, ("fall",)))
        core.on_result(TaskRef("door", 1, 5, "fall"), DetectionResult(
            camera="door", session=1, seq=5, algorithm="fall", status="ok",
            observation={"width": 32, "height": 24, "people": []},
        ))
        await asyncio.get_running_loop().run_in_executor(None, core.process)
        second = await asyncio.wait_for(read_part(response), 5)
        assert second["X-Vigil-Seq"] == "5"
        response.close()

    serve(scenario)


async def read_part(response: Any) -> dict[str, str]:
    headers: dict[str, str] = {}
    while True:
        line = (await response.content.readline()).rstrip(b"\r\n")
        if line.startswith(b"--"):
            break
    while line := (await response.content.readline()).rstrip(b"\r\n"):
        name, _, value = line.decode().partition(": ")
        headers[name] = value
    jpeg = await response.content.readexactly(int(headers["Content-Length"]))
    assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR) is not None
    return headers


def test_events_come_from_the_store_filtered_by_camera():
    async def scenario(client: TestClient, core: StreamCore) -> None:
        core.events.publish(incident_event("door", 4, confidence=0.9))
        core.events.publish(incident_event("hall", 9, "drowsy"))
        everything = await (await client.get("/events")).json()
        assert [e["camera"] for e in everything["events"]] == ["hall", "door"]  # newest first
        door = await (await client.get("/events", params={"camera": "door", "limit": "5"})).json()
        assert [e["kind"] for e in door["events"]] == ["fall"]
        assert (await client.get("/events", params={"limit": "many"})).status == 400

    serve(scenario)


def test_live_events_arrive_as_server_sent_events():
    async def scenario(client: TestClient, core: StreamCore) -> None:
        response = await client.get("/events", headers={"Accept": "text/event-stream"})
        assert (await response.content.readline()) == b": connected\n"
        await response.content.readline()
        core.events.publish(incident_event("door", 4))
        assert (await asyncio.wait_for(response.content.readline(), 5)) == b"id: 1\n"  # the store's cursor
        assert (await response.content.readline()) == b"event: event\n"
        data = (await response.content.readline()).decode()
        assert json.loads(data.removeprefix("data: "))["kind"] == "fall"
        response.close()

    serve(scenario)


@pytest.mark.parametrize("healthy, status, word", [(True, 200, "ok"), (False, 503, "degraded")])
def test_healthz_reports_each_input(healthy, status, word):
    async def scenario(client: TestClient, core: StreamCore) -> None:
        response = await client.get("/healthz")
        body = await response.json()
        assert (response.status, body["status"], body["checks"]["inputs"]["feed"]) == (status, word, healthy)
        assert bool(body["reasons"]) is not healthy

    serve(scenario, healthy=healthy)


def test_healthz_and_metrics_report_a_dead_thread():
    async def scenario(client: TestClient, core: StreamCore) -> None:
        core.add_fault("thread:stream-core", "the streamer's stream-core thread died: OSError(28)")
        response = await client.get("/healthz")
        body = await response.json()
        assert (response.status, body["reasons"]) == (503, ["the streamer's stream-core thread died: OSError(28)"])
        families = {f.name: f for f in text_string_to_metric_families(await (await client.get("/metrics")).text())}
        assert families["vigil_healthy"].samples[0].value == 0.0

    serve(scenario)


def test_metrics_is_the_prometheus_exposition():
    async def scenario(client: TestClient, core: StreamCore) -> None:
        response = await client.get("/metrics")
        assert response.status == 200 and response.headers["Content-Type"].startswith("text/plain; version=")
        families = {f.name: f for f in text_string_to_metric_families(await response.text())}
        assert families["vigil_frames_emitted"].type == "counter"
        assert families["vigil_end_to_end_seconds"].type == "histogram"

    serve(scenario)


def test_the_page_and_its_static_files_are_served():
    async def scenario(client: TestClient, core: StreamCore) -> None:
        response = await client.get("/")
        assert response.status == 200 and response.content_type == "text/html"
        scripts = re.findall(r'<(?:script src|link rel="stylesheet" href)="([^"]+)"', await response.text())
        assert scripts == ["/static/app.css", "/static/app.js"]
        for path, content_types in [("/static/app.css", {"text/css"}),
                                    ("/static/app.js", {"text/javascript", "application/javascript"})]:
            response = await client.get(path)
            assert response.status == 200 and response.content_type in content_types, path
            assert response.headers["Cache-Control"] == "no-cache"

    serve(scenario)


@pytest.mark.parametrize("path", ["/static/../http.py", "/static/%2e%2e/http.py", "/static/..%2fhttp.py",
                                  "/static/missing.js", "/static/"])
def test_static_files_never_leave_their_folder(path):
    async def scenario(client: TestClient, core: StreamCore) -> None:
        response = await client.get(path)
        assert response.status in (403, 404), path
        assert "import" not in await response.text()

    serve(scenario)


def test_cameras_say_which_results_are_missing_and_when_the_streamer_started():
    async def scenario(client: TestClient, core: StreamCore) -> None:
        first = await (await client.get("/cameras")).json()
        (door,) = first["cameras"]
        assert (door["latest_missing"], door["latest_errors"]) == ([], [])
        # a frame whose pose result never comes, and whose blink result is an error
        core.on_feed(feed_frame(5, ("fall", "pose", "blink")))
        core.on_result(TaskRef("door", 1, 5, "fall"), DetectionResult(
            camera="door", session=1, seq=5, algorithm="fall", status="ok",
            observation={"width": 32, "height": 24, "people": []}))
        core.on_result(TaskRef("door", 1, 5, "blink"), DetectionResult(
            camera="door", session=1, seq=5, algorithm="blink", status="error", error="bad frame"))
        core.process(now=time.time() + 60)  # past the result deadline
        second = await (await client.get("/cameras")).json()
        (door,) = second["cameras"]
        assert (door["latest_seq"], door["latest_missing"], door["latest_errors"]) == (5, ["pose"], ["blink"])
        assert second["started"] == first["started"] <= time.time()

    serve(scenario)
