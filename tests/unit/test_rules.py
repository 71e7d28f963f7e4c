"""Event rules fed synthetic observation sequences: falls, sitting, blinks, closures, noise, gaps.

Each case is a timeline: (seconds, value) pieces expanded frame by frame at a frame
rate, with ``None`` standing for a frame whose result never arrived. Rules report
conditions; ``feed`` runs them through the incident tracker, as the streamer does, and
ends the stream at the last frame (``flush``), so an incident that cleared has its ``end``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
import pytest

from vigil.detectors.base import Event
from vigil.detectors.blink import BlinkObservation, BlinkRule, EyeState
from vigil.detectors.camera_motion import thumbnail
from vigil.detectors.emotion import (
    EMOTIONS,
    EmotionObservation,
    EmotionRule,
    FaceEmotion,
)
from vigil.detectors.fall import FallObservation, FallRule, PersonPose
from vigil.detectors.headpose import HeadPose, HeadPoseObservation, HeadPoseRule
from vigil.detectors.lifecycle import IncidentTracker
from vigil.detectors.registry import rule_cooldown

MISSING = "missing"  # the frame's result never arrived
NOBODY = "nobody"  # the frame arrived, nothing detected


def timeline(pieces: Sequence[tuple[float, Any]], fps: float) -> list[Any]:
    """Expand [(duration_s, value), ...] into one value a frame."""
    frames: list[Any] = []
    for duration, value in pieces:
        frames.extend([value] * round(duration * fps))
    return frames


def feed(rule: Any, observations: Sequence[Any], fps: float) -> list[Event]:
    """The incident events of a stream of observations, ended at its last frame."""
    incidents = IncidentTracker(rule.camera, "test", rule_cooldown(rule))
    events = []
    for seq, observation in enumerate(observations):
        events.extend(incidents.update(0, seq, seq / fps, rule.update(seq, seq / fps, observation)))
    return events + incidents.flush()


def lifecycle(events: Sequence[Event]) -> list[tuple[str, str]]:
    return [(e.type, e.kind) for e in events]


NEW_FALL, END_FALL = ("new", "fall"), ("end", "fall")


# -- fall ---------------------------------------------------------------------------------
def person(
    angle: float, hips_y: float = 200.0, score: float = 0.9, x: float = 200.0, radius: float = 150.0
) -> PersonPose:
    return PersonPose(
        box=[int(x) - 100, 100, 200, 200],
        score=score,
        angle=angle,
        hips=[x, hips_y],
        shoulders=[x, hips_y - 80],
        radius=radius,
    )


WALK = "walk"  # upright, hips moving 3 px a frame to the right: what a person does and a chair does not
FALLEN_Y = 300.0  # hips 100 px (0.67 radii) below the upright 200: on the floor


def fall_frames(
    pieces: Sequence[tuple[float, Any]], fps: float, thumbs: Sequence[str | None] = ()
) -> list[FallObservation | None]:
    """Frames from a timeline; after a WALK piece every later person stands where the walk ended."""
    out: list[FallObservation | None] = []
    x = 200.0
    for duration, value in pieces:
        for _ in range(round(duration * fps)):
            thumb = thumbs[len(out)] if len(out) < len(thumbs) else None
            if value == MISSING:
                out.append(None)
            elif value == NOBODY:
                out.append(FallObservation(640, 480, (), thumb))
            elif value == WALK:
                x += 3.0
                out.append(FallObservation(640, 480, (person(5, x=x),), thumb))
            else:
                out.append(FallObservation(640, 480, (dataclasses.replace(value, hips=[x, value.hips[1]]),), thumb))
    return out


@pytest.mark.parametrize(
    ("pieces", "fps", "expected"),
    [
        pytest.param([(2, WALK), (0.2, person(40)), (2, person(85, FALLEN_Y))], 25, [NEW_FALL], id="fall"),
        pytest.param(
            [(2, WALK), (0.3, person(60, 260)), (2, NOBODY)], 10, [], id="nobody-seen-is-not-down"
        ),
        pytest.param(
            [(2, WALK), (0.3, person(70, FALLEN_Y)), (0.3, MISSING), (1.5, person(80, FALLEN_Y))],
            25,
            [NEW_FALL],
            id="fall-with-missing-frames",
        ),
        pytest.param(
            [(2, WALK), (0.2, person(80, FALLEN_Y)), (2, person(85, FALLEN_Y)), (2, person(5))],
            25,
            [NEW_FALL, END_FALL],
            id="fall-then-up-again",
        ),
        pytest.param(
            [(2, WALK), (0.8, person(60, 230)), (3, person(15, 260))], 10, [], id="sitting-down"
        ),
        pytest.param(
            [(2, WALK), (0.5, person(65)), (0.5, person(40)), (0.5, person(65)), (2, person(5))],
            25,
            [],
            id="bending-twice",
        ),
        pytest.param([(2, WALK), (2, person(95, 205))], 25, [], id="bending-far-hips-stay"),
        pytest.param([(2, WALK), (0.3, person(85, 180)), (3, person(90, 180))], 25, [], id="lying-down-on-bed"),
        pytest.param([(2, WALK), (1.5, person(40)), (2, person(85, FALLEN_Y))], 25, [], id="slow-lie-down"),
        pytest.param(
            [(4, person(5, score=0.6)), (0.2, person(60)), (2, person(85, 230, score=0.6))],
            25,
            [],
            id="static-upright-thing-never-a-person",
        ),
        pytest.param([(5, person(88, score=0.7))], 25, [], id="lying-object-never-upright"),
        pytest.param([(5, NOBODY)], 25, [], id="empty-room"),
        pytest.param([(5, MISSING)], 25, [], id="no-results"),
    ],
)
def test_fall_rule(pieces: list[tuple[float, Any]], fps: float, expected: list[tuple[str, str]]) -> None:
    events = feed(FallRule(camera="hall"), fall_frames(pieces, fps), fps)
    assert lifecycle(events) == expected


@pytest.mark.parametrize(
    ("misread_radius", "expected"),
    [
        # A body radius of 8 px on a track of 150 px is a misread, not the person: no evidence.
        pytest.param(8.0, [], id="shrunk-misread-upright-is-not-evidence"),
        pytest.param(30.0, [], id="shrunk-to-a-fifth-is-not-evidence"),
        # The same frame at the person's size is a real upright frame with the hips 100 px higher.
        pytest.param(150.0, [NEW_FALL], id="full-size-upright-frame-counts"),
        pytest.param(60.0, [NEW_FALL], id="shrunk-to-0.4-still-counts"),
    ],
)
def test_fall_rule_ignores_a_detection_far_smaller_than_its_track(
    misread_radius: float, expected: list[tuple[str, str]]
) -> None:
    # Given a walker read leaning (hips level: no drop), one upright frame with the hips 100 px higher,
    # then leaning again with the hips 20 px below the walk (0.13 radii: not a fall's drop)
    fps = 25
    pieces = [
        (2, WALK),
        (1.2, person(60)),
        (1 / fps, person(5, hips_y=100.0, radius=misread_radius)),
        (1.5, person(70, hips_y=220.0)),
    ]
    # When the rule sees it
    events = feed(FallRule(camera="corner"), fall_frames(pieces, fps), fps)
    # Then only an upright frame read at the person's size restarts the sequence and measures a drop from it
    assert lifecycle(events) == expected


def test_fall_event_carries_onset_confidence_and_track() -> None:
    # Given someone walking for 2 s who drops to the floor at 2.0 s
    fps = 25
    frames = fall_frames([(2, WALK), (0.2, person(40)), (2, person(85, FALLEN_Y))], fps)
    # When the rule sees it
    (event,) = feed(FallRule(camera="hall"), frames, fps)
    # Then the event starts right after the last upright frame, with a confidence, naming the track
    assert event.type == "new" and event.severity == "warning" and event.end is None
    assert event.start_seq == 50 and event.start == pytest.approx(49 / fps)
    assert 0 < event.score == event.details["confidence"] <= 1
    assert event.seq == event.details["detected_seq"] >= event.details["down_seq"] > event.start_seq


def test_fall_of_the_walker_beside_a_static_chair() -> None:
    # Given a chair-like upright detection that never moves, and a man who walks and falls
    fps = 25
    chair = person(5, score=0.6, x=560.0)
    frames = [
        FallObservation(640, 480, (chair, man))
        for man in [person(5, x=100.0 + 3 * i) for i in range(50)]
        + [person(60, x=250.0)] * 5
        + [person(85, FALLEN_Y, x=250.0)] * 50
    ]
    # When the rule sees them all
    rule = FallRule(camera="office")
    events = feed(rule, frames, fps)
    # Then the man's fall is reported, on his track (the chair was seen first: track 1)
    assert [(e.type, e.kind, e.details["track"]) for e in events] == [("new", "fall", 2)]
    assert rule.summary()["people"] == 1


def textured(shift: int) -> str:
    """A thumbnail of a fixed random scene, moved ``shift`` pixels right (a panning camera)."""
    blocks = np.random.default_rng(7).integers(0, 255, size=(12, 36), dtype=np.uint8)
    scene = cv2.resize(blocks, (720, 240), interpolation=cv2.INTER_NEAREST)  # 20-px patches, like furniture
    return thumbnail(scene[:, 400 - shift : 720 - shift])


@pytest.mark.parametrize(
    ("pan_px_per_frame", "expected"),
    [pytest.param(0, [NEW_FALL], id="still-camera"), pytest.param(6, [], id="fall-during-pan-is-held")],
)
def test_fall_during_camera_motion_is_held(pan_px_per_frame: int, expected: list[tuple[str, str]]) -> None:
    fps = 25
    pieces = [(2, WALK), (0.2, person(40)), (2, person(85, FALLEN_Y))]
    thumbs = [textured(0)] * 50 + [textured(pan_px_per_frame * i) for i in range(55)]
    events = feed(FallRule(camera="hall"), fall_frames(pieces, fps, thumbs), fps)
    assert lifecycle(events) == expected


def test_fall_summary_while_fallen() -> None:
    rule = FallRule(camera="hall")
    feed(rule, fall_frames([(2, WALK), (0.2, person(60)), (2, person(85, FALLEN_Y))], 25), 25)
    assert rule.summary()["fallen"] is True
    assert rule.summary()["fall"]["track"] == 1


# -- blink --------------------------------------------------------------------------------
def eyes(ear: float) -> EyeState:
    return EyeState(box=[100, 100, 120, 120], score=0.9, ear_left=ear, ear_right=ear)


def blink_frames(pieces: Sequence[tuple[float, Any]], fps: float, noise: float = 0.0) -> list[Any]:
    rng = random.Random(7)
    out = []
    for value in timeline(pieces, fps):
        if value == MISSING:
            out.append(None)
        elif value == NOBODY:
            out.append(BlinkObservation(()))
        else:
            out.append(BlinkObservation((eyes(value + rng.uniform(-noise, noise)),)))
    return out


OPEN, SHUT = 0.33, 0.12  # typical of the refined eye contour


@pytest.mark.parametrize(
    ("pieces", "noise", "expected"),
    [
        # expected: what the rule records (blinks and long closures), never events
        pytest.param([(2, OPEN), (0.15, SHUT), (2, OPEN)], 0.0, ["blink"], id="blink"),
        pytest.param(
            [(2, OPEN), (0.15, SHUT), (1, OPEN), (0.2, SHUT), (1, OPEN)],
            0.01,
            ["blink", "blink"],
            id="two-blinks-noisy",
        ),
        pytest.param([(2, OPEN), (3, SHUT), (2, OPEN)], 0.0, ["closure"], id="long-closure-once"),
        pytest.param(
            [(2, OPEN), (3, SHUT), (2, OPEN), (0.1, SHUT), (1, OPEN)],
            0.0,
            ["closure", "blink"],
            id="closure-then-blink",
        ),
        pytest.param(
            [(2, OPEN), (0.1, SHUT), (0.03, MISSING), (0.1, SHUT), (1, OPEN)],
            0.0,
            ["blink"],
            id="blink-across-a-missing-frame",
        ),
        pytest.param([(2, OPEN), (0.1, SHUT), (1, MISSING), (1, OPEN)], 0.0, [], id="closure-lost-in-a-gap"),
        pytest.param([(5, OPEN)], 0.02, [], id="open-with-noise"),
        pytest.param([(3, NOBODY)], 0.0, [], id="no-face"),
        pytest.param([(2, 0.45), (0.15, 0.20), (2, 0.45)], 0.0, ["blink"], id="wide-eyes-own-threshold"),
        pytest.param([(2, 0.33), (0.3, 0.26), (2, 0.33)], 0.0, [], id="squint-is-not-a-blink"),
    ],
)
def test_blink_rule(pieces: list[tuple[float, Any]], noise: float, expected: list[str]) -> None:
    fps = 30
    rule = BlinkRule(camera="desk")
    events = feed(rule, blink_frames(pieces, fps, noise), fps)
    assert [r.kind for r in rule.history] == expected
    # Blinks are never events; only a closure of 2 s or more is an incident (drowsy)
    assert all(e.kind == "drowsy" for e in events) and bool(events) == ("closure" in expected)


def test_blink_summary_counts_per_minute() -> None:
    fps = 30
    pieces: list[tuple[float, Any]] = []
    for _ in range(10):
        pieces += [(2.85, OPEN), (0.15, SHUT)]
    rule = BlinkRule(camera="desk")
    events = feed(rule, blink_frames(pieces + [(0.5, OPEN)], fps), fps)
    summary = rule.summary()
    assert events == [] and len(rule.history) == summary["blinks"] == 10
    assert summary["blinks_per_minute"] == pytest.approx(10 * 60 / 30.5, rel=0.1)


def test_blink_people_have_their_own_thresholds() -> None:
    # Given two faces, one with narrow eyes, the other blinking
    fps, rule = 30, BlinkRule(camera="desk")
    left = EyeState([0, 0, 100, 100], 0.9, 0.20, 0.20)
    frames = []
    for value in timeline([(2, OPEN), (0.15, SHUT), (1, OPEN)], fps):
        right = EyeState([400, 0, 100, 100], 0.9, value, value)
        frames.append(BlinkObservation((left, right)))
    # Then only the second person blinks, though the first one's eyes are always narrower
    assert feed(rule, frames, fps) == []
    assert [(r.kind, r.person) for r in rule.history] == [("blink", 2)]


# -- head pose ----------------------------------------------------------------------------
def pose_frames(values: Sequence[Any]) -> list[HeadPoseObservation | None]:
    out: list[HeadPoseObservation | None] = []
    for value in values:
        if value == MISSING:
            out.append(None)
        elif value == NOBODY:
            out.append(HeadPoseObservation(()))
        else:
            out.append(HeadPoseObservation((HeadPose([0, 0, 100, 100], 0.9, *value),)))
    return out


@pytest.mark.parametrize(
    ("values", "expected_yaw", "tolerance"),
    [
        pytest.param([(20.0, 0.0, 0.0)] * 30, 20.0, 0.01, id="steady"),
        pytest.param([(20.0 + (4 if i % 2 else -4), 0.0, 0.0) for i in range(30)], 20.0, 2.5, id="noisy"),
        pytest.param([(20.0, 0.0, 0.0)] * 10 + [MISSING] * 5, 20.0, 0.01, id="held-through-missing"),
        pytest.param([(20.0, 0.0, 0.0)] * 10 + [NOBODY] * 30, None, 0, id="dropped-without-face"),
    ],
)
def test_headpose_rule_smooths(values: list[Any], expected_yaw: float | None, tolerance: float) -> None:
    rule = HeadPoseRule(camera="desk")
    feed(rule, pose_frames(values), 30)
    yaw = rule.summary()["yaw"]
    if expected_yaw is None:
        assert yaw is None
    else:
        assert yaw == pytest.approx(expected_yaw, abs=tolerance)


def test_headpose_rule_roll_never_swings_through_zero() -> None:
    # Roll alternating around +-180 (the same physical angle) must stay near 180.
    rule = HeadPoseRule(camera="desk")
    rolls = []
    for seq, roll in enumerate([179.0, -179.0] * 10):
        rule.update(seq, seq / 30, HeadPoseObservation((HeadPose([0, 0, 9, 9], 0.9, 0.0, 0.0, roll),)))
        rolls.append(rule.summary()["roll"])
    assert all(abs(abs(r) - 180) < 3 for r in rolls)


@pytest.mark.parametrize(
    ("yaw", "seconds", "expected"),
    [(50.0, 3.0, [("new", "looking_away"), ("end", "looking_away")]), (50.0, 1.0, []), (10.0, 5.0, [])],
)
def test_headpose_looking_away(yaw: float, seconds: float, expected: list[tuple[str, str]]) -> None:
    values = [(0.0, 0.0, 0.0)] * 30 + [(yaw, 0.0, 0.0)] * round(seconds * 30) + [(0.0, 0.0, 0.0)] * 30
    events = feed(HeadPoseRule(camera="desk"), pose_frames(values), 30)
    assert lifecycle(events) == expected


# -- emotion ------------------------------------------------------------------------------
def expression(label: str, p: float = 0.8) -> FaceEmotion:
    rest = (1 - p) / (len(EMOTIONS) - 1)
    return FaceEmotion([0, 0, 100, 100], 0.9, {e: (p if e == label else rest) for e in EMOTIONS})


@pytest.mark.parametrize(
    ("labels", "expected_labels", "final"),
    [
        pytest.param(["happy"] * 20, ["happy"], "happy", id="steady"),
        pytest.param(["happy"] * 10 + ["fear"] + ["happy"] * 10, ["happy"], "happy", id="one-frame-glitch"),
        pytest.param(["neutral"] * 15 + ["happy"] * 15, ["neutral", "happy"], "happy", id="change"),
        pytest.param(["sad"] * 10 + [MISSING] * 5 + ["sad"] * 5, ["sad"], "sad", id="missing-frames"),
        pytest.param(["sad"] * 10 + [NOBODY] * 60, ["sad"], None, id="face-gone"),
    ],
)
def test_emotion_rule(labels: list[str], expected_labels: list[str], final: str | None) -> None:
    rule = EmotionRule(camera="desk")
    observations: list[EmotionObservation | None] = []
    for label in labels:
        if label == MISSING:
            observations.append(None)
        elif label == NOBODY:
            observations.append(EmotionObservation(()))
        else:
            # The glitch frame is a confident misreading; the smoothing must still hold.
            observations.append(EmotionObservation((expression(label, 0.6 if label == "fear" else 0.8),)))
    shown = []
    for seq, observation in enumerate(observations):
        assert rule.update(seq, seq / 30, observation) == []  # an expression is state, never an incident
        label = rule.summary()["label"]
        if label is not None and (not shown or shown[-1] != label):
            shown.append(label)
    assert shown == expected_labels
    assert rule.summary()["label"] == final


def test_rules_survive_only_missing_frames() -> None:
    for rule in (FallRule("c"), BlinkRule("c"), HeadPoseRule("c"), EmotionRule("c")):
        assert feed(rule, [None] * 50, 25) == []
        assert isinstance(rule.summary(), dict)


def test_events_are_plain_data() -> None:
    events = feed(
        FallRule(camera="hall"),
        fall_frames([(2, WALK), (0.2, person(60)), (2, person(85, FALLEN_Y))], 25),
        25,
    )
    data = json.loads(json.dumps(events[0].to_dict()))
    assert type(events[0]).from_dict(data) == events[0]
    assert not any(isinstance(v, float) and math.isnan(v) for v in data["details"].values())
