"""Health evaluation (pure): which states make /healthz say 503, and what it says."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from vigil.queues import QueueDepth
from vigil.stream.health import FrameWindow, HealthInputs, evaluate, requested_algorithms


def healthy(**changes: Any) -> HealthInputs:
    """A streamer where everything works; tests change one thing."""
    base = HealthInputs(
        inputs={"feed": True, "results": True},
        algorithms=("fall", "pose"),
        queues={"fall": QueueDepth(0, 1), "pose": QueueDepth(2, 3)},
        queues_probed=True,
        cameras={"door": ("streaming", "")},
        frames=(100, 5),
        max_incomplete=0.2,
    )
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize(("given", "reason_words"), [
    (healthy(), None),
    (healthy(inputs={"feed": False, "results": True}), ["capture feed", "not connected"]),
    (healthy(queues={"fall": QueueDepth(0, 1), "pose": QueueDepth(4, 0)}), ["no worker", "'pose' queue"]),
    (healthy(queues={"fall": QueueDepth(0, 1)}), ["no worker", "'pose' queue"]),  # queue never declared
    (healthy(queues=None), ["broker did not answer"]),
    (healthy(queues=None, queues_probed=False), None),  # embedded: workers are in-process
    (healthy(cameras={"door": ("reconnecting", "cannot open rtsp://x")}), ["'door'", "reconnecting", "rtsp://x"]),
    (healthy(cameras={"door": ("connecting", "")}), ["'door' is connecting"]),
    (healthy(cameras={"door": ("ended", "")}), None),  # a file that ended is not a fault
    (healthy(frames=(100, 21)), ["21%", "results missing"]),
    (healthy(frames=(100, 20)), None),  # exactly the share allowed
    (healthy(frames=(5, 5)), None),  # too few frames to judge
    (healthy(faults={"recording": "recording to /x stopped: No space left on device"}), ["No space left"]),
    (healthy(faults={"thread:stream-core": "the streamer's stream-core thread died"}), ["stream-core", "died"]),
])
def test_evaluate(given: HealthInputs, reason_words: list[str] | None) -> None:
    health = evaluate(given)
    body = health.to_dict()
    if reason_words is None:
        assert (body["status"], body["reasons"]) == ("ok", [])
    else:
        assert body["status"] == "degraded"
        assert len(body["reasons"]) == 1
        for word in reason_words:
            assert word in body["reasons"][0]


def test_checks_show_queue_consumers_cameras_and_frames() -> None:
    checks = evaluate(healthy(queues={"fall": QueueDepth(0, 1), "pose": QueueDepth(4, 0)})).checks
    assert checks["queues"]["algorithms"]["pose"] == {"consumers": 0, "messages": 4}
    assert checks["cameras"]["door"] == {"state": "streaming", "error": None}
    assert checks["frames"]["incomplete_share"] == 0.05


def test_every_problem_is_a_reason() -> None:
    health = evaluate(healthy(inputs={"feed": False, "results": False}, queues=None, frames=(10, 10)))
    assert len(health.reasons) == 4


def test_frame_window_forgets_after_a_minute() -> None:
    window = FrameWindow(seconds=60)
    for t in range(0, 30):
        window.add(complete=t % 3 != 0, now=1000 + t)
    assert window.counts(now=1029) == (30, 10)
    assert window.counts(now=1075) == (14, 4)  # seconds 1016..1029 remain
    assert window.counts(now=1200) == (0, 0)


@pytest.mark.parametrize(("recent", "configured", "expected"), [
    (["fall"], ("fall", "pose"), ("fall",)),
    ([], ("fall", "pose"), ("fall", "pose")),
])
def test_requested_algorithms(recent: list[str], configured: tuple[str, ...], expected: tuple[str, ...]) -> None:
    assert requested_algorithms(recent, configured) == expected
