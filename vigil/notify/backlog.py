"""A bounded FIFO between the processing thread and a notifier's own thread.

``put`` never blocks: when full, the oldest entry is dropped (fresh alerts matter more than stale
ones, as everywhere else in Vigil) and counted by the caller.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class Backlog(Generic[T]):
    def __init__(self, maxlen: int) -> None:
        self.maxlen = maxlen
        self._items: deque[T] = deque()
        self._ready = threading.Condition(threading.Lock())

    def put(self, item: T) -> int:
        """Append ``item``; returns how many old entries were dropped to make room (0 or 1)."""
        with self._ready:
            dropped = 0
            if len(self._items) >= self.maxlen:
                self._items.popleft()
                dropped = 1
            self._items.append(item)
            self._ready.notify()
        return dropped

    def get(self, timeout: float) -> T | None:
        """The oldest entry, waiting up to ``timeout`` seconds for one; ``None`` if there is none."""
        with self._ready:
            if not self._items:
                self._ready.wait(timeout)
            return self._items.popleft() if self._items else None

    def wake(self) -> None:
        """Wake a waiting :meth:`get` (it returns ``None`` when there is nothing)."""
        with self._ready:
            self._ready.notify_all()

    def __len__(self) -> int:
        return len(self._items)
