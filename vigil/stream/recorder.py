"""Keeping every emitted frame and event: in memory (reports) or as JSON lines (audits, benchmarks)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Recorder(Protocol):
    def frame(self, record: dict[str, Any]) -> None: ...

    def event(self, event: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class MemoryRecorder:
    """Keeps everything in lists (``vigil run --report``)."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []

    def frame(self, record: dict[str, Any]) -> None:
        self.frames.append(record)

    def event(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def close(self) -> None:
        pass


class JsonLinesRecorder:
    """Appends ``{"type": "frame", ...frame}`` and ``{"type": "event", "event": {...}}`` lines to a file.

    (``vigil stream --record``.) An event keeps its own ``type`` (new, update, end) inside.
    """

    def __init__(self, path: Path, setting: str = "--record") -> None:
        self.path = path
        self.setting = setting  # what the user set to choose the path (named in error messages)
        self._file = open(path, "a", encoding="utf-8")
        self._lock = threading.Lock()

    def frame(self, record: dict[str, Any]) -> None:
        self._write({"type": "frame", **record})

    def event(self, event: dict[str, Any]) -> None:
        self._write({"type": "event", "event": event})

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def _write(self, data: dict[str, Any]) -> None:
        line = json.dumps(data) + "\n"
        with self._lock:
            if not self._file.closed:
                self._file.write(line)
                self._file.flush()


class FailSafeRecorder:
    """Wraps a recorder so that a write error (a full disk, a read-only path) stops recording, loudly.

    The first ``OSError`` is logged once as an error naming the path and the setting that chose
    it, reported to ``on_fault`` (the streamer turns ``/healthz`` to 503) and every later record is
    discarded: the stream goes on without recording instead of the processing thread dying.
    """

    def __init__(self, inner: Recorder, on_fault: Callable[[str], None]) -> None:
        self.inner = inner
        self.on_fault = on_fault
        self.failed: str | None = None

    def frame(self, record: dict[str, Any]) -> None:
        if self.failed is None:
            self._guard(self.inner.frame, record)

    def event(self, event: dict[str, Any]) -> None:
        if self.failed is None:
            self._guard(self.inner.event, event)

    def close(self) -> None:
        try:
            self.inner.close()
        except OSError as exc:  # flushing onto a full disk on the way out
            log.error("closing the recording failed: %s", exc)

    def _guard(self, write: Callable[[dict[str, Any]], None], data: dict[str, Any]) -> None:
        try:
            write(data)
        except OSError as exc:
            path = getattr(self.inner, "path", None)
            setting = getattr(self.inner, "setting", "the recording path")
            where = f" to {path} ({setting})" if path is not None else ""
            self.failed = (f"recording{where} stopped: {exc.strerror or exc}; the stream goes on without it "
                           f"(free space or choose another path, then restart the streamer)")
            log.error("%s", self.failed)
            self.on_fault(self.failed)


def read_json_lines(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(frames, events) from a file written by :class:`JsonLinesRecorder`."""
    frames: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            data = json.loads(line)
            if data.pop("type") == "frame":
                frames.append(data)
            else:
                events.append(data.get("event", data))
    return frames, events
