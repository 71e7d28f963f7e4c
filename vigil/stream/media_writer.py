"""The media writer thread: draws, encodes and writes events' snapshots and clips, sweeps retention.

:class:`~vigil.stream.media.MediaRecorder` decides what to film on the processing thread and
hands each snapshot or clip here as a :class:`Job`. Drawing the overlays, encoding and writing
files happen on this one thread, never on the processing thread or the HTTP event loop, so live
viewers never stall. The write queue is bounded (``WRITE_QUEUE``; a full queue drops the job and
counts it); the latest snapshots stay in memory (``SNAPSHOT_CACHE``) for the page.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2

from vigil.detectors.base import Observation
from vigil.errors import VigilError
from vigil.logs import RateLimitedLog
from vigil.stream import mediafiles
from vigil.stream.overlay import annotated_image
from vigil.stream.reassembly import JoinedFrame
from vigil.stream.store import EventStore
from vigil.stream.zones import Polygon, Zone

log = logging.getLogger("vigil.stream.media")  # the name its log lines have always shown (before the split)

CLOSE_TIMEOUT = 120.0  # seconds a stopping streamer waits for its queued clips (systemd: TimeoutStopSec)
WRITE_QUEUE = 64
SNAPSHOT_CACHE = 32
SNAPSHOT_WAIT_S = 2.0
RETENTION_INTERVAL_S = 60.0
# Encoding a clip takes seconds of a core; at this priority it takes what detection and the live view
# leave (docs/performance.md, "Capacity": at full priority four cameras' clips pushed p99 past 250 ms).
BACKGROUND_NICE = 10

Regions = tuple[Sequence[Zone], Sequence[Polygon]]


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


@dataclasses.dataclass(frozen=True)
class Job:
    """A snapshot (one frame) or a clip (its frames) of an event, to draw and write."""

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


class MediaWriter:
    """One thread writing snapshots and clips into ``media_dir`` and recording them in the store.

    Args:
        store: where each file's path is recorded (:meth:`EventStore.set_media`).
        media_dir: the folder of the files.
        quality: JPEG quality of the snapshots.
        max_age_s, max_bytes: retention, swept every ``RETENTION_INTERVAL_S``.
        counters: counted into (shared with the recorder).
        on_clip_written: called on the writer thread with the event id of each clip written.
    """

    def __init__(self, store: EventStore, media_dir: Path, *, quality: int, max_age_s: float, max_bytes: int,
                 counters: MediaCounters, on_clip_written: Callable[[str], None]) -> None:
        self.store = store
        self.media_dir = media_dir
        self.quality = quality
        self.max_age_s = max_age_s
        self.max_bytes = max_bytes
        self.counters = counters
        self._on_clip_written = on_clip_written
        self._jobs: queue.Queue[Job | None] = queue.Queue(WRITE_QUEUE)
        self._snapshots: OrderedDict[str, bytes] = OrderedDict()
        self._pending: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._errors = RateLimitedLog(log)
        self._next_sweep = 0.0
        self._thread = threading.Thread(target=self._work, name="stream-media", daemon=True)
        self._thread.start()

    # -- any thread ----------------------------------------------------------------------

    def expect_snapshot(self, event_id: str) -> None:
        """A snapshot of the event is coming: :meth:`snapshot` waits for it."""
        with self._lock:
            self._pending.setdefault(event_id, threading.Event())

    def enqueue(self, job: Job) -> None:
        """Queue a job for the writer, or drop and count it when the queue is full."""
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            self.counters.dropped += 1
            self._errors.warning("media writer behind: %s of %s on %s dropped", job.kind, job.event_id, job.camera)
            self._done(job.event_id)

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
        """Stop the writer once the jobs already queued are written (waiting at most ``timeout``)."""
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
        _yield_cpu_to_other_threads()
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

    def _write(self, job: Job) -> None:
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

    def _write_snapshot(self, job: Job) -> None:
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

    def _write_clip(self, job: Job) -> None:
        started = time.perf_counter()
        images = [annotated_image(item.frame, item.observations, item.summaries, item.regions) for item in job.frames]
        name = mediafiles.clip_name(job.camera, job.event_id)
        mediafiles.write_clip(self.media_dir / name, images, mediafiles.clip_fps([item.time for item in job.frames]))
        self._record(job, clip_path=name)
        elapsed = time.perf_counter() - started
        self.counters.clips += 1
        self.counters.clip_seconds += elapsed
        self._on_clip_written(job.event_id)
        log.info("clip of event %s on %s: %d frames in %.2f s", job.event_id, job.camera, len(images), elapsed)

    def _record(self, job: Job, **paths: str) -> None:
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


def _yield_cpu_to_other_threads() -> None:
    """Lower the calling thread's CPU priority by :data:`BACKGROUND_NICE` (Linux: nice is per thread).

    Threads it starts (FFmpeg's encoder threads) inherit it. Elsewhere, or when refused, nothing changes.
    """
    thread = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + BACKGROUND_NICE))
    except (AttributeError, OSError) as exc:  # no setpriority (Windows), or a sandbox refusing it
        log.info("media writer keeps normal CPU priority: %s", exc)
