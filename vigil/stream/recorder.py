"""Keeping every emitted frame and event: in memory (reports) or as JSON lines (audits, benchmarks)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Protocol


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

    def __init__(self, path: Path) -> None:
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
