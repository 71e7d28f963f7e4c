"""Event snapshots and clips on disk: where they live, how they are written, when they go.

Files live under the ``media_dir`` setting, one folder per camera: ``<camera>/<event id>.jpg``
(the snapshot) and ``<camera>/<event id>.webm`` (the clip: VP8 in WebM, which every browser plays
in ``<video>``). The store keeps their paths relative
to ``media_dir``. Every write goes to a temporary name first and is renamed into place, so a
reader (or a crash) never sees half a file.

Retention (:func:`sweep`) deletes whole incidents, rows first and then their files, by age
(``retention_days``) and by the total size of the files (``retention_max_mb``).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from vigil.stream.store import EventStore, MediaRow

log = logging.getLogger(__name__)

CLIP_EXT = ".webm"
CLIP_CODEC = "libvpx"  # VP8
CLIP_CONTENT_TYPE = "video/webm"
# libvpx's real-time mode at a fast setting: a 10 s 640 x 360 clip costs ~0.6 s of a core instead
# of ~2.3 s at the default ("good", cpu-used 0) that OpenCV's writer uses and cannot change. On a
# box near capacity, four cameras' clips at that price starved detection (docs/performance.md).
CLIP_ENCODER_OPTIONS = {"deadline": "realtime", "cpu-used": "8"}
CLIP_BITS_PER_PIXEL = 0.3  # per frame: ~1 Mbit/s at 640 x 360 x 15, what OpenCV's writer chose
MIN_CLIP_BITRATE = 200_000
MIN_CLIP_FPS = 1.0
MAX_CLIP_FPS = 30.0
DELETE_BATCH = 500


def snapshot_name(camera: str, event_id: str) -> str:
    return f"{camera}/{event_id}.jpg"


def clip_name(camera: str, event_id: str) -> str:
    return f"{camera}/{event_id}{CLIP_EXT}"


def resolve(media_dir: Path, relative: str) -> Path | None:
    """``media_dir / relative`` if it stays inside ``media_dir`` (a stored path is never trusted blindly)."""
    root = media_dir.resolve()
    path = (root / relative).resolve()
    return path if path.is_relative_to(root) and path != root else None


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.part")  # one per process: folders may be shared
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def clip_fps(times: Sequence[float]) -> float:
    """The frame rate that plays ``times`` (capture times) back at real speed."""
    if len(times) < 2 or times[-1] <= times[0]:
        return MIN_CLIP_FPS
    return min(MAX_CLIP_FPS, max(MIN_CLIP_FPS, (len(times) - 1) / (times[-1] - times[0])))


def write_clip(path: Path, images: Sequence[np.ndarray], fps: float) -> None:
    """Encode BGR ``images`` as a VP8 WebM at ``path`` (via a temporary file, renamed into place).

    Every image is scaled to the first one's size; an odd width or height loses its last column
    or row (VP8's 4:2:0 colour needs even sizes).

    Raises:
        OSError: the file cannot be written (full disk, read-only folder) or the encoder is missing.
        ValueError: no image, or one too small to encode.
    """
    # Imported here: the streamer's other modules load OpenCV's own FFmpeg; only the writer thread needs av's.
    import av
    from av.codec.codec import UnknownCodecError

    if not images:
        raise ValueError("a clip needs at least one frame")
    height, width = images[0].shape[:2]
    even_width, even_height = width - width % 2, height - height % 2
    if even_width < 2 or even_height < 2:
        raise ValueError(f"a clip frame of {width}x{height} is too small to encode")
    path.parent.mkdir(parents=True, exist_ok=True)
    # One name per process: streamers sharing a media folder may write the same event's clip at once.
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.part{CLIP_EXT}")
    rate = Fraction(fps).limit_denominator(1000)
    try:
        with av.open(str(temporary), "w", format="webm") as container:
            stream = container.add_stream(CLIP_CODEC, rate=rate, options=dict(CLIP_ENCODER_OPTIONS))
            if not isinstance(stream, av.VideoStream):
                raise OSError(f"{CLIP_CODEC} is not a video encoder in this FFmpeg")
            stream.width, stream.height, stream.pix_fmt = even_width, even_height, "yuv420p"
            stream.bit_rate = max(MIN_CLIP_BITRATE, int(CLIP_BITS_PER_PIXEL * even_width * even_height * fps))
            stream.codec_context.thread_count = 1  # encode on the writer thread, which yields to detection
            for image in images:
                if image.shape[:2] != (height, width):
                    image = cv2.resize(image, (width, height))
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[:even_height, :even_width]),
                                                   format="bgr24")
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))  # flush the frames the encoder still holds
        os.replace(temporary, path)
    except UnknownCodecError as exc:
        raise OSError(f"cannot write the clip {path}: this FFmpeg has no {CLIP_CODEC} encoder") from exc
    except av.FFmpegError as exc:
        if isinstance(exc, OSError):  # a full disk, a read-only folder: av's errors carry the errno
            raise OSError(exc.errno, f"cannot write the clip {path}: {exc.strerror}") from exc
        raise
    finally:
        temporary.unlink(missing_ok=True)


def frames_in(path: Path) -> int:
    """How many frames of a video can be decoded (0 for a missing or unreadable file)."""
    capture = cv2.VideoCapture(str(path))
    count = 0
    try:
        while capture.grab():
            count += 1
    finally:
        capture.release()
    return count


def media_size(media_dir: Path, *relatives: str | None) -> int:
    total = 0
    for relative in relatives:
        path = resolve(media_dir, relative) if relative else None
        if path is not None:
            with contextlib.suppress(OSError):
                total += path.stat().st_size
    return total


def sweep(store: EventStore, media_dir: Path, *, max_age_s: float, max_bytes: int, now: float) -> int:
    """Delete incidents older than ``max_age_s`` (by their latest message), then the oldest ones until
    their files fit in ``max_bytes`` (0: no size limit); rows and files together.

    Returns:
        How many incidents were deleted.

    Raises:
        EventStoreError: the store cannot be read or written.
    """
    deleted = 0
    while rows := store.oldest(DELETE_BATCH, updated_before=now - max_age_s):
        deleted += _delete(store, media_dir, rows)
    if max_bytes > 0:
        excess = store.media_total() - max_bytes
        while excess > 0:
            rows = store.oldest(DELETE_BATCH, with_media=True)
            doomed: list[MediaRow] = []
            for row in rows:
                if excess <= 0:
                    break
                doomed.append(row)
                excess -= row.media_bytes
            if not doomed:
                break
            deleted += _delete(store, media_dir, doomed)
    if deleted:
        log.info("retention: deleted %d old events and their files", deleted)
    return deleted


def _delete(store: EventStore, media_dir: Path, rows: Sequence[MediaRow]) -> int:
    # Rows first: a crash in between leaves a stray file (counted nowhere), never a row without its file.
    count = store.delete([row.id for row in rows])
    for row in rows:
        for relative in (row.snapshot_path, row.clip_path):
            path = resolve(media_dir, relative) if relative else None
            if path is not None:
                try:
                    path.unlink(missing_ok=True)
                except OSError as exc:
                    log.warning("retention: cannot delete %s: %s", path, exc)
    return count
