"""Incidents: the generic lifecycle (new / update / end, cooldown, stable ids) and each kind's rule.

Pure logic fed synthetic observation sequences (the builders of test_rules.py). ``run`` plays
a stream through a rule and its tracker as the streamer does, then ends the stream (``flush``).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import Any

import pytest

from tests.unit.test_rules import (
    FALLEN_Y,
    OPEN,
    SHUT,
    WALK,
    blink_frames,
    expression,
    fall_frames,
    person,
    pose_frames,
)
from vigil.detectors.base import Condition, Event, event_id
from vigil.detectors.blink import BlinkRule
from vigil.detectors.emotion import EmotionObservation, EmotionRule
from vigil.detectors.fall import FallRule
from vigil.detectors.headpose import HeadPoseRule
from vigil.detectors.lifecycle import IncidentTracker
from vigil.detectors.options import BlinkOptions, EmotionOptions, FallOptions, HeadPoseOptions
from vigil.detectors.registry import rule_cooldown


def run(rule: Any, observations: Sequence[Any], fps: float, session: int = 1) -> list[Event]:
    incidents = IncidentTracker(rule.camera, "test", rule_cooldown(rule))
    events = []
    for seq, observation in enumerate(observations):
        time = 1000.0 + seq / fps
        events.extend(incidents.update(session, seq, time, rule.update(seq, time, observation)))
    return events + incidents.flush()


def types(events: Sequence[Event]) -> list[tuple[str, str]]:
    return [(e.type, e.kind) for e in events]


# -- the tracker, fed conditions directly ---------------------------------------------------
def cond(start_seq: int, severity: str = "warning", subject: int = 1, score: float = 0.5) -> Condition:
    return Condition("fall", subject, start_seq, start_seq / 10, severity, score, {"track": subject})


def track(frames: Sequence[Sequence[Condition]], cooldown_s: float = 2.0, fps: float = 10) -> list[Event]:
    """Frame i holds the conditions frames[i]; 10 frames a second."""
    incidents = IncidentTracker("door", "fall", cooldown_s)
    events = []
    for seq, held in enumerate(frames):
        events.extend(incidents.update(7, seq, seq / fps, held))
    return events


def test_id_is_the_contract_formula() -> None:
    digest = hashlib.sha256(b"door|7|fall|3").hexdigest()[:20]
    assert event_id("door", 7, "fall", 3) == "evt_" + digest
    (new,) = track([[cond(3)]])
    assert new.id == "evt_" + digest and new.start_seq == 3 and new.seq == 0 and new.session == 7


def test_one_incident_new_then_end_after_the_cooldown() -> None:
    # Given a condition held 1 s, then gone for 3 s, with a 2 s cooldown
    events = track([[cond(0)]] * 10 + [[]] * 30)
    # Then one new, and one end 2 s after it cleared, carrying the time it cleared
    assert [(e.type, e.seq) for e in events] == [("new", 0), ("end", 30)]
    end = events[1]
    assert end.id == events[0].id and end.end == pytest.approx(1.0) and end.time == pytest.approx(3.0)
    assert end.details["duration_s"] == pytest.approx(1.0)


def test_zero_cooldown_ends_on_the_frame_it_clears() -> None:
    events = track([[cond(0)]] * 10 + [[]] * 3, cooldown_s=0)
    assert [(e.type, e.seq, e.end) for e in events] == [("new", 0, None), ("end", 10, 1.0)]


def test_a_retrigger_within_the_cooldown_updates_the_same_event() -> None:
    # Given an incident that clears for 1 s (cooldown 2 s) and re-triggers with a new onset
    events = track([[cond(0)]] * 10 + [[]] * 10 + [[cond(20)]] * 10 + [[]] * 25)
    # Then one event: new, an update when it came back, one end
    assert [(e.type, e.seq) for e in events] == [("new", 0), ("update", 20), ("end", 50)]
    assert len({e.id for e in events}) == 1 and events[-1].end == pytest.approx(3.0)


def test_a_retrigger_after_the_cooldown_is_a_new_event() -> None:
    events = track([[cond(0)]] * 10 + [[]] * 25 + [[cond(35)]] * 5)
    assert [e.type for e in events] == ["new", "end", "new"]
    assert events[0].id != events[2].id and events[2].start_seq == 35


def test_updates_only_when_severity_rises_or_an_onset_joins() -> None:
    frames: list[list[Condition]] = (
        [[cond(0, score=s)] for s in (0.5, 0.6, 0.7)]  # score moves: no update
        + [[cond(0, "critical")]] * 3  # severity rises: one update
        + [[cond(0, "warning")]] * 3  # and never falls within an incident: none
        + [[cond(0, "warning"), cond(8, subject=2)]] * 3  # a second person: one update
    )
    events = track(frames)
    assert [(e.type, e.seq, e.severity) for e in events] == [
        ("new", 0, "warning"),
        ("update", 3, "critical"),
        ("update", 9, "critical"),
    ]
    assert events[-1].details["count"] == 2


def test_a_new_session_ends_the_open_incidents_of_the_last() -> None:
    incidents = IncidentTracker("door", "fall", 10.0)
    first = incidents.update(1, 5, 5.0, [cond(5)])
    ended = incidents.update(2, 0, 9.0, [])
    assert [e.type for e in first + ended] == ["new", "end"]
    assert ended[0].session == 1 and ended[0].end == 5.0 and ended[0].details["ended_by"] == "session"
    assert incidents.open == []


def test_flush_ends_only_what_cleared() -> None:
    incidents = IncidentTracker("door", "fall", 10.0)
    incidents.update(1, 0, 0.0, [cond(0)])
    assert incidents.flush() == []  # still down when the stream ends: stays open
    incidents.update(1, 1, 0.1, [])
    assert [(e.type, e.end) for e in incidents.flush()] == [("end", 0.1)]


# -- fall -----------------------------------------------------------------------------------
FALL = [(2, WALK), (0.2, person(40)), (2, person(85, FALLEN_Y))]


def test_a_fall_is_one_event_new_then_end() -> None:
    fps = 25
    events = run(FallRule("hall"), fall_frames([*FALL, (3, person(5))], fps), fps)
    assert types(events) == [("new", "fall"), ("end", "fall")]
    new, end = events
    assert new.id == end.id and new.start_seq == end.start_seq == 50 and new.severity == "warning"
    assert end.end is not None and new.time < end.end


def test_a_fall_still_down_escalates_to_critical_once() -> None:
    fps = 10
    rule = FallRule("hall", FallOptions(critical_after_s=5, cooldown_s=2))
    events = run(rule, fall_frames([*FALL, (6, person(85, FALLEN_Y)), (5, person(5))], fps), fps)
    assert [(e.type, e.severity) for e in events] == [("new", "warning"), ("update", "critical"), ("end", "critical")]
    assert len({e.id for e in events}) == 1
    update = events[1]
    assert update.time - update.start == pytest.approx(5.0, abs=0.11)


def test_getting_up_and_falling_again_within_the_cooldown_is_one_event() -> None:
    fps = 25
    frames = fall_frames([*FALL, (2, person(5)), (0.2, person(40)), (2, person(85, FALLEN_Y)), (2, person(5))], fps)
    events = run(FallRule("hall"), frames, fps)
    assert types(events) == [("new", "fall"), ("update", "fall"), ("end", "fall")]
    assert len({e.id for e in events}) == 1


def test_two_streamers_on_one_camera_make_one_event() -> None:
    # Given two streamers fed the same frames of the same capture session
    fps = 25
    frames = fall_frames([*FALL, (3, person(5))], fps)
    first, second = run(FallRule("hall"), frames, fps), run(FallRule("hall"), frames, fps)
    # Then they publish the same events, ids included: a store keyed by id keeps one incident
    assert [e.to_dict() for e in first] == [e.to_dict() for e in second]
    assert len({e.id for e in first + second}) == 1


# -- drowsy ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        pytest.param([(2, OPEN), (3, SHUT), (2, OPEN)], [("new", "drowsy"), ("end", "drowsy")], id="closed-3s"),
        pytest.param([(2, OPEN), (1.5, SHUT), (2, OPEN)], [], id="closed-1.5s-is-not-drowsy"),
        pytest.param([(2, OPEN)] + [(0.15, SHUT), (2.85, OPEN)] * 20, [], id="normal-blinking-never"),
    ],
)
def test_drowsy_from_a_long_closure(pieces: list[tuple[float, Any]], expected: list[tuple[str, str]]) -> None:
    fps = 30
    events = run(BlinkRule("car"), blink_frames(pieces, fps), fps)
    assert types(events) == expected
    if events:
        assert events[0].start_seq == 60 and events[0].details["reason"] == "eyes_closed"


def test_drowsy_from_perclos_without_any_long_closure() -> None:
    # Given 0.7 s closures every 3 s (23 % of the time closed, each one shorter than 2 s)
    fps = 15
    rule = BlinkRule("car", BlinkOptions(perclos_threshold=0.15, perclos_min_s=30))
    events = run(rule, blink_frames([(2, OPEN)] + [(0.7, SHUT), (2.3, OPEN)] * 20, fps), fps)
    # Then drowsy once PERCLOS over at least 30 s passes 15 %, as one event
    new = next(e for e in events if e.type == "new")
    assert new.details["reason"] == "perclos" and new.details["perclos"] > 0.15
    assert new.start_seq >= 30 * fps and len({e.id for e in events}) == 1
    assert rule.summary()["people"][0]["perclos"] > 0.15


# -- looking_away ---------------------------------------------------------------------------
def test_looking_away_starts_when_the_head_turned() -> None:
    values = [(0.0, 0.0, 0.0)] * 30 + [(0.0, 45.0, 0.0)] * 90 + [(0.0, 0.0, 0.0)] * 30
    rule = HeadPoseRule("car", HeadPoseOptions(away_s=2.0, cooldown_s=0.5))
    events = run(rule, pose_frames(values), 30)
    assert types(events) == [("new", "looking_away"), ("end", "looking_away")]
    new, end = events
    assert 30 <= new.start_seq <= 32 and new.seq - new.start_seq == pytest.approx(60, abs=1)
    assert new.details["pitch"] > 30 and end.seq < len(values)  # the cooldown ran out within the stream


# -- distress -------------------------------------------------------------------------------
def random_labels(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(["happy", "fear", "sad", "neutral"]) for _ in range(count)]


def faces(labels: Sequence[str]) -> list[EmotionObservation]:
    return [EmotionObservation((expression(label),)) for label in labels]


@pytest.mark.parametrize(
    "labels",
    [
        pytest.param(["happy", "fear", "happy", "sad"] * 150, id="smile-flickering-with-fear-and-sad"),
        pytest.param(["sad", "neutral"] * 300, id="sad-every-other-frame"),
        pytest.param(random_labels(600, seed=3), id="half-distressed-at-random"),
        pytest.param(["sad"] * 60 + ["neutral"] * 30 + ["sad"] * 60 + ["neutral"] * 60, id="4s-sad-twice"),
    ],
)
def test_a_flickering_label_yields_no_events(labels: list[str]) -> None:
    rule = EmotionRule("lounge")
    assert run(rule, faces(labels), 15) == []


def test_distress_held_fires_once_and_ends() -> None:
    fps = 15
    events = run(EmotionRule("lounge"), faces(["neutral"] * 30 + ["sad"] * 120 + ["neutral"] * 60), fps)
    assert types(events) == [("new", "distress"), ("end", "distress")]
    new = events[0]
    assert new.seq - new.start_seq == 5 * fps and new.details["label"] == "sad" and new.score > 0.6


def test_distress_hysteresis_keeps_an_incident_through_a_dip() -> None:
    # Given 7 s of sadness, 1 s of half-sad frames (between off and on), then sad again
    fps = 15
    labels = ["sad"] * 105 + ["sad", "neutral"] * 8 + ["sad"] * 45 + ["neutral"] * 60
    events = run(EmotionRule("lounge", EmotionOptions(cooldown_s=0)), faces(labels), fps)
    assert types(events) == [("new", "distress"), ("end", "distress")]
    assert events[1].end is not None and events[1].end - events[0].start > 9.0
