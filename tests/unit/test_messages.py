"""Every cross-process format: task ids, feed messages, capture stats, detection results."""

from __future__ import annotations

import pytest

from tests.helpers import feed_frame, frame_payload
from vigil.errors import FrameError, MessageError
from vigil.messages import (
    CameraState,
    CaptureStats,
    DetectionResult,
    FrameMessage,
    StatusMessage,
    TaskRef,
    frame_message,
    parse_feed_message,
    parse_task_id,
    status_message,
    task_id,
)

MAX_BYTES = 1 << 20


def ok_result(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {"camera": "door", "session": 1, "seq": 7, "algorithm": "fall", "status": "ok",
                               "observation": {"people": []}, "timings": {"detect": 0.01}}
    data.update(changes)
    return data


@pytest.mark.parametrize(
    "text, expected",
    [
        (task_id("door-2", 1700, 42, "blink"), TaskRef("door-2", 1700, 42, "blink")),
        ("vigil.hall_1.5.0.fall", TaskRef("hall_1", 5, 0, "fall")),
        ("0b1c-uuid", None),  # a task that is not Vigil's
        ("vigil.door.1.2", None),  # too few parts
        ("vigil.door.1.2.fall.extra", None),
        ("vigil.door.x.2.fall", None),
        ("vigil.door.1.-2.fall", None),
        ("vigil.door\n.1.2.fall", None),  # a newline can never reach a log line or a metric label
        ("vigil.door.1.2.fa ll", None),
        ("celery.door.1.2.fall", None),
    ],
)
def test_task_ids(text, expected):
    assert parse_task_id(text) == expected
    if expected is not None:
        assert expected.task_id == text


def test_a_frame_message_round_trips():
    stats = CaptureStats(camera="door", state=CameraState.STREAMING, captured=1_234_567, sent=1_234_560)
    message = frame_message(frame_payload(3), ["fall", "blink"], stats)
    parsed = parse_feed_message(message, MAX_BYTES)
    assert isinstance(parsed, FrameMessage)
    assert (parsed.frame.camera, parsed.frame.seq, parsed.algorithms) == ("door", 3, ("fall", "blink"))
    assert parsed.stats == stats


def test_a_status_message_round_trips():
    stats = CaptureStats(camera="door", state=CameraState.RECONNECTING, error="refused")
    parsed = parse_feed_message(status_message("door", 9, stats), MAX_BYTES)
    assert parsed == StatusMessage("door", 9, stats)


@pytest.mark.parametrize(
    "message, error, text",
    [
        (["frame"], MessageError, "must be a map"),
        ({"kind": "hello"}, MessageError, "unknown feed message kind 'hello'"),
        ({"kind": "status", "session": 1}, MessageError, "without 'camera'"),
        ({"kind": "status", "camera": "../etc", "session": 1}, Exception, "bad camera name"),
        ({"kind": "status", "camera": "door", "session": "x"}, MessageError, "malformed status"),
        ({**feed_frame(1), "algorithms": "fall"}, MessageError, "list of names"),
        ({**feed_frame(1), "stats": {"captured": -1}}, MessageError, "captured must be >= 0"),
        ({**feed_frame(1), "stats": {"state": "dancing"}}, MessageError, "unknown state 'dancing'"),
        ({**feed_frame(1), "frame": {"camera": "door"}}, FrameError, "missing field"),
        ({**feed_frame(1), "frame": frame_payload(1, jpeg=b"\xff\xd8" * MAX_BYTES)}, FrameError, "over the maximum"),
    ],
)
def test_malformed_feed_messages_are_refused_with_a_reason(message, error, text):
    with pytest.raises(error, match=text):
        parse_feed_message(message, MAX_BYTES)


def test_a_result_round_trips_through_its_dict():
    result = DetectionResult.from_dict(ok_result())
    assert result.ok and not result.synthetic and result.detector == "fall"
    assert DetectionResult.from_dict(result.to_dict()) == result


@pytest.mark.parametrize(
    "changes, text",
    [
        ({"status": "fine"}, "status must be one of"),
        ({"observation": None}, "an ok result needs an observation"),
        ({"status": "error", "observation": None}, "needs an error message"),
        ({"observation": [1, 2]}, "'observation' must be a map"),
        ({"timings": {"detect": "fast"}}, "malformed detection result"),
        ({"timings": {"detect": float("nan")}}, "not a finite number"),
        ({"seq": "seven"}, "malformed detection result"),
    ],
)
def test_malformed_results_are_refused(changes, text):
    with pytest.raises(MessageError, match=text):
        DetectionResult.from_dict(ok_result(**changes))


def test_a_missing_field_is_named():
    data = ok_result()
    del data["algorithm"]
    with pytest.raises(MessageError, match="without 'algorithm'"):
        DetectionResult.from_dict(data)


def test_a_synthetic_detector_is_recognised():
    assert DetectionResult.from_dict(ok_result(detector="null")).synthetic


def test_an_error_result_for_an_unreadable_payload():
    result = DetectionResult.failed(None, "fall", "FrameDecodeError: bad")
    assert (result.camera, result.seq, result.status, result.ok) == ("?", None, "error", False)
