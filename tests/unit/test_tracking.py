"""The fall rule's tracker and camera-motion cue, fed synthetic detections and thumbnails."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from vigil.detectors.camera_motion import CameraMotion, changed_share, decode_thumbnail, thumbnail
from vigil.detectors.fall import FallObservation
from vigil.detectors.tracking import Tracker


@dataclasses.dataclass(frozen=True)
class Det:
    hips: list[float]
    score: float = 0.9
    radius: float = 100.0


def positions(start: float, step: float, frames: int, score: float = 0.9) -> list[Det]:
    return [Det([start + step * i, 200.0], score) for i in range(frames)]


@pytest.mark.parametrize(
    ("detections", "moving", "person"),
    [
        pytest.param(positions(300, 0.0, 100, 0.67), False, False, id="static-chair"),
        pytest.param(positions(300, 0.15, 100), False, False, id="jitter-0.15-radii"),
        pytest.param(positions(100, 3.0, 30), False, True, id="walks-0.9-radii"),
        pytest.param(
            positions(100, 0.0, 1) + positions(103, 3.0, 29, 0.4), False, False, id="weak-moves-prove-nothing"
        ),
        pytest.param(positions(100, 3.0, 30), True, False, id="moves-only-with-the-camera"),
    ],
)
def test_a_track_becomes_a_person_only_by_moving(detections: list[Det], moving: bool, person: bool) -> None:
    tracker = Tracker()
    for i, det in enumerate(detections):
        tracked = tracker.update([det], i / 25, camera_moving=moving)
    assert [track.person for track, _ in tracked] == [person]


def test_tracks_keep_their_ids_when_people_cross_paths_apart() -> None:
    tracker = Tracker()
    for i in range(20):
        tracked = tracker.update([Det([100.0 + 2 * i, 200.0]), Det([500.0 - 2 * i, 200.0])], i / 25)
    assert [(t.id, round(b.hips[0])) for t, b in tracked if b is not None] == [(1, 138), (2, 462)]


def test_a_weak_duplicate_does_not_steal_the_track() -> None:
    tracker = Tracker()
    tracker.update([Det([200.0, 200.0])], 0.0)
    tracked = tracker.update([Det([205.0, 200.0], 0.35), Det([240.0, 210.0], 0.9)], 0.04)
    assert [(t.id, b.score if b else None) for t, b in tracked] == [(1, 0.9)]


def test_unseen_tracks_are_dropped_after_lost_s() -> None:
    tracker = Tracker(lost_s=1.0)
    tracker.update([Det([200.0, 200.0])], 0.0)
    assert [b for _, b in tracker.update([], 0.9)] == [None]
    assert tracker.update([], 1.1) == []


def scene(shift: int) -> np.ndarray:
    blocks = np.random.default_rng(3).integers(0, 255, size=(12, 40), dtype=np.uint8)
    big = np.kron(blocks, np.ones((20, 20), dtype=np.uint8))
    return big[:, 400 - shift : 720 - shift]


@pytest.mark.parametrize(
    ("shift", "brighter", "moving"),
    [
        pytest.param(0, 0, False, id="still"),
        pytest.param(0, 40, False, id="exposure-step-is-not-motion"),
        pytest.param(40, 0, True, id="pan"),
    ],
)
def test_changed_share(shift: int, brighter: int, moving: bool) -> None:
    before = decode_thumbnail(thumbnail(scene(0)))
    after = decode_thumbnail(thumbnail(np.clip(scene(shift).astype(int) + brighter, 0, 255).astype(np.uint8)))
    assert before is not None and after is not None
    share = changed_share(before, after, np.ones(before.shape, dtype=bool))
    assert share is not None and (share >= 0.2) == moving


def test_camera_motion_needs_thumbnails_and_settles() -> None:
    motion = CameraMotion(lag_s=0.2, settle_s=0.5)
    assert not any(motion.update(i / 25, None, [], (320, 240)) for i in range(10))
    motion = CameraMotion(lag_s=0.2, settle_s=0.5)
    flags = [motion.update(i / 25, thumbnail(scene(8 * i if i < 20 else 160)), [], (320, 240)) for i in range(60)]
    assert not any(flags[:5]) and all(flags[6:20]) and not any(flags[40:])


def test_old_fall_observations_still_load() -> None:
    old = {"width": 640, "height": 480, "people": []}
    assert FallObservation.from_dict(old) == FallObservation(640, 480, (), None)
    assert decode_thumbnail("not a thumbnail") is None
