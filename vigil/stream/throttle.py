"""Failed logins per client, counted in a sliding window: past the limit, wait.

``attempts`` failures within ``window`` seconds from one client address lock that client out
until the oldest of them leaves the window. Bounded: at most ``max_clients`` addresses are
remembered (the stalest is forgotten first). Behind a reverse proxy every client shares the
proxy's address: let the proxy throttle then.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable

MAX_CLIENTS = 10_000


class LoginThrottle:
    def __init__(self, attempts: int, window: float, max_clients: int = MAX_CLIENTS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts = attempts
        self.window = window
        self.max_clients = max_clients
        self._clock = clock
        self._failures: collections.OrderedDict[str, collections.deque[float]] = collections.OrderedDict()

    def retry_after(self, client: str) -> float:
        """Seconds ``client`` must wait before it may try again (0: it may try now)."""
        failures = self._recent(client)
        if len(failures) < self.attempts:
            return 0.0
        return max(0.0, failures[0] + self.window - self._clock())

    def failed(self, client: str) -> None:
        failures = self._recent(client)
        failures.append(self._clock())
        while len(failures) > self.attempts:
            failures.popleft()
        self._failures[client] = failures
        self._failures.move_to_end(client)
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)

    def _recent(self, client: str) -> collections.deque[float]:
        failures = self._failures.get(client, collections.deque())
        cutoff = self._clock() - self.window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        return failures
