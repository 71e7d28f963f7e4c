"""What the streamer lets in: forged feed messages and results change nothing a user sees."""

from __future__ import annotations

import json

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import feed_frame
from vigil.messages import DetectionResult, TaskRef
from vigil.settings import Settings
from vigil.stream.admission import MAX_RESULT_BYTES, MAX_TEXT
from vigil.stream.core import StreamCore
from vigil.stream.results import RESULT_KEY_PREFIX, RedisResultListener
from vigil.stream.store import EventStore

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def make_core(**settings: str) -> StreamCore:
    environ = {f"VIGIL_{key.upper()}": value for key, value in settings.items()}
    return StreamCore(Settings.load(environ=environ), EventStore(":memory:"))


def samples(core: StreamCore) -> Samples:
    """Every sample of /metrics, parsed by Prometheus' own parser."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(core.metrics.render().decode())
        for sample in family.samples
    }


def without(metrics: Samples, family: str) -> Samples:
    """Every sample but those of ``family`` (its ``_total`` and ``_created``)."""
    return {key: value for key, value in metrics.items() if not key[0].startswith(family + "_")}


def cameras_shown(metrics: Samples) -> set[str]:
    return {dict(labels)["camera"] for _, labels in metrics if "camera" in dict(labels)}


def ok_result(camera: str, seq: int, algorithm: str = "fall", session: int = 1) -> tuple[TaskRef, DetectionResult]:
    result = DetectionResult(camera=camera, session=session, seq=seq, algorithm=algorithm, status="ok",
                             observation={"width": 32, "height": 24, "people": []})
    return TaskRef(camera, session, seq, algorithm), result


@pytest.fixture
def core() -> StreamCore:
    """A streamer that has seen one camera, door, asking for fall."""
    core = make_core()
    core.on_feed(feed_frame(0, ("fall",)))
    core.on_result(*ok_result("door", 0))
    core.process()
    return core


def test_a_status_report_of_a_camera_that_sent_no_frame_shows_nothing(core):
    # Given the metrics and the camera list of a streamer that knows door
    before = samples(core)
    # When a status report names a camera that never sent a frame (forged, or still connecting)
    core.on_feed({"kind": "status", "camera": "phantom", "session": 1, "stats": {"state": "streaming"}})
    # Then no camera appears, and /metrics changes only by one count of an unknown camera's message
    assert core.views.names() == ["door"]
    after = samples(core)
    rejected = ("vigil_feed_rejected_total", (("reason", "unknown_camera"),))
    assert after.pop(rejected) == before.pop(rejected, 0.0) + 1
    after.pop(("vigil_feed_rejected_created", rejected[1]), None)  # the counter's creation time
    assert after == before


def test_a_status_report_of_a_known_camera_updates_it_with_its_text_bounded(core):
    core.on_feed({"kind": "status", "camera": "door", "session": 1,
                  "stats": {"state": "reconnecting", "error": "x" * 100_000}})
    view = core.views.get("door")
    assert view is not None and view.capture_stats is not None
    assert view.capture_stats.state == "reconnecting" and len(view.capture_stats.error) == MAX_TEXT


@pytest.mark.parametrize("ref, reason", [
    (TaskRef("ghost", 1, 0, "fall"), "unknown_camera"),  # a camera that never sent a frame
    (TaskRef("door", 1, 1, "blink"), "unknown_algorithm"),  # door's frames never asked for blink
])
def test_a_result_no_frame_asked_for_is_counted_once_not_by_its_names(core, ref, reason):
    before = samples(core)
    _, result = ok_result(ref.camera, ref.seq, ref.algorithm)
    core.on_result(ref, result)
    after = samples(core)
    assert after[("vigil_results_rejected_total", (("reason", reason),))] == 1
    assert without(after, "vigil_results_rejected") == without(before, "vigil_results_rejected")


def test_thousands_of_forged_camera_names_do_not_grow_metrics(core):
    # Given /metrics of a streamer with one camera
    size = len(core.metrics.render())
    # When 20,000 results arrive for cameras that never sent a frame
    for number in range(20_000):
        core.on_result(*ok_result(f"fake{number}", 0))
    # Then /metrics grew by the one rejected counter, not by 20,000 label sets
    assert len(core.metrics.render()) < size + 500
    assert samples(core)[("vigil_results_rejected_total", (("reason", "unknown_camera"),))] == 20_000


def test_frames_of_more_cameras_than_the_limit_are_refused_and_counted():
    core = make_core(max_cameras="3")
    for number in range(10):
        core.on_feed(feed_frame(0, ("fall",), camera=f"cam{number}"))
    core.process()
    metrics = samples(core)
    assert core.views.names() == ["cam0", "cam1", "cam2"]
    assert cameras_shown(metrics) == {"cam0", "cam1", "cam2"}
    assert metrics[("vigil_feed_rejected_total", (("reason", "too_many_cameras"),))] == 7
    # a camera already admitted keeps sending
    core.on_feed(feed_frame(1, ("fall",), camera="cam1"))
    assert samples(core)[("vigil_frames_received_total", (("camera", "cam1"),))] == 2


def test_a_frame_asking_for_an_algorithm_nobody_runs_is_refused(core):
    core.on_feed(feed_frame(1, ("fall", "x-ray"), camera="hall"))
    metrics = samples(core)
    assert core.views.names() == ["door"] and "hall" not in cameras_shown(metrics)
    assert metrics[("vigil_feed_rejected_total", (("reason", "unknown_algorithm"),))] == 1


def test_a_result_of_another_session_does_not_reset_the_camera(core):
    # Given door waits for frame 1 of session 1
    core.on_feed(feed_frame(1, ("fall",)))
    # When a result claims a newer session of door
    core.on_result(*ok_result("door", 0, session=99))
    # Then frame 1 is still awaited, and its own result completes it
    assert core.pending_task_ids() == ["vigil.door.1.1.fall"]
    core.on_result(*ok_result("door", 1))
    assert core.process() == 1


def forged(task_id: str, meta: object) -> dict[str, bytes]:
    return {"channel": (RESULT_KEY_PREFIX + task_id).encode(), "data": json.dumps(meta).encode()}


def ok_meta(camera: str, seq: int, algorithm: str = "fall", **changes: object) -> dict[str, object]:
    result = {"camera": camera, "session": 1, "seq": seq, "algorithm": algorithm, "status": "ok",
              "observation": {"width": 32, "height": 24, "people": []}, **changes}
    return {"status": "SUCCESS", "result": result}


@pytest.mark.parametrize("message, reason", [
    (forged("vigil.door\nvigil_injected 1\n.1.1.fall", ok_meta("door\nvigil_injected 1\n", 1)), "malformed"),
    (forged("vigil.door.1.1.fall", ok_meta("hall", 1)), "malformed"),  # disagrees with its id
    (forged("vigil.door.1.1.fall", {"status": "SUCCESS", "result": "not a result"}), "malformed"),
    (forged("vigil.door.1.1.fall", ok_meta("door", 1, error="x" * MAX_RESULT_BYTES)), "too_large"),
])
def test_the_result_listener_refuses_forged_results_with_a_reason(core, message, reason):
    before = samples(core)
    listener = RedisResultListener("redis://unused", core.on_result, core.result_rejected)
    listener._handle(message)
    after = samples(core)
    assert after[("vigil_results_rejected_total", (("reason", reason),))] == 1
    assert without(after, "vigil_results_rejected") == without(before, "vigil_results_rejected")
