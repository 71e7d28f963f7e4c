"""The capture daemon's logic with stand-in sources and dispatchers: sampling, dropping, reopening."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from vigil.capture.daemon import CaptureDaemon
from vigil.capture.sources import is_live
from vigil.errors import BrokerUnavailableError, CaptureError
from vigil.messages import CameraState
from vigil.settings import Settings

SETTINGS = Settings.load(environ={"VIGIL_FRAME_WIDTH": "32"})


class FileLike:
    """A finite 'file' of ``count`` frames at ``fps``, each frame's pixels holding its index."""

    live = False

    def __init__(self, count: int, fps: float = 30.0) -> None:
        self.count, self._fps, self.index = count, fps, 0
        self.description = f"fake file of {count}"

    @property
    def fps(self) -> float:
        return self._fps

    def read(self):
        if self.index >= self.count:
            return None
        image = np.full((24, 32, 3), self.index % 256, np.uint8)
        self.index += 1
        return image

    def close(self) -> None:
        pass


class Recorder:
    """A dispatcher that records what it was asked to send, optionally slowly or failing."""

    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.delay, self.fail = delay, fail
        self.sent: list[int] = []
        self.statuses: list[dict] = []
        self.closed = False

    def connect(self) -> None:
        if self.fail:
            raise BrokerUnavailableError("cannot reach the broker: refused")

    def send(self, frame, algorithms, stats) -> None:
        time.sleep(self.delay)
        if self.fail:
            raise BrokerUnavailableError("cannot reach the broker: refused")
        self.sent.append(frame.seq)

    def send_status(self, camera, session, stats) -> None:
        self.statuses.append(stats.to_dict())

    def close(self) -> None:
        self.closed = True


def daemon(source_spec="clip.mp4", opener=None, dispatcher=None, **options) -> CaptureDaemon:
    return CaptureDaemon(camera="cam", source=source_spec, algorithms=("fall",), dispatcher=dispatcher or Recorder(),
                         settings=SETTINGS, opener=opener or (lambda spec: FileLike(30)), **options)


def test_fast_file_sends_every_frame_in_order():
    recorder = Recorder()
    stats = daemon(dispatcher=recorder, fast=True).run(threading.Event())
    assert recorder.sent == list(range(30))
    assert (stats.captured, stats.sent, stats.dropped, stats.state) == (30, 30, 0, CameraState.ENDED)
    assert recorder.closed


@pytest.mark.parametrize("fps, expected", [(15, 15), (10, 10), (30, 30), (60, 30)])
def test_fps_samples_the_file_by_its_own_clock(fps, expected):
    recorder = Recorder()
    daemon(dispatcher=recorder, fast=True, fps=fps).run(threading.Event())
    assert len(recorder.sent) == expected


def test_max_frames_stops_early_and_loop_replays():
    recorder = Recorder()
    daemon(dispatcher=recorder, fast=True, loop=True, max_frames=75).run(threading.Event())
    assert recorder.sent == list(range(75))


def test_a_slow_broker_drops_frames_instead_of_queueing_them():
    # Given a dispatcher that takes 50 ms a frame and a file played at 100 frames/s in real time
    recorder = Recorder(delay=0.05)
    stats = daemon(dispatcher=recorder, opener=lambda spec: FileLike(50, fps=100.0)).run(threading.Event())
    # Then frames were dropped, what was sent is in order, and nothing was lost silently
    assert stats.dropped > 0 and stats.sent == len(recorder.sent)
    assert stats.sent + stats.dropped == stats.captured == 50
    assert recorder.sent == sorted(recorder.sent)


def test_an_unreachable_broker_loses_frames_but_not_the_daemon():
    stats = daemon(dispatcher=Recorder(fail=True), fast=True).run(threading.Event())
    assert (stats.sent, stats.dropped, stats.state) == (0, 30, CameraState.ENDED)


def test_a_missing_file_fails_at_once():
    def missing(spec):
        raise CaptureError(f"video file {spec!r} does not exist")

    with pytest.raises(CaptureError, match="does not exist"):
        daemon(opener=missing).run(threading.Event())


def test_a_live_camera_is_reopened_with_backoff_then_given_up(monkeypatch):
    monkeypatch.setattr("vigil.capture.daemon.BACKOFF_INITIAL", 0.01)
    attempts = []

    def unreachable(spec):
        attempts.append(time.monotonic())
        raise CaptureError(f"cannot open stream {spec}")

    recorder = Recorder()
    capture = daemon("rtsp://10.0.0.9/x", opener=unreachable, dispatcher=recorder, reconnect_timeout=0.2)
    with pytest.raises(CaptureError, match="gave up after"):
        capture.run(threading.Event())
    gaps = np.diff(attempts)
    # Delays double (0.01, 0.02, 0.04 s..., each jittered down to half): the longest gap is well above
    # the first. Not the last gap: the last sleep is cut short at the give-up deadline.
    assert len(attempts) >= 3 and max(gaps) > 2 * gaps[0]
    assert capture.stats.state == CameraState.FAILED
    assert any(status["state"] == CameraState.RECONNECTING for status in recorder.statuses)


def test_stop_event_ends_a_looping_capture():
    stop = threading.Event()
    capture = daemon(loop=True)
    thread = threading.Thread(target=capture.run, args=(stop,))
    thread.start()
    time.sleep(0.3)
    stop.set()
    thread.join(5)
    assert not thread.is_alive() and capture.stats.state == CameraState.STOPPED


@pytest.mark.parametrize("spec, live", [("0", True), ("rtsp://cam/s", True), ("HTTP://cam/mjpg", True),
                                        ("clip.mp4", False), ("synthetic", False)])
def test_which_sources_are_live(spec, live):
    assert is_live(spec) is live
