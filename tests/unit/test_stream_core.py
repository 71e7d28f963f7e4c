"""The streamer's core in-process: feed and results in, joined frames, views, events and metrics out."""

from __future__ import annotations

import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import feed_frame
from vigil.messages import DetectionResult, TaskRef
from vigil.settings import Settings
from vigil.stream.core import StreamCore
from vigil.stream.recorder import MemoryRecorder
from vigil.stream.store import EventStore

DEADLINE = 1.0


def fall_result(seq: int, camera: str = "door", **changes: object) -> tuple[TaskRef, DetectionResult]:
    fields: dict[str, object] = {"camera": camera, "session": 1, "seq": seq, "algorithm": "fall", "status": "ok",
                                 "observation": {"width": 32, "height": 24, "people": []},
                                 "timings": {"queue_wait": 0.004, "detect": 0.012}}
    fields.update(changes)
    return TaskRef(camera, 1, seq, "fall"), DetectionResult.from_dict(fields)


def samples(core: StreamCore) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, parsed by Prometheus' own parser."""
    text = core.metrics.render().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def core() -> StreamCore:
    settings = Settings.load(environ={"VIGIL_RESULT_DEADLINE": str(DEADLINE)})
    return StreamCore(settings, EventStore(":memory:"), recorder=MemoryRecorder())


def test_a_frame_and_its_result_are_emitted_together(core):
    # Given a frame asking for fall, and its result
    core.on_feed(feed_frame(0, ("fall",)))
    core.on_result(*fall_result(0))
    # When the core processes
    assert core.process(now=1000.0) == 1
    # Then the camera's view shows that frame with the rule's summary, and it was recorded
    view = core.views.get("door")
    assert view is not None and view.frame is not None
    assert (view.frame.seq, view.frame.complete) == (0, True)
    assert view.summaries["fall"]["people"] == 0
    assert core.recorder.frames[0]["results"]["fall"]["status"] == "ok"
    metrics = samples(core)
    assert metrics[("vigil_frames_received_total", (("camera", "door"),))] == 1
    assert metrics[("vigil_frames_emitted_total", (("camera", "door"), ("complete", "true")))] == 1
    assert metrics[("vigil_results_total", (("algorithm", "fall"), ("camera", "door"), ("status", "ok")))] == 1
    assert metrics[("vigil_detect_seconds_count", (("algorithm", "fall"),))] == 1


def test_a_missing_result_emits_the_frame_incomplete_at_the_deadline(core):
    core.on_feed(feed_frame(0, ("fall", "blink")))
    core.on_result(*fall_result(0))
    assert core.process(now=time.time()) == 0
    assert core.pending_task_ids() == ["vigil.door.1.0.blink"]
    assert core.process(now=time.time() + DEADLINE + 0.1) == 1
    frame = core.recorder.frames[0]
    assert (frame["complete"], frame["missing"]) == (False, ["blink"])
    metrics = samples(core)
    assert metrics[("vigil_results_missing_total", (("algorithm", "blink"), ("camera", "door")))] == 1
    assert metrics[("vigil_frames_emitted_total", (("camera", "door"), ("complete", "false")))] == 1


def test_a_result_after_its_frame_is_counted_late(core):
    core.on_feed(feed_frame(0, ("fall",)))
    core.on_result(*fall_result(0))
    core.process()
    core.on_result(*fall_result(0))
    assert samples(core)[("vigil_results_late_total", (("algorithm", "fall"), ("camera", "door")))] == 1


@pytest.mark.parametrize(
    "message",
    [
        b"\x80\x04pickle",
        {"kind": "frame"},
        {"kind": "status", "camera": "bad name", "session": 1},
        {**feed_frame(0), "stats": {"state": "exploded"}},
    ],
)
def test_malformed_feed_messages_are_ignored(core, message):
    core.on_feed(message)
    assert core.views.all() == [] and core.idle()
    assert not any(name == "vigil_frames_received_total" for name, _ in samples(core))


def test_capture_counters_are_exact_however_large(core):
    # A counter mirrored from a daemon that has run for weeks keeps every digit.
    # (a hand-written ":g" once printed 1,234,567 as 1.23457e+06)
    core.on_feed(feed_frame(0, ("fall",), captured=123_456_789, sent=123_456_780, dropped=7, gated=1_000_001))
    metrics = samples(core)
    assert metrics[("vigil_frames_captured_total", (("camera", "door"),))] == 123_456_789
    assert metrics[("vigil_frames_dropped_total", (("camera", "door"),))] == 7
    assert metrics[("vigil_frames_gated_total", (("camera", "door"),))] == 1_000_001  # motion gating
    states = {labels: value for (name, labels), value in metrics.items() if name == "vigil_camera_state"}
    assert states[(("camera", "door"), ("state", "streaming"))] == 1
    assert sum(states.values()) == 1


def test_a_synthetic_detector_gets_no_rule(core):
    core.on_feed(feed_frame(0, ("fall",)))
    core.on_result(*fall_result(0, detector="null", observation={"mean": 1.0}))
    core.process()
    view = core.views.get("door")
    assert view is not None and view.summaries == {"fall": {}} and view.observations == {"fall": None}
