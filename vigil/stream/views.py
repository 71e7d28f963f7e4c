"""Per-camera live views: the latest joined frame, its annotated JPEG, the capture counters.

The processing thread updates a view once per emitted frame; HTTP handlers read it
from the event loop. A view encodes its annotated JPEG at most once per frame, for
any number of viewers. An algorithm that runs at a lower rate than the camera sends
frames keeps its last overlay for up to ``HOLD_S`` on the frames that did not ask for it,
so the live view does not flicker. With ``draw_zones`` on, the camera's zones and masks
are drawn too.
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

from vigil.detectors.base import Observation
from vigil.messages import CaptureStats
from vigil.stream.overlay import annotate
from vigil.stream.reassembly import JoinedFrame
from vigil.stream.zones import Polygon, Zone

HOLD_S = 1.0


@dataclasses.dataclass(frozen=True)
class AnnotatedFrame:
    """An encoded annotated frame and what was drawn on it."""

    version: int
    seq: int
    jpeg: bytes
    overlays: dict[str, int]  # algorithm -> seq of the result drawn (always this frame's)


class CameraView:
    """The latest joined frame of one camera; its annotated JPEG is encoded at most once."""

    def __init__(self, name: str, quality: int) -> None:
        self.name = name
        self.quality = quality
        self.version = 0
        self.frame: JoinedFrame | None = None
        self.observations: dict[str, Observation | None] = {}
        self.summaries: dict[str, dict[str, Any]] = {}
        self.capture_stats: CaptureStats | None = None
        self.viewers = 0
        self.regions: tuple[tuple[Zone, ...], tuple[Polygon, ...]] | None = None  # drawn when set
        self._held: dict[str, tuple[float, Observation | None, dict[str, Any]]] = {}
        self._annotated: AnnotatedFrame | None = None
        self._lock = threading.Lock()

    def update(self, frame: JoinedFrame, observations: dict[str, Observation | None],
               summaries: dict[str, dict[str, Any]]) -> None:
        with self._lock:
            for algorithm in frame.expected:
                self._held[algorithm] = (frame.captured_at, observations.get(algorithm), summaries.get(algorithm, {}))
            recent = {name: held for name, held in self._held.items() if frame.captured_at - held[0] <= HOLD_S}
            self.frame = frame
            self.observations = {name: held[1] for name, held in recent.items()}
            self.summaries = {name: held[2] for name, held in recent.items()}
            self.version += 1

    def annotated(self) -> AnnotatedFrame | None:
        """The latest frame with overlays; encoded at most once per frame."""
        with self._lock:
            version, frame = self.version, self.frame
            observations, summaries = self.observations, self.summaries
            cached = self._annotated
        if frame is None:
            return None
        if cached is not None and cached.version == version:
            return cached
        jpeg = annotate(frame, observations, summaries, self.quality, self.regions)
        overlays = {name: -1 if result.seq is None else result.seq for name, result in frame.results.items()}
        with self._lock:
            if self._annotated is None or self._annotated.version < version:
                self._annotated = AnnotatedFrame(version, frame.seq, jpeg, overlays)
            return self._annotated

    def results(self) -> dict[str, Any]:
        """The latest joined results as JSON-able data."""
        with self._lock:
            frame, summaries = self.frame, self.summaries
        if frame is None:
            return {"camera": self.name, "frame": None}
        return {"camera": self.name, "frame": frame_record(frame), "summaries": summaries}

    def listing(self) -> dict[str, Any]:
        """What ``/cameras`` shows of this camera."""
        with self._lock:
            frame, stats = self.frame, self.capture_stats
        return {
            "name": self.name,
            "capture": stats.to_dict() if stats else {},
            "latest_seq": frame.seq if frame else None,
            "latest_latency": frame.latency if frame else None,
            # What the page warns about: results that never came (no worker, overload) or failed.
            "latest_emitted_at": frame.emitted_at if frame else None,
            "latest_missing": list(frame.missing) if frame else [],
            "latest_errors": sorted(name for name, result in frame.results.items() if not result.ok)
            if frame else [],
            "viewers": self.viewers,
            "mjpeg": f"/cameras/{self.name}/mjpeg",
            "latest": f"/cameras/{self.name}/latest.jpg",
            "results": f"/cameras/{self.name}/results",
        }


class Views:
    """Every camera's view, created on first sight; safe to read from any thread."""

    def __init__(self, quality: int) -> None:
        self.quality = quality
        self._views: dict[str, CameraView] = {}
        self._lock = threading.Lock()

    def get(self, camera: str) -> CameraView | None:
        with self._lock:
            return self._views.get(camera)

    def get_or_create(self, camera: str) -> CameraView:
        with self._lock:
            view = self._views.get(camera)
            if view is None:
                view = self._views[camera] = CameraView(camera, self.quality)
            return view

    def all(self) -> list[CameraView]:
        """A snapshot, sorted by camera name."""
        with self._lock:
            return [self._views[name] for name in sorted(self._views)]

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._views)


def frame_record(frame: JoinedFrame) -> dict[str, Any]:
    """A joined frame as JSON-able data (what the API, reports and recordings show)."""
    return {
        "camera": frame.camera,
        "session": frame.session,
        "seq": frame.seq,
        "captured_at": frame.captured_at,
        "emitted_at": frame.emitted_at,
        "latency": frame.latency,
        "complete": frame.complete,
        "missing": list(frame.missing),
        "results": {
            name: {
                "status": result.status,
                "error": result.error,
                "detector": result.detector,
                "observation": result.observation,
                "timings": result.timings,
                "seq": result.seq,
            }
            for name, result in frame.results.items()
        },
    }
