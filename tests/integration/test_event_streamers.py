"""Real `vigil stream` processes turn a fall into one stored incident, whatever is restarted.

A camera and a worker are played by the test: each frame (a 640x360 JPEG) goes to the
`vigil.frames` fanout as capture sends it, and its fall result (a person walking, falling,
lying, getting up: the synthetic fall of tests/unit/test_rules.py) to Redis as a Celery worker
publishes it. The streamers run the real fall rule, incident tracker, store and media writer.

- kill -9 of the streamer and a Redis restart: the incident, its snapshot and clip are still
  listed and served by the next streamer (issue 12, "events lost");
- two streamers on the same camera and one PostgreSQL store: ONE incident, its `new` and `end`
  once each (issue 8, section 6).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis
import requests
from kombu import Connection, Producer

from tests.helpers import frame_payload
from tests.incidents import picture
from tests.integration.conftest import BROKER_URL, start_streamer
from tests.integration.test_event_store import POSTGRES_URL, _reset_postgres
from tests.unit.test_rules import FALLEN_Y, WALK, fall_frames, person
from vigil.messages import DetectionResult, task_id
from vigil.queues import FRAMES_EXCHANGE
from vigil.stream.store import EventStore

pytestmark = pytest.mark.integration

FPS = 25.0
# walk, fall, lie 2 s, get up and stay up (long enough for the clip's 2 s after `new`)
FALL = [(2, WALK), (0.2, person(40)), (2, person(85, FALLEN_Y)), (3, person(5))]
CLIP_ENV = {"VIGIL_CLIP_BEFORE_S": "2", "VIGIL_CLIP_AFTER_S": "2"}


def play_fall(result_backend: str, camera: str, session: int) -> None:
    """The frames and fall results of one fall, in real time, as capture and a worker send them."""
    results = redis.Redis.from_url(result_backend)
    start = time.time()
    with Connection(BROKER_URL) as connection:
        producer = Producer(connection.default_channel, exchange=FRAMES_EXCHANGE)
        for seq, observation in enumerate(fall_frames(FALL, FPS)):
            captured = start + seq / FPS
            payload = frame_payload(seq, camera, session, captured_at=captured, width=640, height=360,
                                    jpeg=picture(seq))
            producer.publish({"kind": "frame", "frame": payload, "algorithms": ["fall"],
                              "stats": {"camera": camera, "state": "streaming", "captured": seq + 1,
                                        "sent": seq + 1}}, serializer="msgpack")
            time.sleep(0.01)  # the result after its frame, as a worker's would be
            result = DetectionResult.from_dict({
                "camera": camera, "session": session, "seq": seq, "algorithm": "fall", "status": "ok",
                "observation": None if observation is None else observation.to_dict(),
            })
            name = task_id(camera, session, seq, "fall")
            results.publish(f"celery-task-meta-{name}",
                            json.dumps({"status": "SUCCESS", "result": result.to_dict(), "task_id": name}))
            time.sleep(max(0.0, start + (seq + 1) / FPS - time.time()))
    results.close()


def wait_for_incident(url: str, timeout: float = 60) -> dict:
    """The one incident, once its clip is written."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = requests.get(f"{url}/events", timeout=5).json()["events"]
        if events and events[0]["clip"]:
            (incident,) = events
            return incident
        time.sleep(0.2)
    raise AssertionError(f"no incident with a clip on {url}: {events}")


def media_of(url: str, incident: dict) -> tuple[bytes, bytes]:
    snapshot = requests.get(f"{url}{incident['snapshot']}", timeout=10)
    clip = requests.get(f"{url}{incident['clip']}", timeout=10)
    assert snapshot.status_code == clip.status_code == 200
    assert snapshot.content[:2] == b"\xff\xd8" and clip.content[:4] == b"\x1a\x45\xdf\xa3"
    return snapshot.content, clip.content


def test_a_fall_seen_by_a_streamer_outlives_its_kill_and_a_redis_restart(clean, spawn, vigil_env, private_redis):
    env = dict(vigil_env, VIGIL_RESULT_BACKEND=private_redis.url, **CLIP_ENV)
    # Given a streamer that saw a fall (results through a Redis that keeps nothing on disk)
    streamer, url = start_streamer(spawn, env)
    play_fall(private_redis.url, "hall", 3)
    incident = wait_for_incident(url)
    assert (incident["kind"], incident["type"], incident["session"]) == ("fall", "new", 3)
    media = media_of(url, incident)
    # When the streamer is killed -9 and Redis restarts
    streamer.popen.kill()
    streamer.popen.wait(10)
    private_redis.restart()
    # Then the next streamer lists the incident and serves the same snapshot and clip
    _, url = start_streamer(spawn, env)
    listed = requests.get(f"{url}/events", timeout=5).json()["events"]
    assert [(i["id"], i["type"]) for i in listed] == [(incident["id"], "new")]
    assert media_of(url, listed[0]) == media
    assert Path(env["VIGIL_MEDIA_DIR"], "hall", f"{incident['id']}.webm").read_bytes() == media[1]


def test_two_streamers_on_one_camera_store_one_incident(clean, spawn, vigil_env, tmp_path):
    _reset_postgres()
    env = dict(vigil_env, VIGIL_EVENTS_URL=POSTGRES_URL, **CLIP_ENV)
    try:
        # Given two streamers on one store, both receiving the same camera's frames and results
        first, first_url = start_streamer(spawn, env)
        second, second_url = start_streamer(spawn, env)
        # When a person falls and gets up
        play_fall(env["VIGIL_RESULT_BACKEND"], "door", 5)
        incident = wait_for_incident(first_url)
        assert wait_for_incident(second_url)["id"] == incident["id"]
        # And both stop (each sends the `end` its tracker held back for the cooldown)
        assert first.stop() == 0 and second.stop() == 0
        # Then one incident, with one new and one end
        store = EventStore(POSTGRES_URL)
        try:
            (stored,) = store.page().incidents
            full = store.get(stored["id"])
            assert full is not None and [u["type"] for u in full["updates"]] == ["new", "end"]
            assert [m.event["type"] for m in store.messages_after(0)] == ["new", "end"]
        finally:
            store.close()
    finally:
        _reset_postgres()
