"""Incidents through the streamer's core: frames and fall results in, one incident's events out.

The synthetic fall of test_rules.py travels as feed messages and detection results; the
core's rules, tracker, event log, recorder and metrics see it as they would live.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers import frame_payload, incident_event
from tests.unit.test_rules import FALLEN_Y, WALK, fall_frames, person
from tests.unit.test_stream_core import samples
from vigil.config import SiteConfig, load_site_config
from vigil.detectors.base import event_id
from vigil.errors import ConfigError
from vigil.messages import DetectionResult, TaskRef
from vigil.settings import Settings
from vigil.stream.core import StreamCore
from vigil.stream.recorder import JsonLinesRecorder, MemoryRecorder, read_json_lines
from vigil.stream.store import EventStore

FPS = 25.0


def make_core(site: SiteConfig | None = None) -> StreamCore:
    return StreamCore(Settings.load(environ={}), EventStore(":memory:"), recorder=MemoryRecorder(), site=site)


def play(core: StreamCore, observations: list[Any], session: int = 1, camera: str = "door") -> None:
    for seq, observation in enumerate(observations):
        captured = 1000.0 + seq / FPS
        core.on_feed({"kind": "frame", "frame": frame_payload(seq, camera, session, captured_at=captured),
                      "algorithms": ["fall"], "stats": {"camera": camera, "state": "streaming"}})
        result = DetectionResult.from_dict({
            "camera": camera, "session": session, "seq": seq, "algorithm": "fall", "status": "ok",
            "observation": None if observation is None else observation.to_dict(),
        }) if observation is not None else DetectionResult.from_dict({
            "camera": camera, "session": session, "seq": seq, "algorithm": "fall", "status": "error", "error": "x",
        })  # fmt: skip
        core.on_result(TaskRef(camera, session, seq, "fall"), result)
        core.process()


def site_file(tmp_path: Path, rules: str) -> SiteConfig:
    path = tmp_path / "vigil.toml"
    path.write_text('[cameras.door]\nsource = "0"\n' + rules)
    return load_site_config(path, environ={})


def test_a_fall_through_the_core_is_one_incident(tmp_path: Path) -> None:
    # Given a streamer whose door camera sends 0 s cooldown falls
    core = make_core(site_file(tmp_path, "[cameras.door.rules.fall]\ncooldown_s = 0\n"))
    heard: list[dict[str, Any]] = []
    core.events.subscribe(heard.append)
    # When a person walks, falls, lies 2 s and gets up
    play(core, fall_frames([(2, WALK), (0.2, person(40)), (2, person(85, FALLEN_Y)), (2, person(5))], FPS), session=4)
    # Then listeners, the recorder and the store get one new and one end of the same incident
    assert [(e["type"], e["kind"], e["session"]) for e in heard] == [("new", "fall", 4), ("end", "fall", 4)]
    assert heard[0]["id"] == heard[1]["id"] == event_id("door", 4, "fall", heard[0]["start_seq"])
    assert core.recorder is not None and core.recorder.events == heard  # type: ignore[attr-defined]
    assert [m.event["type"] for m in core.events.store.messages_after(0)] == ["new", "end"]
    (incident,) = core.events.store.page().incidents
    assert (incident["id"], incident["type"]) == (heard[0]["id"], "end")
    assert core.events.incidents == 1 and core.events.count == 2
    metrics = samples(core)
    assert metrics[("vigil_events_total", (("camera", "door"), ("kind", "fall"), ("type", "new")))] == 1
    assert metrics[("vigil_events_total", (("camera", "door"), ("kind", "fall"), ("type", "end")))] == 1


def test_a_new_session_ends_the_incident_and_finish_sends_held_ends() -> None:
    core = make_core()
    heard: list[dict[str, Any]] = []
    core.events.subscribe(heard.append)
    # Given a person down when the capture restarts (a new session)
    play(core, fall_frames([(2, WALK), (0.2, person(40)), (2, person(85, FALLEN_Y))], FPS), session=1)
    play(core, fall_frames([(1, WALK)], FPS), session=2)
    # Then the first session's incident ends, with the reason
    assert [(e["type"], e["session"]) for e in heard] == [("new", 1), ("end", 1)]
    assert heard[1]["details"]["ended_by"] == "session"
    # And a fall that cleared in the last seconds of a file gets its end when the stream finishes
    play(core, fall_frames([(2, WALK), (0.2, person(40)), (2, person(85, FALLEN_Y)), (2, person(5))], FPS), session=3)
    assert [e["type"] for e in heard[2:]] == ["new"]  # cooling down (10 s by default)
    core.finish()
    assert [(e["type"], e["session"]) for e in heard[2:]] == [("new", 3), ("end", 3)]


def test_bad_rule_options_refuse_to_start_the_core(tmp_path: Path) -> None:
    site = site_file(tmp_path, "[cameras.door.rules.fall]\ncritical_after_s = 5\n")
    site.cameras["door"].rules["fall"] = {"critical": 5}  # as if the file had not been checked
    with pytest.raises(ConfigError, match=r"camera 'door': rule 'fall': unknown option 'critical'"):
        make_core(site)


def test_a_recorded_event_keeps_its_own_type(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Given a --record file with a frame and an `end` event (whose "type" must not clash with the line's)
    path = tmp_path / "record.jsonl"
    recorder = JsonLinesRecorder(path)
    event = incident_event("door", 9, type="end", start_seq=3).to_dict()
    recorder.frame({"camera": "door", "seq": 9})
    recorder.event(event)
    recorder.close()
    # Then both come back as written
    assert read_json_lines(path) == ([{"camera": "door", "seq": 9}], [event])
