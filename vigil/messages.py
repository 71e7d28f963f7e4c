"""Every cross-process format except the frame itself (that is :mod:`vigil.frames`).

Producers and consumers both import this module and never each other: the capture
daemon builds feed messages and task ids, workers build :class:`DetectionResult`,
the streamer parses all three. Everything here is plain data that travels as
msgpack or JSON, never pickle.

- **Task id** ``vigil.<camera>.<session>.<seq>.<algorithm>``: one algorithm on one
  frame. The streamer derives the frame and algorithm of a result from its id alone.
- **Feed messages** on the ``vigil.frames`` fanout: ``{"kind": "frame", "frame":
  <frame payload>, "algorithms": [...], "stats": <capture stats>}`` for each frame
  sent, ``{"kind": "status", "camera": ..., "session": ..., "stats": ...}`` every
  second, even when no frame flows.
- **Capture stats**: one camera's counters and state (:class:`CaptureStats`).
- **Detection result**: what a task returns (:class:`DetectionResult`).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from vigil.errors import MessageError
from vigil.frames import CAMERA_NAME_PATTERN, Frame, check_camera_name
from vigil.redact import redact

TASK_ID_PREFIX = "vigil"
_TASK_ID = re.compile(
    rf"{TASK_ID_PREFIX}\.(?P<camera>{CAMERA_NAME_PATTERN.pattern})\.(?P<session>[0-9]{{1,20}})"
    r"\.(?P<seq>[0-9]{1,20})\.(?P<algorithm>[A-Za-z_][A-Za-z0-9_]{0,63})"
)


# -- task ids ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TaskRef:
    """Which frame and algorithm a task (and its result) belongs to."""

    camera: str
    session: int
    seq: int
    algorithm: str

    @property
    def task_id(self) -> str:
        return task_id(self.camera, self.session, self.seq, self.algorithm)


def task_id(camera: str, session: int, seq: int, algorithm: str) -> str:
    """The task id of one algorithm on one frame; :func:`parse_task_id` reverses it."""
    return f"{TASK_ID_PREFIX}.{camera}.{session}.{seq}.{algorithm}"


def parse_task_id(text: str) -> TaskRef | None:
    """The :class:`TaskRef` of a Vigil task id, or ``None`` for anything else.

    Camera and algorithm names never contain dots, so the id splits unambiguously;
    anything else (another application's task, a forged id with a newline) is refused.
    """
    match = _TASK_ID.fullmatch(text)
    if match is None:
        return None
    return TaskRef(match["camera"], int(match["session"]), int(match["seq"]), match["algorithm"])


# -- capture stats -----------------------------------------------------------------------


class CameraState:
    """What a capture daemon is doing with its source."""

    CONNECTING = "connecting"
    STREAMING = "streaming"
    RECONNECTING = "reconnecting"
    ENDED = "ended"
    FAILED = "failed"
    STOPPED = "stopped"

    ALL = (CONNECTING, STREAMING, RECONNECTING, ENDED, FAILED, STOPPED)


@dataclasses.dataclass
class CaptureStats:
    """Counters of one camera, sent to the streamers with every frame and status."""

    camera: str
    state: str = CameraState.CONNECTING
    captured: int = 0
    sent: int = 0
    dropped: int = 0
    reconnects: int = 0
    gated: int = 0  # frames sent for viewers only: motion gating found the scene still
    source: str = ""
    error: str = ""

    COUNTERS = ("captured", "sent", "dropped", "reconnects", "gated")

    def to_dict(self) -> dict[str, Any]:
        """The stats as plain data; a password in the source or error text is masked (vigil.redact)."""
        data = dataclasses.asdict(self)
        data["source"], data["error"] = redact(self.source), redact(self.error)
        return data

    @classmethod
    def from_dict(cls, data: Any, camera: str) -> CaptureStats:
        """Validate stats from the wire; fields a producer did not send keep their defaults.

        Raises:
            MessageError: a field has the wrong type, or the state is unknown.
        """
        if not isinstance(data, Mapping):
            raise MessageError(f"capture stats must be a map, got {type(data).__name__}")
        stats = cls(camera=camera)
        try:
            for name in cls.COUNTERS:
                if name in data:
                    value = int(data[name])
                    if value < 0:
                        raise ValueError(f"{name} must be >= 0")
                    setattr(stats, name, value)
            for name in ("source", "error"):
                if name in data:
                    setattr(stats, name, redact(str(data[name])))  # whatever an older producer sent
        except (TypeError, ValueError, OverflowError) as exc:
            raise MessageError(f"bad capture stats for camera {camera!r}: {exc}") from None
        state = data.get("state", stats.state)
        if state not in CameraState.ALL:
            raise MessageError(f"bad capture stats for camera {camera!r}: unknown state {state!r}")
        stats.state = state
        return stats


# -- feed messages -----------------------------------------------------------------------

KIND_FRAME = "frame"
KIND_STATUS = "status"


@dataclasses.dataclass(frozen=True)
class FrameMessage:
    """A frame sent to the workers, as the streamers receive it."""

    frame: Frame
    algorithms: tuple[str, ...]
    stats: CaptureStats


@dataclasses.dataclass(frozen=True)
class StatusMessage:
    """A camera's periodic report, sent even when no frame flows."""

    camera: str
    session: int
    stats: CaptureStats


def frame_message(payload: dict[str, Any], algorithms: Sequence[str], stats: CaptureStats) -> dict[str, Any]:
    """The feed message of a frame whose payload (``Frame.to_payload()``) is already built."""
    return {"kind": KIND_FRAME, "frame": payload, "algorithms": list(algorithms), "stats": stats.to_dict()}


def status_message(camera: str, session: int, stats: CaptureStats) -> dict[str, Any]:
    return {"kind": KIND_STATUS, "camera": camera, "session": session, "stats": stats.to_dict()}


def parse_feed_message(message: Any, max_bytes: int) -> FrameMessage | StatusMessage:
    """Validate a feed message from the broker.

    Raises:
        MessageError: not a feed message, or a field is missing or malformed.
        FrameError: the frame payload is malformed or over ``max_bytes``.
    """
    if not isinstance(message, Mapping):
        raise MessageError(f"a feed message must be a map, got {type(message).__name__}")
    kind = message.get("kind")
    if kind == KIND_FRAME:
        frame = Frame.from_payload(message.get("frame"), max_bytes)
        check_camera_name(frame.camera)
        algorithms = message.get("algorithms", ())
        if not isinstance(algorithms, (list, tuple)) or not all(isinstance(a, str) for a in algorithms):
            raise MessageError(f"frame {frame.camera}#{frame.seq}: 'algorithms' must be a list of names")
        stats = CaptureStats.from_dict(message.get("stats") or {}, frame.camera)
        return FrameMessage(frame, tuple(algorithms), stats)
    if kind == KIND_STATUS:
        try:
            camera = check_camera_name(str(message["camera"]))
            session = int(message["session"])
        except KeyError as exc:
            raise MessageError(f"status message without {exc.args[0]!r}") from None
        except (TypeError, ValueError, OverflowError) as exc:
            raise MessageError(f"malformed status message: {exc}") from None
        return StatusMessage(camera, session, CaptureStats.from_dict(message.get("stats") or {}, camera))
    raise MessageError(f"unknown feed message kind {kind!r}")


# -- detection results -------------------------------------------------------------------

STATUS_OK = "ok"
STATUS_ERROR = "error"
STATUS_EXPIRED = "expired"
RESULT_STATUSES = (STATUS_OK, STATUS_ERROR, STATUS_EXPIRED)


@dataclasses.dataclass(frozen=True)
class DetectionResult:
    """One algorithm's result on one frame: what a task returns and the streamer joins.

    Attributes:
        camera, session, seq: the frame.
        algorithm: the algorithm (= queue) that was asked.
        detector: what actually ran: the algorithm, or a synthetic benchmark stand-in
            (``null``, ``busy:5``...) whose observation no rule understands.
        status: ``ok``, ``error`` (bad frame, failing detector) or ``expired`` (the
            frame went stale before a worker took it).
        error: why, when the status is not ``ok``.
        observation: the detector's observation as a dict, when ``ok``.
        captured_at, started_at, finished_at: epoch seconds (``None`` when unknown).
        timings: seconds spent per step (``queue_wait``, ``decode``, ``load``, ``detect``; a face algorithm
            also ``faces``: the part of ``detect`` spent finding the faces or waiting for them).
    """

    camera: str
    session: int | None
    seq: int | None
    algorithm: str
    status: str
    detector: str = ""
    error: str | None = None
    observation: dict[str, Any] | None = None
    captured_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    timings: dict[str, float] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in RESULT_STATUSES:
            raise MessageError(f"result status must be one of {', '.join(RESULT_STATUSES)}, got {self.status!r}")
        if self.status == STATUS_OK and not isinstance(self.observation, dict):
            raise MessageError(f"{self.label}: an ok result needs an observation map")
        if self.status != STATUS_OK and not self.error:
            raise MessageError(f"{self.label}: a {self.status} result needs an error message")
        if not self.detector:
            object.__setattr__(self, "detector", self.algorithm)

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    @property
    def synthetic(self) -> bool:
        """A benchmark stand-in ran instead of the algorithm's detector: no rule or overlay applies."""
        return self.detector != self.algorithm

    @property
    def label(self) -> str:
        return f"{self.algorithm} on {self.camera}#{self.seq}"

    @classmethod
    def failed(cls, ref: TaskRef | None, algorithm: str, error: str, *, status: str = STATUS_ERROR,
               **fields: Any) -> DetectionResult:
        """An error (or expired) result for ``ref``'s frame."""
        return cls(
            camera=ref.camera if ref else "?", session=ref.session if ref else None,
            seq=ref.seq if ref else None, algorithm=algorithm, status=status, error=error, **fields,
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> DetectionResult:
        """Validate a result from the wire.

        Raises:
            MessageError: a field is missing or has the wrong type.
        """
        if not isinstance(data, Mapping):
            raise MessageError(f"a detection result must be a map, got {type(data).__name__}")
        try:
            timings = data.get("timings") or {}
            if not isinstance(timings, Mapping):
                raise TypeError("'timings' must be a map")
            observation = data.get("observation")
            if observation is not None and not isinstance(observation, dict):
                raise TypeError("'observation' must be a map")
            return cls(
                camera=str(data["camera"]),
                session=_optional(int, data.get("session")),
                seq=_optional(int, data.get("seq")),
                algorithm=str(data["algorithm"]),
                status=str(data["status"]),
                detector=str(data.get("detector") or ""),
                error=_optional(str, data.get("error")),
                observation=observation,
                captured_at=_optional(float, data.get("captured_at")),
                started_at=_optional(float, data.get("started_at")),
                finished_at=_optional(float, data.get("finished_at")),
                timings={str(k): _finite(v) for k, v in timings.items()},
            )
        except KeyError as exc:
            raise MessageError(f"detection result without {exc.args[0]!r}") from None
        except (TypeError, ValueError, OverflowError) as exc:
            raise MessageError(f"malformed detection result: {exc}") from None


def _optional(kind: type, value: Any) -> Any:
    return None if value is None else kind(value)


def _finite(value: Any) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"timing {value!r} is not a finite number")
    return number
