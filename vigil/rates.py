"""Which algorithms a frame asks for: each algorithm at its own rate, chosen by time.

A camera samples its source at ``fps``; each algorithm runs at most at its own rate
(``algorithms = { fall = 5, blink = 15 }`` in the site file). The choice is made on the
frame's media time, not on a frame count, so a rate holds when the source's frame rate
changes (a camera that drops to 10 fps still gets fall 5 times a second). A frame that
asks for no algorithm is still sent to the streamers for the live view.

Pure logic shared by the capture daemon and ``vigil evaluate --rates`` (which scores
the detectors at the rates the daemon would send them).
"""

from __future__ import annotations

from collections.abc import Mapping

# Frames per second each algorithm needs, measured on ../shared/data with
# `vigil evaluate --rates` (docs/configuration.md, "Default rates"): below these, accuracy drops.
DEFAULT_RATES: dict[str, float] = {"fall": 15.0, "blink": 30.0, "pose": 10.0, "emotion": 5.0}
EPSILON = 1e-6  # media times are sums of 1/fps: 3 * (1/15) must count as 0.2


class RateSchedule:
    """Per algorithm, the next media time it is due.

    Args:
        rates: frames per second per algorithm; ``None`` (or a rate at or above the
            camera's) runs it on every frame.
    """

    def __init__(self, rates: Mapping[str, float | None]) -> None:
        for name, rate in rates.items():
            if rate is not None and not rate > 0:
                raise ValueError(f"rate of {name!r} must be > 0, got {rate!r}")
        self.rates = dict(rates)
        self._next = {name: 0.0 for name in rates}

    def due(self, media_time: float) -> tuple[str, ...]:
        """The algorithms the frame at ``media_time`` (seconds, increasing) asks for."""
        asked = []
        for name, rate in self.rates.items():
            if rate is None:
                asked.append(name)
                continue
            if media_time + EPSILON < self._next[name]:
                continue
            asked.append(name)
            # max(): after a pause (a reconnect) the schedule restarts from now, not in a burst.
            self._next[name] = max(self._next[name] + 1.0 / rate, media_time)
        return tuple(asked)

    def reset(self) -> None:
        """Start again (a file replayed from its start: media time goes back to 0)."""
        self._next = dict.fromkeys(self.rates, 0.0)


def sampled_frames(frames: int, fps: float, rate: float | None, phase: float = 0.0) -> list[bool]:
    """For each frame of a clip at ``fps``, whether an algorithm at ``rate`` runs on it.

    ``phase`` (seconds) delays the schedule's start, so a measure can be repeated on the
    other frames a camera might happen to pick.
    """
    schedule = RateSchedule({"x": rate})
    return [index / fps >= phase - EPSILON and bool(schedule.due(index / fps - phase)) for index in range(frames)]
