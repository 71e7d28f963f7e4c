"""Joining every algorithm's result for the same frame, and emitting frames in order.

Pure logic, no I/O: the streamer feeds it frames (from the capture feed) and results
(from the result backend), in whatever order they arrive, and asks it which frames
are ready. Per camera, frames come out in increasing ``seq`` order, each carrying only
its own results. A frame waits for its results until:

- all of them arrived (complete), or
- ``deadline`` seconds passed since it arrived (incomplete), or
- every missing algorithm already delivered a result for a *later* frame and the frame
  waited at least ``overtake_grace``: queues are FIFO, so an overtaken result was
  almost surely dropped by a bounded queue, and waiting the full deadline would only
  delay the live view.

Results that arrive after their frame was emitted are counted as late and dropped.
A new capture ``session`` (a restarted daemon, whose seq starts again) resets the camera; only a
frame starts a new session, a result of another session is dropped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from vigil.frames import Frame
from vigil.messages import DetectionResult

DEFAULT_OVERTAKE_GRACE = 0.25
EARLY_RESULT_TTL = 10.0  # results whose frame never reaches us are forgotten after this


@dataclasses.dataclass
class JoinedFrame:
    """A frame with the results that arrived for it."""

    frame: Frame
    expected: tuple[str, ...]
    arrived_at: float
    results: dict[str, DetectionResult] = dataclasses.field(default_factory=dict)
    emitted_at: float | None = None

    @property
    def camera(self) -> str:
        return self.frame.camera

    @property
    def session(self) -> int:
        return self.frame.session

    @property
    def seq(self) -> int:
        return self.frame.seq

    @property
    def captured_at(self) -> float:
        return self.frame.captured_at

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(name for name in self.expected if name not in self.results)

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def latency(self) -> float:
        """Capture to emission (or to arrival, while the frame still waits)."""
        return (self.emitted_at or self.arrived_at) - self.captured_at


@dataclasses.dataclass
class ReassemblyCounters:
    frames_in: int = 0
    emitted_complete: int = 0
    emitted_incomplete: int = 0
    late_results: int = 0
    stale_frames: int = 0
    orphan_results: int = 0


class _Camera:
    def __init__(self, session: int) -> None:
        self.session = session
        self.pending: dict[int, JoinedFrame] = {}
        self.early: dict[int, tuple[float, dict[str, DetectionResult]]] = {}
        self.last_emitted = -1
        self.newest_result: dict[str, int] = {}


class Reassembler:
    """Per-camera join and reorder buffer.

    Args:
        deadline: seconds a frame waits for missing results.
        overtake_grace: seconds a frame waits once its missing results were overtaken.
    """

    def __init__(self, deadline: float, overtake_grace: float = DEFAULT_OVERTAKE_GRACE) -> None:
        self.deadline = deadline
        self.overtake_grace = min(overtake_grace, deadline)
        self.counters = ReassemblyCounters()
        self.late_by_algorithm: dict[tuple[str, str], int] = {}
        self._cameras: dict[str, _Camera] = {}

    def add_frame(self, frame: Frame, algorithms: Iterable[str], now: float) -> None:
        """A frame from the feed, to be joined with ``algorithms``' results."""
        camera = self._camera(frame.camera, frame.session)
        if camera is None:
            return
        if frame.seq <= camera.last_emitted or frame.seq in camera.pending:
            self.counters.stale_frames += 1
            return
        joined = JoinedFrame(frame=frame, expected=tuple(algorithms), arrived_at=now)
        early = camera.early.pop(frame.seq, None)
        if early:
            joined.results.update({k: v for k, v in early[1].items() if k in joined.expected})
        camera.pending[frame.seq] = joined
        self.counters.frames_in += 1

    def add_result(self, camera_name: str, session: int, seq: int, algorithm: str,
                   result: DetectionResult, now: float) -> bool:
        """A result from the backend. Returns False if it was late or stale and dropped.

        Only a frame starts a new session: a result for another session than the camera's (an
        older run, or a forged id) is dropped instead of resetting the camera.
        """
        camera = self._cameras.get(camera_name)
        if camera is None:
            camera = self._cameras[camera_name] = _Camera(session)
        elif session != camera.session:
            self.counters.orphan_results += 1
            return False
        if seq <= camera.last_emitted:
            self.counters.late_results += 1
            key = (camera_name, algorithm)
            self.late_by_algorithm[key] = self.late_by_algorithm.get(key, 0) + 1
            return False
        camera.newest_result[algorithm] = max(camera.newest_result.get(algorithm, -1), seq)
        frame = camera.pending.get(seq)
        if frame is None:
            camera.early.setdefault(seq, (now, {}))[1][algorithm] = result
            return True
        if algorithm in frame.expected:
            frame.results[algorithm] = result
        return True

    def pop_ready(self, now: float) -> list[JoinedFrame]:
        """Frames ready to emit, per camera in increasing seq order."""
        ready: list[JoinedFrame] = []
        for camera in self._cameras.values():
            while camera.pending:
                seq = min(camera.pending)
                frame = camera.pending[seq]
                if not self._is_ready(camera, frame, now):
                    break
                del camera.pending[seq]
                camera.last_emitted = seq
                frame.emitted_at = now
                if frame.complete:
                    self.counters.emitted_complete += 1
                else:
                    self.counters.emitted_incomplete += 1
                ready.append(frame)
            self._forget_early(camera, now)
        return ready

    def pending_frames(self) -> list[JoinedFrame]:
        return [frame for camera in self._cameras.values() for frame in camera.pending.values()]

    def pending_count(self) -> int:
        return sum(len(camera.pending) for camera in self._cameras.values())

    def _is_ready(self, camera: _Camera, frame: JoinedFrame, now: float) -> bool:
        missing = frame.missing
        if not missing:
            return True
        waited = now - frame.arrived_at
        if waited >= self.deadline:
            return True
        overtaken = all(camera.newest_result.get(name, -1) > frame.seq for name in missing)
        return overtaken and waited >= self.overtake_grace

    def _camera(self, name: str, session: int) -> _Camera | None:
        camera = self._cameras.get(name)
        if camera is None or session > camera.session:
            camera = self._cameras[name] = _Camera(session)
        elif session < camera.session:
            return None  # from a previous run of this camera's daemon
        return camera

    def _forget_early(self, camera: _Camera, now: float) -> None:
        for seq in [s for s, (t, _) in camera.early.items() if s <= camera.last_emitted or now - t > EARLY_RESULT_TTL]:
            del camera.early[seq]
            self.counters.orphan_results += 1
