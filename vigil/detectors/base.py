"""The detector interface: per-frame detection, per-camera event rules, overlays.

A *detector* turns one decoded frame into an *observation* and keeps no state between
frames, so any worker can take any frame. An *event rule* is a small per-camera state
machine fed observations in frame order (the streamer runs it); it turns sequences
such as "upright, fast descent, lying" into events. Observations and events are plain
dataclasses that convert to and from dicts, so they travel as JSON or msgpack.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Observation(Protocol):
    """What a detector saw in one frame: plain values only."""

    def to_dict(self) -> dict[str, Any]: ...


@runtime_checkable
class Detector(Protocol):
    """Per-frame, stateless detection. ``name`` is the algorithm (= queue) name.

    The model is loaded in ``__init__``; the registry creates one instance per worker
    process, lazily, so a worker for one queue never loads another queue's model.
    """

    name: str

    def detect(self, image: np.ndarray) -> Observation:
        """Return the observation for one BGR uint8 image of shape (H, W, 3)."""
        ...


@dataclasses.dataclass(frozen=True)
class Event:
    """Something that happened on a camera, found by an event rule.

    Attributes:
        camera: camera name.
        algorithm: the algorithm whose rule raised it (``fall``, ``blink``...).
        kind: what happened, e.g. ``fall``, ``blink``, ``eyes_closed``.
        seq: frame number where the event starts.
        time: capture time of that frame, epoch seconds.
        details: plain values (confidence, duration, end frame...).
    """

    camera: str
    algorithm: str
    kind: str
    seq: int
    time: float
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        return cls(
            camera=str(data["camera"]),
            algorithm=str(data["algorithm"]),
            kind=str(data["kind"]),
            seq=int(data["seq"]),
            time=float(data["time"]),
            details=dict(data.get("details") or {}),
        )


@runtime_checkable
class EventRule(Protocol):
    """Per-camera temporal logic, fed observations in increasing frame order."""

    def update(self, seq: int, timestamp: float, observation: Observation | None) -> list[Event]:
        """Feed one frame's observation (``None`` when its result never arrived).

        Returns the events that this frame completes (often none).
        """
        ...

    def summary(self) -> dict[str, Any]:
        """Current smoothed state for overlays and the API (e.g. blinks per minute)."""
        ...
