"""One backoff for every reconnect: capped exponential with jitter in the upper half."""

import pytest

from vigil.backoff import Backoff, compute_backoff


@pytest.mark.parametrize(
    "attempt, rand, expected",
    [
        (0, 1.0, 0.5),
        (1, 1.0, 1.0),
        (3, 1.0, 4.0),
        (10, 1.0, 30.0),  # capped
        (10_000, 1.0, 30.0),  # no overflow on a camera down for days
        (3, 0.5, 3.0),  # jitter: anywhere in [ceiling / 2, ceiling]
        (3, 0.0, 2.0),  # never an instant retry
    ],
)
def test_compute_backoff(attempt, rand, expected):
    assert compute_backoff(attempt, base=0.5, cap=30.0, rand=lambda: rand) == pytest.approx(expected)


def test_a_schedule_grows_and_resets():
    backoff = Backoff(base=1.0, cap=8.0, rand=lambda: 1.0)
    assert [backoff.next() for _ in range(5)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    backoff.reset()
    assert backoff.next() == 1.0


def test_jitter_spreads_processes_that_fail_together():
    delays = {round(compute_backoff(4, base=0.5, cap=30.0), 6) for _ in range(50)}
    assert len(delays) > 40 and all(4.0 <= d <= 8.0 for d in delays)
