"""A frame's faces, found once and used by every face algorithm (emotion, pose and blink).

The three face algorithms run BlazeFace and Face Mesh on the same image; each is still its
own task on its own queue (any worker can take any of them), so the first of a frame's face
tasks *claims* the frame in Redis, finds the faces and publishes them, and the others wait
a moment for them instead of running the same models again. The claim and the faces expire
with the frame. Inside one process (a thread pool, `vigil run`) the faces are also kept in
memory, which needs no Redis at all.

Waiting never loses a result: if the faces do not come in time (the claimant crashed, or is
slow), the task finds them itself. Redis failures only cost the saving, never a result.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis

from vigil.detectors.faces import FaceMesh, decode_meshes, encode_meshes
from vigil.errors import DetectorError

log = logging.getLogger(__name__)

KEY_PREFIX = "vigil:faces"
# The faces take ~3 ms to find on an idle core; a loaded worker may take several times that.
DEFAULT_WAIT_S = 0.1
# Past this a frame is stale anyway (settings.max_frame_age defaults to 2 s).
DEFAULT_TTL_S = 5.0
LOCAL_FRAMES = 64  # recent frames kept in memory: 4 s of 15 cameras at 1 fps, or 1 s of 4 at 15
FIELD = b"faces"


class FaceShare:
    """The faces of recent frames, shared by the face tasks of each frame.

    Args:
        client: the Redis the workers share (the result backend's), or None for one process only.
        wait_s: how long a task waits for another task's faces before finding them itself.
        ttl_s: how long Redis keeps a frame's claim and faces.
    """

    def __init__(self, client: redis.Redis | None, *, wait_s: float = DEFAULT_WAIT_S,
                 ttl_s: float = DEFAULT_TTL_S) -> None:
        self.client = client
        self.wait_ms = max(1, int(wait_s * 1000))
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self._recent: collections.OrderedDict[str, list[FaceMesh]] = collections.OrderedDict()
        self._finding: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._warned_at = 0.0

    def meshes(self, frame: str, find: Callable[[], list[FaceMesh]]) -> tuple[list[FaceMesh], bool]:
        """The faces of ``frame`` (a key from :func:`frame_key`), and whether another task found them.

        ``find`` runs the models; it is called only when no other task has the faces or is finding them.
        """
        with self._lock:
            known = self._recent.get(frame)
            if known is not None:
                return known, True
            finding = self._finding.get(frame)
            if finding is None:
                self._finding[frame] = threading.Event()
        if finding is not None:  # another thread of this process is finding them
            finding.wait(self.wait_ms / 1000)
            with self._lock:
                known = self._recent.get(frame)
            if known is not None:
                return known, True
            return find(), False
        try:
            meshes, shared = self._shared_or_found(frame, find)
            self._remember(frame, meshes)
            return meshes, shared
        finally:
            with self._lock:
                self._finding.pop(frame).set()

    def _shared_or_found(self, frame: str, find: Callable[[], list[FaceMesh]]) -> tuple[list[FaceMesh], bool]:
        if self.client is None:
            return find(), False
        key = f"{KEY_PREFIX}:{frame}"
        try:
            claimed = bool(self.client.set(f"{key}:claim", b"1", nx=True, px=self.ttl_ms))
            if not claimed:
                # A stream read from id 0 returns at once when the faces are there, else blocks until they are.
                reply = self.client.xread({key: "0-0"}, count=1, block=self.wait_ms)
                if reply:
                    return decode_meshes(_published(reply)), True
        except (redis.RedisError, DetectorError, LookupError, TypeError) as exc:
            self._warn(exc)
            return find(), False
        meshes = find()
        if claimed:
            self._publish(key, meshes)
        return meshes, False

    def _publish(self, key: str, meshes: list[FaceMesh]) -> None:
        try:
            with self.client.pipeline(transaction=False) as pipe:  # type: ignore[union-attr]
                pipe.xadd(key, {FIELD: encode_meshes(meshes)}, maxlen=1)
                pipe.pexpire(key, self.ttl_ms)
                pipe.execute()
        except redis.RedisError as exc:
            self._warn(exc)

    def _remember(self, frame: str, meshes: list[FaceMesh]) -> None:
        with self._lock:
            self._recent[frame] = meshes
            while len(self._recent) > LOCAL_FRAMES:
                self._recent.popitem(last=False)

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at > 60:  # once a minute: a Redis outage must not flood the log
            self._warned_at = now
            log.warning("sharing faces between tasks failed (each task finds its own): %s", exc)


def _published(reply: Any) -> bytes:
    """The faces in an XREAD reply: ``[[stream, [(id, {field: value})]]]`` (RESP2)."""
    _, entries = reply[0]
    _, fields = entries[0]
    data = fields[FIELD]
    if not isinstance(data, bytes):
        raise TypeError(f"faces published as {type(data).__name__}, not bytes")
    return data


def frame_key(camera: str, session: Any, seq: Any) -> str:
    """The key of one frame of one capture session."""
    return f"{camera}:{session}:{seq}"


def redis_client_of(backend: Any) -> redis.Redis | None:
    """The result backend's Redis client (its URL, TLS and pool), or None when it is not Redis."""
    client = getattr(backend, "client", None)
    return client if isinstance(client, redis.Redis) else None
