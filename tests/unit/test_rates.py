"""Each algorithm at its own rate, chosen by time; what the capture daemon sends with it."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from tests.unit.test_capture import SETTINGS, FileLike
from vigil.capture.daemon import CaptureDaemon
from vigil.capture.motion import MotionGate
from vigil.rates import RateSchedule, sampled_frames


@pytest.mark.parametrize(
    "fps, rate, frames, expected",
    [
        (15, 5, 9, [0, 3, 6]),  # a 15 fps camera with fall = 5: every 3rd frame
        (30, 10, 12, [0, 3, 6, 9]),
        (25, 10, 10, [0, 3, 5, 8]),  # 2.5 frames a period: 3, 2, 3, 2... still 10 a second
        (10, 15, 4, [0, 1, 2, 3]),  # a rate above the camera's: every frame
        (15, None, 4, [0, 1, 2, 3]),  # no rate: every frame
    ],
)
def test_which_frames_an_algorithm_runs_on(fps, rate, frames, expected):
    assert [i for i, sent in enumerate(sampled_frames(frames, fps, rate)) if sent] == expected


def test_rates_hold_by_time_when_the_source_rate_changes():
    # Given fall at 5/s and blink at 15/s on a source that drops from 30 to 10 fps after 2 s
    schedule = RateSchedule({"fall": 5, "blink": 15})
    times = [i / 30 for i in range(60)] + [2 + i / 10 for i in range(20)]
    asked = [schedule.due(t) for t in times]
    # Then each algorithm keeps its own rate in both halves (within one frame)
    for name, rate in (("fall", 5), ("blink", 15)):
        first = sum(name in a for a, t in zip(asked, times, strict=True) if t < 2)
        second = sum(name in a for a, t in zip(asked, times, strict=True) if t >= 2)
        assert first == 2 * rate, name
        assert second == 2 * min(rate, 10), name


def test_a_bad_rate_is_refused():
    with pytest.raises(ValueError, match="rate of 'fall' must be > 0"):
        RateSchedule({"fall": 0})


class AskedRecorder:
    def __init__(self) -> None:
        self.asked: list[tuple[int, tuple[str, ...]]] = []
        self.masks: list[tuple] = []

    def connect(self) -> None: ...

    def send(self, frame, algorithms, stats) -> None:
        self.asked.append((frame.seq, tuple(algorithms)))
        self.masks.append(frame.masks)

    def send_status(self, camera, session, stats) -> None: ...

    def close(self) -> None: ...


def test_the_daemon_sends_each_algorithm_at_its_rate_and_every_frame_to_viewers():
    recorder = AskedRecorder()
    daemon = CaptureDaemon(camera="cam", source="clip.mp4", algorithms=(), dispatcher=recorder, settings=SETTINGS,
                           opener=lambda spec: FileLike(15, fps=15), fast=True,
                           rates={"fall": 5, "blink": None}, masks=[[(0, 0), (0.5, 0), (0.5, 0.5)]])
    daemon.run(threading.Event())
    assert [seq for seq, _ in recorder.asked] == list(range(15))  # every frame goes out
    assert [seq for seq, names in recorder.asked if "fall" in names] == [0, 3, 6, 9, 12]
    assert all("blink" in names for _, names in recorder.asked)
    assert recorder.masks[0] == (((0.0, 0.0), (0.5, 0.0), (0.5, 0.5)),)


class StillThenMoving(FileLike):
    """Gray frames: still for the first ``still`` frames, then changing every frame."""

    def __init__(self, count: int, still: int) -> None:
        super().__init__(count, fps=10)
        self.still = still

    def read(self):
        if self.index >= self.count:
            return None
        value = 0 if self.index < self.still else (self.index * 40) % 256
        self.index += 1
        return np.full((36, 64, 3), value, np.uint8)


def test_motion_gating_skips_detection_on_still_frames_only():
    recorder = AskedRecorder()
    daemon = CaptureDaemon(camera="cam", source="clip.mp4", algorithms=("fall",), dispatcher=recorder,
                           settings=SETTINGS, opener=lambda spec: StillThenMoving(60, still=40), fast=True,
                           motion=MotionGate(threshold=2.0, hold_s=1.0))
    stats = daemon.run(threading.Event())
    asked = dict(recorder.asked)
    assert len(asked) == 60  # every frame still reaches the streamers
    # The first frame has no reference; then 1 s (hold_s) of assumed motion; then still until 4.0 s
    gated = [seq for seq, names in asked.items() if not names]
    assert gated == list(range(11, 40))
    assert stats.gated == len(gated)
    assert all(asked[seq] == ("fall",) for seq in range(40, 60))
