"""Snapshots and clips of events, from a bounded per-camera ring buffer of recent frames.

The processing thread hands every emitted frame to :meth:`MediaRecorder.add_frame` (a
reference to its already encoded JPEG and its observations: nothing is decoded or drawn
there) and every event to :meth:`MediaRecorder.on_event`. Drawing the overlays, encoding and
writing files happen on one writer thread, never on the processing thread or the HTTP
event loop, so live viewers never stall:

- snapshot: the annotated frame of the ``new`` message, replaced by the frame of any later
  message with a higher score while the incident is open (the "best" frame);
- clip: the annotated frames from ``clip_before_s`` before the onset to ``clip_after_s``
  after the ``new`` message, at the frames' own rate, VP8 in WebM (:mod:`~vigil.stream.mediafiles`).

Every bound has a counter: the ring buffer (``clip_before_s`` plus a margin, at most
``MAX_BUFFER_FRAMES`` frames), the write queue (``WRITE_QUEUE``; a full queue drops the job
and counts it), the clips collecting at once (one per camera and kind, ``MAX_COLLECTING`` in
all; others are skipped and counted), the incidents followed at once (``MAX_OPEN``).
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2

from vigil.detectors.base import Observation
from vigil.errors import VigilError
from vigil.logs import RateLimitedLog
from vigil.settings import Settings
from vigil.stream import mediafiles
from vigil.stream.overlay import annotated_image
from vigil.stream.reassembly import JoinedFrame
from vigil.stream.store import EventStore
from vigil.stream.zones import Polygon, Zone

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 120.0  # seconds a stopping streamer waits for its queued clips (systemd: TimeoutStopSec)

Regions = tuple[Sequence[Zone], Sequence[Polygon]]

BUFFER_MARGIN_S = 5.0  # an event's onset precedes its `new` message by the rule's own delay
MAX_BUFFER_FRAMES = 600  # per camera, whatever its frame rate
MAX_CLIP_S = 30.0
MAX_COLLECTING = 16  # clips collecting frames at once, all cameras together
WRITE_QUEUE = 64
MAX_OPEN = 256
SNAPSHOT_CACHE = 32
SNAPSHOT_WAIT_S = 2.0
RETENTION_INTERVAL_S = 60.0


@dataclasses.dataclass(frozen=True)
class Buffered:
    """A frame as it was emitted: the JPEG, and what the overlays draw from."""

    frame: JoinedFrame
    observations: dict[str, Observation | None]
    summaries: dict[str, dict[str, Any]]
    regions: Regions | None = None  # zones and masks outlined, as in the live view

    @property
    def time(self) -> float:
        return self.frame.captured_at


@dataclasses.dataclass
class _Clip:
    event_id: str
    camera: str
    kind: str
    until: float
    frames: list[Buffered]


@dataclasses.dataclass
class _Open:
    camera: str
    best_score: float
    clip_written: bool = False


@dataclasses.dataclass(frozen=True)
class _Job:
    kind: str  # "snapshot" or "clip"
    event_id: str
    camera: str
    frames: tuple[Buffered, ...]


@dataclasses.dataclass
class MediaCounters:
    snapshots: int = 0
    clips: int = 0
    dropped: int = 0  # jobs refused by a full write queue
    failed: int = 0  # jobs whose file could not be written
    skipped: int = 0  # clips not filmed: one of the same camera and kind was, or too many were
    clip_seconds: float = 0.0  # time spent writing clips, in total


class MediaRecorder:
    """Keeps recent frames per camera and writes events' snapshots and clips beside the store.

    Args:
        store: where each file's path is recorded (:meth:`EventStore.set_media`).
        media_dir: the folder of the files.
        settings: ``clip_before_s``, ``clip_after_s``, ``jpeg_quality``, retention.
    """

    def __init__(self, store: EventStore, media_dir: Path | str, settings: Settings) -> None:
        self.store = store
        self.media_dir = Path(media_dir)
        self.before_s = settings.clip_before_s
        self.after_s = settings.clip_after_s
        self.quality = settings.jpeg_quality
        self.max_age_s = settings.retention_days * 86400
        self.max_bytes = settings.retention_max_mb * 1024 * 1024
        self.counters = MediaCounters()
        self._buffers: dict[str, deque[Buffered]] = {}  # processing thread only
        self._clips: list[_Clip] = []  # processing thread only
        self._staged: list[_Job] = []  # processing thread only: jobs of events not stored yet
        self._open: OrderedDict[str, _Open] = OrderedDict()  # processing thread only
        self._jobs: queue.Queue[_Job | None] = queue.Queue(WRITE_QUEUE)
        self._snapshots: OrderedDict[str, bytes] = OrderedDict()
        self._pending: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._errors = RateLimitedLog(log)
        self._next_sweep = 0.0
        self._thread = threading.Thread(target=self._work, name="stream-media", daemon=True)
        self._thread.start()

    # -- processing thread ---------------------------------------------------------------

    def add_frame(self, frame: JoinedFrame, observations: dict[str, Observation | None],
                  summaries: dict[str, dict[str, Any]], regions: Regions | None = None) -> None:
        """Keep an emitted frame (a reference, no copy) and feed the clips still collecting."""
        item = Buffered(frame, observations, summaries, regions)
        buffer = self._buffers.get(frame.camera)
        if buffer is None:
            buffer = self._buffers[frame.camera] = deque(maxlen=MAX_BUFFER_FRAMES)
        buffer.append(item)
        horizon = item.time - self.before_s - BUFFER_MARGIN_S
        while buffer and buffer[0].time < horizon:
            buffer.popleft()
        for clip in list(self._clips):
            if clip.camera == frame.camera:
                clip.frames.append(item)
                if item.time >= clip.until:
                    self._finish(clip)
        self.flush()

    def on_event(self, event: dict[str, Any]) -> None:
        """Schedule the event's snapshot and clip; sets its ``snapshot`` and ``clip`` URLs."""
        event_id, camera = event["id"], event["camera"]
        buffer = self._buffers.get(camera)
        latest = buffer[-1] if buffer else None
        score = float(event.get("score") or 0.0)
        followed = self._open.get(event_id)
        if event["type"] == "new" and followed is None:
            followed = self._follow(event_id, _Open(camera, score))
            if latest is not None:
                self._submit(_Job("snapshot", event_id, camera, (latest,)))
                self._start_clip(event, buffer or deque())
        elif followed is not None and latest is not None and score > followed.best_score:
            followed.best_score = score
            self._submit(_Job("snapshot", event_id, camera, (latest,)))
        if followed is not None and buffer:
            event["snapshot"] = f"/events/{event_id}/snapshot.jpg"
        if followed is not None and followed.clip_written:
            event["clip"] = f"/events/{event_id}/clip{mediafiles.CLIP_EXT}"
        if event["type"] == "end":
            self._open.pop(event_id, None)

    def _start_clip(self, event: dict[str, Any], buffer: deque[Buffered]) -> None:
        camera, kind = event["camera"], event["kind"]
        busy = any(clip.camera == camera and clip.kind == kind for clip in self._clips)
        if busy or len(self._clips) >= MAX_COLLECTING:
            # An incident of the same kind is being filmed on this camera (a flickering rule),
            # or too many are: no clip for this one, rather than unbounded work and memory.
            self.counters.skipped += 1
            return
        start = float(event["start"]) - self.before_s
        until = min(float(event["time"]) + self.after_s, start + MAX_CLIP_S)
        clip = _Clip(event["id"], camera, kind, until, [item for item in buffer if item.time >= start])
        self._clips.append(clip)
        if buffer and buffer[-1].time >= until:
            self._finish(clip)

    def _follow(self, event_id: str, followed: _Open) -> _Open:
        self._open[event_id] = followed
        while len(self._open) > MAX_OPEN:
            self._open.popitem(last=False)  # an incident that never ended (its rule was reset)
        return followed

    def _finish(self, clip: _Clip) -> None:
        self._clips.remove(clip)
        self._submit(_Job("clip", clip.event_id, clip.camera, tuple(clip.frames)))

    def flush(self) -> None:
        """Hand the jobs of the events just seen to the writer (once the store has their rows)."""
        staged, self._staged = self._staged, []
        for job in staged:
            self._enqueue(job)

    def _submit(self, job: _Job) -> None:
        if job.kind == "snapshot":
            with self._lock:
                self._pending.setdefault(job.event_id, threading.Event())
        self._staged.append(job)

    def _enqueue(self, job: _Job) -> None:
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            self.counters.dropped += 1
            self._errors.warning("media writer behind: %s of %s on %s dropped", job.kind, job.event_id, job.camera)
            self._done(job.event_id)

    # -- any thread ----------------------------------------------------------------------

    def snapshot(self, event_id: str, wait: float = SNAPSHOT_WAIT_S) -> bytes | None:
        """The event's snapshot JPEG (waiting up to ``wait`` s for one being written), or None."""
        with self._lock:
            pending = self._pending.get(event_id)
            cached = self._snapshots.get(event_id)
        if pending is not None and pending.wait(wait):
            with self._lock:
                cached = self._snapshots.get(event_id)
        if cached is not None:
            return cached
        try:
            row = self.store.media(event_id)
        except VigilError:
            return None
        path = mediafiles.resolve(self.media_dir, row.snapshot_path) if row and row.snapshot_path else None
        try:
            return path.read_bytes() if path is not None else None
        except OSError:
            return None

    def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Write the clips still collecting with what they have, then stop the writer once it is done.

        Waits for the clips already queued (each takes seconds to encode on a busy machine): the
        writer is a daemon thread, and an interpreter that exits while OpenCV is encoding aborts
        ("terminate called without an active exception") and loses the clip.
        """
        for clip in list(self._clips):
            self._finish(clip)
        self.flush()
        deadline = time.monotonic() + timeout
        try:
            self._jobs.put(None, timeout=timeout)
        except queue.Full:
            pass
        while self._thread.is_alive() and time.monotonic() < deadline:
            waiting = self._jobs.qsize()
            log.info("finishing snapshots and clips before stopping (%d more queued)", waiting)
            self._thread.join(min(10.0, max(0.0, deadline - time.monotonic())))
        if self._thread.is_alive():
            log.error("snapshots and clips still being written after %.0f s: stopping without them", timeout)

    # -- writer thread -------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=1.0)
            except queue.Empty:
                self._maybe_sweep()
                continue
            if job is None:
                return
            self._write(job)
            self._maybe_sweep()

    def _write(self, job: _Job) -> None:
        try:
            if job.kind == "snapshot":
                self._write_snapshot(job)
            else:
                self._write_clip(job)
        except (OSError, ValueError, VigilError) as exc:
            self.counters.failed += 1
            self._errors.warning("cannot write the %s of event %s on %s in %s: %s",
                               job.kind, job.event_id, job.camera, self.media_dir, exc)
        except Exception:  # a bug must not stop every later snapshot and clip
            self.counters.failed += 1
            log.exception("writing the %s of event %s on %s failed", job.kind, job.event_id, job.camera)
        finally:
            if job.kind == "snapshot":
                self._done(job.event_id)

    def _write_snapshot(self, job: _Job) -> None:
        item = job.frames[0]
        image = annotated_image(item.frame, item.observations, item.summaries, item.regions)
        ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise ValueError("JPEG encoding failed")
        jpeg = buffer.tobytes()
        with self._lock:
            self._snapshots[job.event_id] = jpeg
            while len(self._snapshots) > SNAPSHOT_CACHE:
                self._snapshots.popitem(last=False)
        name = mediafiles.snapshot_name(job.camera, job.event_id)
        mediafiles.write_atomically(self.media_dir / name, jpeg)
        self._record(job, snapshot_path=name)
        self.counters.snapshots += 1

    def _write_clip(self, job: _Job) -> None:
        started = time.perf_counter()
        images = [annotated_image(item.frame, item.observations, item.summaries, item.regions) for item in job.frames]
        name = mediafiles.clip_name(job.camera, job.event_id)
        mediafiles.write_clip(self.media_dir / name, images, mediafiles.clip_fps([item.time for item in job.frames]))
        self._record(job, clip_path=name)
        elapsed = time.perf_counter() - started
        self.counters.clips += 1
        self.counters.clip_seconds += elapsed
        followed = self._open.get(job.event_id)
        if followed is not None:
            followed.clip_written = True
        log.info("clip of event %s on %s: %d frames in %.2f s", job.event_id, job.camera, len(images), elapsed)

    def _record(self, job: _Job, **paths: str) -> None:
        size = mediafiles.media_size(self.media_dir, mediafiles.snapshot_name(job.camera, job.event_id),
                                     mediafiles.clip_name(job.camera, job.event_id))
        self.store.set_media(job.event_id, media_bytes=size, **paths)

    def _done(self, event_id: str) -> None:
        with self._lock:
            pending = self._pending.pop(event_id, None)
        if pending is not None:
            pending.set()

    def _maybe_sweep(self) -> None:
        now = time.time()
        if now < self._next_sweep:
            return
        self._next_sweep = now + RETENTION_INTERVAL_S
        try:
            mediafiles.sweep(self.store, self.media_dir, max_age_s=self.max_age_s, max_bytes=self.max_bytes, now=now)
        except VigilError as exc:
            self._errors.warning("retention sweep failed: %s", exc)

