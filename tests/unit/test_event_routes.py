"""The event routes in-process through aiohttp's test client, on a real SQLite store and media folder."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from tests.incidents import joined, message
from vigil.settings import Settings
from vigil.stream.core import StreamCore
from vigil.stream.http import create_web_app
from vigil.stream.media import MediaRecorder
from vigil.stream.store import EventStore

FPS = 10.0
T0 = time.time() - 100
ACK = {"X-Vigil-Request": "1"}


@pytest.fixture
def core(tmp_path):
    settings = Settings.load(environ={"VIGIL_CLIP_BEFORE_S": "1", "VIGIL_CLIP_AFTER_S": "1"})
    store = EventStore(str(tmp_path / "events.sqlite3"))
    built = StreamCore(settings, store, media=MediaRecorder(store, tmp_path / "media", settings))
    yield built
    built.events.close()


def fall(core: StreamCore, start_seq: int, camera: str = "door", end: bool = True) -> dict[str, Any]:
    """Frames of a camera with one fall in them, as the processing thread hands them over."""
    start = T0 + start_seq / FPS
    sent = {start_seq + 5: message("new", start_seq + 5, start_seq=start_seq, start=start, fps=FPS, camera=camera)}
    if end:
        sent[start_seq + 25] = message("end", start_seq + 25, start_seq=start_seq, start=start, fps=FPS,
                                       camera=camera)
    for seq in range(start_seq - 15, start_seq + 40):
        assert core.media is not None
        core.media.add_frame(joined(seq, T0 + seq / FPS, camera), {}, {})
        if seq in sent:
            core.events.publish(sent[seq])
    return sent[start_seq + 5]


def wait_for_clip(core: StreamCore, event_id: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not (core.events.store.get(event_id) or {}).get("clip"):
        assert time.monotonic() < deadline, "clip never written"
        time.sleep(0.05)


def serve(core: StreamCore, scenario: Callable[[TestClient], Awaitable[None]]) -> None:
    async def main() -> None:
        app = create_web_app(core, lambda: {"feed": True, "results": True})
        async with TestClient(TestServer(app)) as client:
            await scenario(client)

    asyncio.run(main())


def test_history_pages_filters_and_one_incident_with_its_updates(core):
    falls = [fall(core, 100 * index, camera="door" if index % 2 == 0 else "hall") for index in range(5)]
    open_one = fall(core, 600, end=False)

    async def scenario(client: TestClient) -> None:
        ids: list[str] = []
        url = "/events?limit=2"
        while url:
            response = await client.get(url)
            assert response.status == 200
            page = await response.json()
            ids += [incident["id"] for incident in page["events"]]
            url = f"/events?limit=2&before={page['next']}" if page["next"] else ""
        assert ids == [open_one["id"], *[event["id"] for event in reversed(falls)]]
        hall = await (await client.get("/events?camera=hall")).json()
        assert [i["camera"] for i in hall["events"]] == ["hall", "hall"] and hall["next"] is None
        opened = await (await client.get("/events?open=1")).json()
        assert [i["id"] for i in opened["events"]] == [open_one["id"]]
        window = await (await client.get(f"/events?since={T0 + 20}&until={T0 + 40}")).json()
        assert [i["id"] for i in window["events"]] == [falls[3]["id"], falls[2]["id"]]
        incident = await (await client.get(f"/events/{falls[0]['id']}")).json()
        assert incident["type"] == "end" and incident["acknowledged"] is None
        assert [(u["type"], u["seq"]) for u in incident["updates"]] == [("new", 5), ("end", 25)]
        assert (await client.get("/events/evt_nope")).status == 404
        assert (await client.get("/events?before=garbage")).status == 400
        assert (await client.get("/events?since=yesterday")).status == 400

    serve(core, scenario)


def test_snapshot_and_clip_are_served_and_the_clip_seeks(core):
    event = fall(core, 100)
    wait_for_clip(core, event["id"])

    async def scenario(client: TestClient) -> None:
        incident = await (await client.get(f"/events/{event['id']}")).json()
        snapshot = await client.get(incident["snapshot"])
        assert snapshot.status == 200 and snapshot.content_type == "image/jpeg"
        assert (await snapshot.read()).startswith(b"\xff\xd8")
        clip = await client.get(incident["clip"])
        body = await clip.read()
        assert clip.status == 200 and clip.content_type == "video/webm" and body[:4] == b"\x1a\x45\xdf\xa3"
        part = await client.get(incident["clip"], headers={"Range": "bytes=0-99"})
        assert part.status == 206 and len(await part.read()) == 100
        assert (await client.get(f"/events/{event['id']}/clip.mp4")).status == 404
        assert (await client.get("/events/evt_nope/snapshot.jpg")).status == 404
        # And /metrics counts what the media writer did
        samples = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                   for family in text_string_to_metric_families(await (await client.get("/metrics")).text())
                   for sample in family.samples}
        assert samples[("vigil_event_media_written_total", (("kind", "clip"),))] == 1
        assert samples[("vigil_event_media_written_total", (("kind", "snapshot"),))] == 1
        assert samples[("vigil_event_media_lost_total", (("reason", "write_failed"),))] == 0
        assert samples[("vigil_events_store_backlog", ())] == 0

    serve(core, scenario)


def test_acknowledging_is_stored_and_needs_the_request_header(core):
    event = fall(core, 100)

    async def scenario(client: TestClient) -> None:
        refused = await client.post(f"/events/{event['id']}/ack", json={"by": "mallory"})
        assert refused.status == 403
        done = await client.post(f"/events/{event['id']}/ack", json={"by": "alice"}, headers=ACK)
        assert done.status == 200
        acknowledged = (await done.json())["acknowledged"]
        assert acknowledged["by"] == "alice" and abs(acknowledged["at"] - time.time()) < 60
        listed = (await (await client.get("/events")).json())["events"][0]
        assert listed["acknowledged"] == acknowledged
        assert (await client.post("/events/evt_nope/ack", headers=ACK)).status == 404

    serve(core, scenario)


async def read_sse(response: Any, count: int) -> list[tuple[int | None, dict[str, Any]]]:
    """``count`` server-sent events as (id, data), parsed field by field."""
    messages: list[tuple[int | None, dict[str, Any]]] = []
    fields: dict[str, str] = {}
    while len(messages) < count:
        line = (await asyncio.wait_for(response.content.readline(), 10)).decode().rstrip("\n")
        if line == "":
            if "data" in fields:
                messages.append((int(fields["id"]) if "id" in fields else None, json.loads(fields["data"])))
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value
    return messages


def test_the_event_stream_carries_cursors_and_resumes_from_last_event_id(core):
    first = fall(core, 100)  # new (cursor 1) and end (cursor 2), stored before anyone listened

    async def scenario(client: TestClient) -> None:
        # Given a client that saw cursor 1 and reconnects with it
        async with client.get("/events", headers={"Accept": "text/event-stream", "Last-Event-ID": "1"}) as response:
            assert response.headers["Content-Type"] == "text/event-stream"
            (missed,) = await read_sse(response, 1)
            # Then it first gets what it missed, from the store
            assert missed[0] == 2 and (missed[1]["id"], missed[1]["type"]) == (first["id"], "end")
            # And then live messages, each with its cursor
            loop = asyncio.get_running_loop()
            later = await loop.run_in_executor(None, fall, core, 300)
            live = await read_sse(response, 2)
            assert [(cursor, event["type"]) for cursor, event in live] == [(3, "new"), (4, "end")]
            assert live[0][1]["id"] == later["id"]
        # And a camera filter applies to the replay too
        async with client.get("/events?camera=hall", headers={"Accept": "text/event-stream",
                                                              "Last-Event-ID": "0"}) as response:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, fall, core, 500, "hall")
            assert [(cursor, event["camera"]) for cursor, event in await read_sse(response, 1)] == [(5, "hall")]

    serve(core, scenario)


def test_a_message_after_the_server_stopped_is_stored_without_error(core):
    # Given a streamer whose HTTP server has stopped (its event loop is closed)
    async def nothing(client: TestClient) -> None:
        pass

    serve(core, nothing)
    # When the tracker's held `end` is sent on the way out, it is stored as usual
    core.events.publish(message("end", 60))
    assert core.events.store.page().incidents[0]["type"] == "end"
