"""What comes into the streamer: feed messages and results, joined under one lock.

The capture feed and the result listener run on their own threads and the
processing thread pops ready frames; the :class:`~vigil.stream.reassembly.Reassembler`
is pure and single-threaded, so every access to it goes through this one lock.
"""

from __future__ import annotations

import dataclasses
import threading

from vigil.messages import DetectionResult, FrameMessage, TaskRef, task_id
from vigil.stream.reassembly import JoinedFrame, Reassembler, ReassemblyCounters


class Ingest:
    """Thread-safe front of the reassembler.

    Args:
        deadline: seconds a frame waits for its missing results.
    """

    def __init__(self, deadline: float) -> None:
        self._reassembler = Reassembler(deadline)
        self._lock = threading.Lock()

    def add_frame(self, message: FrameMessage, now: float) -> None:
        with self._lock:
            self._reassembler.add_frame(message.frame, message.algorithms, now)

    def add_result(self, ref: TaskRef, result: DetectionResult, now: float) -> bool:
        """Returns False when the result came after its frame was emitted (late) or for an old session."""
        with self._lock:
            return self._reassembler.add_result(ref.camera, ref.session, ref.seq, ref.algorithm, result, now)

    def pop_ready(self, now: float) -> list[JoinedFrame]:
        with self._lock:
            return self._reassembler.pop_ready(now)

    def pending_task_ids(self) -> list[str]:
        """Task ids still awaited (for result sources that must poll)."""
        with self._lock:
            frames = self._reassembler.pending_frames()
            return [task_id(f.camera, f.session, f.seq, name) for f in frames for name in f.missing]

    def idle(self) -> bool:
        with self._lock:
            return self._reassembler.pending_count() == 0

    def counters(self) -> ReassemblyCounters:
        with self._lock:
            return dataclasses.replace(self._reassembler.counters)

