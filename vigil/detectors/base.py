"""The detector interface: per-frame detection, per-camera event rules, overlays.

A *detector* turns one decoded frame into an *observation* and keeps no state between
frames, so any worker can take any frame. An *event rule* is a small per-camera state
machine fed observations in frame order (the streamer runs it); it turns sequences
such as "upright, fast descent, lying" into *conditions* that hold while they last, and a
generic tracker (:mod:`vigil.detectors.lifecycle`) turns those into incident *events*
(``new``, ``update``, ``end``). Observations and events are plain dataclasses that convert
to and from dicts, so they travel as JSON or msgpack.
"""

from __future__ import annotations

import dataclasses
import hashlib
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


SEVERITIES = ("info", "warning", "critical")
EVENT_TYPES = ("new", "update", "end")


def severity_rank(severity: str) -> int:
    """Order of severities: info < warning < critical."""
    return SEVERITIES.index(severity)


@dataclasses.dataclass(frozen=True)
class Condition:
    """One incident a rule sees *now*: reported on every frame while it holds.

    A rule returns the conditions that hold after each frame; a condition that appears is an
    onset, one still there is ongoing (its severity, score and details may change), one that
    is gone has cleared. :class:`~vigil.detectors.lifecycle.IncidentTracker` turns that into
    ``new`` / ``update`` / ``end`` events.

    Attributes:
        kind: ``fall``, ``drowsy``, ``looking_away``, ``distress``...
        subject: whom it is about, stable within the rule (a track or person number).
        start_seq: onset frame (deterministic from the observations, so two streamers agree).
        start: capture time of that frame, epoch seconds.
        severity: ``info``, ``warning`` or ``critical``.
        score: the rule's confidence, 0..1.
        details: plain JSON values (durations, track id, angles...).
    """

    kind: str
    subject: int
    start_seq: int
    start: float
    severity: str = "warning"
    score: float = 1.0
    details: dict[str, Any] = dataclasses.field(default_factory=dict)


def event_id(camera: str, session: int, kind: str, start_seq: int) -> str:
    """The stable id of an incident: the same on every streamer that watches the same frames."""
    digest = hashlib.sha256(f"{camera}|{session}|{kind}|{start_seq}".encode()).hexdigest()
    return "evt_" + digest[:20]


@dataclasses.dataclass(frozen=True)
class Event:
    """One lifecycle message of an incident: ``new``, ``update`` or ``end`` (see docs/events.md).

    Attributes:
        id: stable incident id, :func:`event_id` of camera, session, kind and ``start_seq``.
        type: ``new`` when the rule fires, ``update`` when it changes, ``end`` when it cleared.
        camera: camera name.
        session: capture session of the frames (a restarted capture starts a new one).
        algorithm: the algorithm whose rule saw it (``fall``, ``blink``...).
        kind: what happened: ``fall``, ``drowsy``, ``looking_away``, ``distress``.
        severity: ``info``, ``warning`` or ``critical``.
        start_seq: onset frame; start: its capture time, epoch seconds.
        seq: frame of this message; time: its capture time.
        end: capture time the incident cleared (set on ``end``).
        score: the rule's confidence, 0..1.
        details: plain values the rule computed.
        snapshot: ``/events/<id>/snapshot.jpg`` once the stream side has one.
        clip: ``/events/<id>/clip.<ext>`` once the stream side wrote it.
    """

    id: str
    type: str
    camera: str
    session: int
    algorithm: str
    kind: str
    severity: str
    start_seq: int
    start: float
    seq: int
    time: float
    end: float | None = None
    score: float = 1.0
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    snapshot: str | None = None
    clip: str | None = None

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise ValueError(f"event type must be one of {EVENT_TYPES}, got {self.type!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        end, snapshot, clip = data.get("end"), data.get("snapshot"), data.get("clip")
        return cls(
            id=str(data["id"]),
            type=str(data["type"]),
            camera=str(data["camera"]),
            session=int(data["session"]),
            algorithm=str(data["algorithm"]),
            kind=str(data["kind"]),
            severity=str(data["severity"]),
            start_seq=int(data["start_seq"]),
            start=float(data["start"]),
            seq=int(data["seq"]),
            time=float(data["time"]),
            end=None if end is None else float(end),
            score=float(data.get("score", 1.0)),
            details=dict(data.get("details") or {}),
            snapshot=None if snapshot is None else str(snapshot),
            clip=None if clip is None else str(clip),
        )


@runtime_checkable
class EventRule(Protocol):
    """Per-camera temporal logic, fed observations in increasing frame order."""

    def update(self, seq: int, timestamp: float, observation: Observation | None) -> list[Condition]:
        """Feed one frame's observation (``None`` when its result never arrived).

        Returns the conditions that hold after this frame (often none): the same condition,
        same ``kind``, ``subject`` and ``start_seq``, on every frame while it lasts.
        """
        ...

    def summary(self) -> dict[str, Any]:
        """Current smoothed state for overlays and the API (e.g. blinks per minute)."""
        ...
