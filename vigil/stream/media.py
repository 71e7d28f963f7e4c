"""Snapshots and clips of events, from a bounded per-camera ring buffer of recent frames.

The processing thread hands every emitted frame to :meth:`MediaRecorder.add_frame` (a
reference to its already encoded JPEG and its observations: nothing is decoded or drawn
there) and every event to :meth:`MediaRecorder.on_event`, which decide what to film. Drawing
the overlays, encoding and writing files happen on one writer thread
(:mod:`~vigil.stream.media_writer`), never on the processing thread or the HTTP event loop,
so live viewers never stall:

- snapshot: the annotated frame of the ``new`` message, replaced by the frame of any later
  message with a higher score while the incident is open (the "best" frame);
- clip: the annotated frames from ``clip_before_s`` before the onset to ``clip_after_s``
  after the ``new`` message, at the frames' own rate, VP8 in WebM (:mod:`~vigil.stream.mediafiles`).

Every bound has a counter: the ring buffer (``clip_before_s`` plus a margin, at most
``MAX_BUFFER_FRAMES`` frames), the writer's queue (``WRITE_QUEUE``; a full queue drops the job
and counts it), the clips collecting at once (one per camera and kind, ``MAX_COLLECTING`` in
all; others are skipped and counted), the incidents followed at once (``MAX_OPEN``).
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict, deque
from pathlib import Path
from typing import Any

from vigil.detectors.base import Observation
from vigil.settings import Settings
from vigil.stream import mediafiles
from vigil.stream.media_writer import (
    CLOSE_TIMEOUT,
    SNAPSHOT_WAIT_S,
    Buffered,
    Job,
    MediaCounters,
    MediaWriter,
    Regions,
)
from vigil.stream.reassembly import JoinedFrame
from vigil.stream.store import EventStore

__all__ = ["Buffered", "MediaCounters", "MediaRecorder", "Regions"]

BUFFER_MARGIN_S = 5.0  # an event's onset precedes its `new` message by the rule's own delay
MAX_BUFFER_FRAMES = 600  # per camera, whatever its frame rate
MAX_CLIP_S = 30.0
MAX_COLLECTING = 16  # clips collecting frames at once, all cameras together
MAX_OPEN = 256


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
        self.counters = MediaCounters()
        self._buffers: dict[str, deque[Buffered]] = {}  # processing thread only
        self._clips: list[_Clip] = []  # processing thread only
        self._staged: list[Job] = []  # processing thread only: jobs of events not stored yet
        self._open: OrderedDict[str, _Open] = OrderedDict()  # processing thread only
        self._writer = MediaWriter(
            store, self.media_dir, quality=settings.jpeg_quality, max_age_s=settings.retention_days * 86400,
            max_bytes=settings.retention_max_mb * 1024 * 1024, counters=self.counters,
            on_clip_written=self._clip_written,
        )

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
                self._submit(Job("snapshot", event_id, camera, (latest,)))
                self._start_clip(event, buffer or deque())
        elif followed is not None and latest is not None and score > followed.best_score:
            followed.best_score = score
            self._submit(Job("snapshot", event_id, camera, (latest,)))
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
        self._submit(Job("clip", clip.event_id, clip.camera, tuple(clip.frames)))

    def flush(self) -> None:
        """Hand the jobs of the events just seen to the writer (once the store has their rows)."""
        staged, self._staged = self._staged, []
        for job in staged:
            self._writer.enqueue(job)

    def _submit(self, job: Job) -> None:
        if job.kind == "snapshot":
            self._writer.expect_snapshot(job.event_id)
        self._staged.append(job)

    # -- writer thread -------------------------------------------------------------------

    def _clip_written(self, event_id: str) -> None:
        followed = self._open.get(event_id)
        if followed is not None:
            followed.clip_written = True

    # -- any thread ----------------------------------------------------------------------

    def snapshot(self, event_id: str, wait: float = SNAPSHOT_WAIT_S) -> bytes | None:
        """The event's snapshot JPEG (waiting up to ``wait`` s for one being written), or None."""
        return self._writer.snapshot(event_id, wait)

    def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Write the clips still collecting with what they have, then stop the writer once it is done.

        Waits for the clips already queued (each takes seconds to encode on a busy machine): the
        writer is a daemon thread, and an interpreter that exits while a clip is being encoded aborts
        ("terminate called without an active exception") and loses the clip.
        """
        for clip in list(self._clips):
            self._finish(clip)
        self.flush()
        self._writer.close(timeout)
