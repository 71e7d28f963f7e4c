"""Login sessions expire and are bounded; failed logins are throttled per client."""

from __future__ import annotations

from vigil.stream.sessions import SessionStore
from vigil.stream.throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_lasts_its_lifetime_then_is_gone():
    clock = Clock()
    store = SessionStore(lifetime=60, clock=clock)
    session = store.create("alice")
    assert store.user(session) == "alice" and store.user("forged") is None and store.user(None) is None
    clock.now += 59.9
    assert store.user(session) == "alice"
    clock.now += 0.2
    assert store.user(session) is None and len(store) == 0


def test_sessions_are_bounded_dropping_the_one_closest_to_expiring():
    clock = Clock()
    store = SessionStore(lifetime=60, max_sessions=2, clock=clock)
    first = store.create("a")
    clock.now += 1
    second, third = store.create("b"), store.create("c")
    assert len(store) == 2 and store.user(first) is None and store.user(second) == "b" and store.user(third) == "c"


def test_ending_a_session_forgets_it():
    store = SessionStore(lifetime=60)
    session = store.create("alice")
    store.end(session)
    store.end("unknown")
    assert store.user(session) is None


def test_failed_logins_lock_a_client_out_until_the_window_slides():
    clock = Clock()
    throttle = LoginThrottle(attempts=3, window=60, clock=clock)
    for _ in range(3):
        assert throttle.retry_after("10.0.0.1") == 0
        throttle.failed("10.0.0.1")
        clock.now += 10
    assert throttle.retry_after("10.0.0.1") == 30  # the first failure leaves the window in 30 s
    assert throttle.retry_after("10.0.0.2") == 0  # another client is not affected
    clock.now += 30
    assert throttle.retry_after("10.0.0.1") == 0


def test_a_success_clears_the_count_and_clients_are_bounded():
    throttle = LoginThrottle(attempts=2, window=60, max_clients=2)
    throttle.failed("a")
    throttle.succeeded("a")
    throttle.failed("a")
    assert throttle.retry_after("a") == 0
    for client in ("a", "b", "c"):
        throttle.failed(client)
        throttle.failed(client)
    assert throttle.retry_after("a") == 0 and throttle.retry_after("c") > 0  # "a" was forgotten
