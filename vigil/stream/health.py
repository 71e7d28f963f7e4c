"""Whether the streamer is really working, and why not: what ``/healthz`` and ``vigil_healthy`` say.

:func:`evaluate` is pure: it takes a :class:`HealthInputs` snapshot and returns a
:class:`Health` (status, human reasons, machine-readable checks). The streamer is
degraded when any of these holds:

- an input (the capture feed, the result listener) is not connected;
- an algorithm the cameras ask for has no consumer on its queue (no worker runs it), or the
  broker cannot be asked;
- a camera is not streaming (connecting, reconnecting, failed, stopped);
- more than ``health_max_incomplete`` of the last minute's frames went out with results missing;
- a streamer thread died, or recording stopped (a full disk, a read-only path).

:class:`FrameWindow` keeps the last minute's complete/incomplete counts for the third check.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from vigil.messages import CameraState
from vigil.queues import QueueDepth

WINDOW_SECONDS = 60.0
MIN_FRAMES_TO_JUDGE = 10  # fewer frames than this in the window say nothing about the share
HEALTHY_CAMERA_STATES = frozenset({CameraState.STREAMING, CameraState.ENDED})


@dataclasses.dataclass(frozen=True)
class HealthInputs:
    """Everything :func:`evaluate` looks at, read at one moment.

    Attributes:
        inputs: connection state of each streamer input, e.g. ``{"feed": True, "results": True}``.
        algorithms: algorithms whose queues must have a consumer (those the cameras ask for).
        queues: each queue's depth and consumers; ``None`` when the broker did not answer.
        queues_probed: ``False`` when no broker is asked (embedded mode: workers run in-process).
        cameras: each camera's capture state (``CameraState``) and its last error.
        frames: (emitted, incomplete) in the last ``WINDOW_SECONDS``.
        max_incomplete: largest healthy share of incomplete frames.
        faults: things that broke for good, by name (a dead thread, recording stopped).
    """

    inputs: Mapping[str, bool]
    algorithms: tuple[str, ...] = ()
    queues: Mapping[str, QueueDepth] | None = None
    queues_probed: bool = False
    cameras: Mapping[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
    frames: tuple[int, int] = (0, 0)
    max_incomplete: float = 0.2
    faults: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Health:
    status: str  # "ok" | "degraded"
    reasons: tuple[str, ...]
    checks: dict[str, Any]

    @property
    def healthy(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reasons": list(self.reasons), "checks": self.checks}


def evaluate(given: HealthInputs) -> Health:
    """The streamer's health from one snapshot of its state (pure: no I/O)."""
    reasons: list[str] = []
    checks: dict[str, Any] = {}

    checks["inputs"] = dict(given.inputs)
    for name, connected in sorted(given.inputs.items()):
        if not connected:
            reasons.append(f"the {_INPUT_NAMES.get(name, name)} is not connected")

    if given.queues_probed:
        queue_checks: dict[str, Any] = {}
        if given.queues is None:
            reasons.append("the broker did not answer the queue probe: cannot tell whether workers run")
        else:
            for algorithm in given.algorithms:
                depth = given.queues.get(algorithm)
                consumers = 0 if depth is None else depth.consumers
                queue_checks[algorithm] = {"consumers": consumers, "messages": 0 if depth is None else depth.messages}
                if consumers == 0:
                    reasons.append(f"no worker consumes the {algorithm!r} queue: {algorithm} results will be "
                                   f"missing (start `celery -A vigil worker -Q {algorithm}`)")
        checks["queues"] = {"reachable": given.queues is not None, "algorithms": queue_checks}

    checks["cameras"] = {}
    for camera, (state, error) in sorted(given.cameras.items()):
        checks["cameras"][camera] = {"state": state, "error": error or None}
        if state not in HEALTHY_CAMERA_STATES:
            detail = f": {error}" if error else ""
            reasons.append(f"camera {camera!r} is {state}{detail}")

    emitted, incomplete = given.frames
    share = incomplete / emitted if emitted else 0.0
    checks["frames"] = {"window_s": WINDOW_SECONDS, "emitted": emitted, "incomplete": incomplete,
                        "incomplete_share": round(share, 4), "max_incomplete": given.max_incomplete}
    if emitted >= MIN_FRAMES_TO_JUDGE and share > given.max_incomplete:
        reasons.append(f"{share:.0%} of the last minute's {emitted} frames went out with results missing "
                       f"(more than {given.max_incomplete:.0%}): workers are too few, too slow or absent")

    checks["faults"] = dict(given.faults)
    for _name, message in sorted(given.faults.items()):
        reasons.append(message)

    return Health("degraded" if reasons else "ok", tuple(reasons), checks)


_INPUT_NAMES = {"feed": "capture feed (RabbitMQ)", "results": "result listener (Redis)"}


class FrameWindow:
    """Counts of emitted and incomplete frames in the last ``seconds`` (per-second buckets, bounded)."""

    def __init__(self, seconds: float = WINDOW_SECONDS) -> None:
        self.seconds = seconds
        self._buckets: deque[list[int]] = deque()  # [second, emitted, incomplete]
        self._lock = threading.Lock()

    def add(self, complete: bool, now: float | None = None) -> None:
        second = int(time.monotonic() if now is None else now)
        with self._lock:
            if not self._buckets or self._buckets[-1][0] != second:
                self._buckets.append([second, 0, 0])
                self._trim(second)
            bucket = self._buckets[-1]
            bucket[1] += 1
            bucket[2] += 0 if complete else 1

    def counts(self, now: float | None = None) -> tuple[int, int]:
        """(emitted, incomplete) in the window ending ``now``."""
        second = int(time.monotonic() if now is None else now)
        with self._lock:
            self._trim(second)
            return sum(b[1] for b in self._buckets), sum(b[2] for b in self._buckets)

    def _trim(self, second: int) -> None:
        while self._buckets and self._buckets[0][0] <= second - self.seconds:
            self._buckets.popleft()


def requested_algorithms(recent: Iterable[str], configured: tuple[str, ...]) -> tuple[str, ...]:
    """The algorithms whose workers must exist: those frames asked for lately, else the configured ones."""
    seen = tuple(dict.fromkeys(recent))
    return seen or configured
