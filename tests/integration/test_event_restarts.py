"""Stored events, snapshots and clips outlive a streamer killed with SIGKILL and a Redis restart.

Issue 12 ("events lost"): a Redis restart lost 100 of 100 events when Redis kept them. Now the
store is a SQLite file (or PostgreSQL) and the media folder beside it; Redis only carries results.
The Redis restarted here is a private one (never the machine's).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import inputs_connected, start_streamer

pytestmark = pytest.mark.integration

WRITER = [sys.executable, "-m", "tests.integration.event_writer"]


def served(url: str, media_dir: Path, ids: list[str]) -> None:
    """Every incident listed, and its snapshot and clip served byte for byte as stored."""
    listed = requests.get(f"{url}/events", params={"limit": 100}, timeout=10).json()["events"]
    assert sorted(incident["id"] for incident in listed) == sorted(ids)
    for incident in listed:
        assert incident["type"] == "end"
        full = requests.get(f"{url}/events/{incident['id']}", timeout=10).json()
        assert [update["type"] for update in full["updates"]] == ["new", "update", "end"]
        for link, suffix, content_type in ((incident["snapshot"], ".jpg", "image/jpeg"),
                                           (incident["clip"], ".webm", "video/webm")):
            response = requests.get(f"{url}{link}", timeout=10)
            assert response.status_code == 200 and response.headers["Content-Type"] == content_type
            stored = media_dir / incident["camera"] / f"{incident['id']}{suffix}"
            assert response.content == stored.read_bytes() and len(response.content) > 1000


def wait_healthy(url: str, timeout: float = 60) -> None:
    """Both inputs connected again (not "healthy": no worker serves the queues in this test)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if inputs_connected(url):
            return
        time.sleep(0.2)
    raise AssertionError(f"{url} did not reconnect its inputs")


def test_events_survive_a_streamer_killed_and_a_redis_restart(clean, spawn, vigil_env, private_redis, tmp_path):
    env = dict(vigil_env, VIGIL_RESULT_BACKEND=private_redis.url)
    media_dir = Path(env["VIGIL_MEDIA_DIR"])
    # Given a streamer that stored three falls with their snapshots and clips, then was killed -9
    writer = spawn([*WRITER, "--falls", "3"], env, "writer")
    writer.wait_for("STORED", 180)
    ids = json.loads(writer.output().split("STORED ", 1)[1].splitlines()[0])
    writer.popen.kill()
    writer.popen.wait(10)
    # When a streamer starts on the same store
    streamer, url = start_streamer(spawn, env)
    # Then every event, snapshot and clip is listed and served
    served(url, media_dir, ids)
    # And still after Redis restarts (it held nothing of them)
    private_redis.restart()
    wait_healthy(url)
    served(url, media_dir, ids)
    acked = requests.post(f"{url}/events/{ids[0]}/ack", json={"by": "carer"}, headers={"X-Vigil-Request": "1"},
                          timeout=10)
    assert acked.status_code == 200
    # And after the streamer itself is killed -9 and started again
    streamer.popen.kill()
    streamer.popen.wait(10)
    _, url = start_streamer(spawn, env)
    served(url, media_dir, ids)
    assert requests.get(f"{url}/events/{ids[0]}", timeout=10).json()["acknowledged"]["by"] == "carer"
    # And a page that saw the first two messages resumes from the store with the other seven, in order
    with requests.get(f"{url}/events", headers={"Accept": "text/event-stream", "Last-Event-ID": "2"},
                      stream=True, timeout=10) as response:
        replayed = read_sse(response.iter_lines(decode_unicode=True), 7)
    assert [cursor for cursor, _ in replayed] == list(range(3, 10))
    assert [(event["id"], event["type"]) for _, event in replayed[:4]] == [
        (ids[0], "end"), (ids[1], "new"), (ids[1], "update"), (ids[1], "end")]


def read_sse(lines, count: int) -> list[tuple[int, dict]]:
    messages, fields = [], {}
    for line in lines:
        if line == "":
            if "data" in fields:
                messages.append((int(fields["id"]), json.loads(fields["data"])))
                if len(messages) == count:
                    return messages
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value
    raise AssertionError(f"the stream ended after {messages}")
