"""How long to wait before trying a lost connection or camera again.

Capped exponential backoff with jitter, as dramatiq's ``compute_backoff``: attempt
``n`` waits a uniformly random time in ``[c/2, c]`` where ``c = min(cap, base * 2**n)``.
The jitter matters when many processes lose the same broker at once (a restart):
without it they all come back in lock-step and hit it together, every time. The
lower half is kept so a retry never comes at once: a loop of instant retries would
spin on a dead broker.
"""

from __future__ import annotations

import random
from collections.abc import Callable

DEFAULT_BASE = 0.5
DEFAULT_CAP = 30.0


def compute_backoff(attempt: int, *, base: float = DEFAULT_BASE, cap: float = DEFAULT_CAP,
                    rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retry number ``attempt`` (0 for the first retry)."""
    ceiling = min(cap, base * 2 ** min(max(attempt, 0), 32))
    return ceiling / 2 * (1 + rand())


class Backoff:
    """The retry schedule of one connection: ``next()`` after a failure, ``reset()`` after a success."""

    def __init__(self, *, base: float = DEFAULT_BASE, cap: float = DEFAULT_CAP,
                 rand: Callable[[], float] = random.random) -> None:
        self.base = base
        self.cap = cap
        self.rand = rand
        self.attempt = 0

    def next(self) -> float:
        delay = compute_backoff(self.attempt, base=self.base, cap=self.cap, rand=self.rand)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0
