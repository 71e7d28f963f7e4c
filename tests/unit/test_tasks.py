"""The detection task's pure function: results, timings and errors that never raise."""

import time

import numpy as np
import pytest

from vigil.detectors.synthetic import parse_override
from vigil.errors import ConfigError
from vigil.frames import encode_frame
from vigil.stats import percentile, summarize
from vigil.tasks.detect import detect_frame


def payload(**overrides):
    image = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    frame = encode_frame(image, camera="door", session=5, seq=9, captured_at=time.time(), quality=80,
                         max_bytes=1 << 20)
    data = frame.to_payload()
    data.update(overrides)
    return data


def test_ok_result_has_observation_and_timings():
    result = detect_frame(payload(), "fall", max_bytes=1 << 20, override="null")
    assert result.status == "ok" and result.error is None
    assert (result.camera, result.seq, result.algorithm, result.detector) == ("door", 9, "fall", "null")
    assert set(result.timings) >= {"queue_wait", "decode", "detect"}
    assert result.observation["mean"] > 0


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"jpeg": b"\xff\xd8" + b"\x00" * 100}, "FrameDecodeError: frame door#9: corrupt JPEG"),
        ({"jpeg": b"nope"}, "not a JPEG"),
        ({"seq": "nine"}, "malformed frame payload"),
    ],
)
def test_bad_frames_become_error_results(bad, message):
    result = detect_frame(payload(**bad), "fall", max_bytes=1 << 20, override="null")
    assert result.status == "error" and message in result.error
    assert result.camera == "door"


def test_unknown_algorithm_is_an_error_result_naming_the_known_ones():
    result = detect_frame(payload(), "fal", max_bytes=1 << 20)
    assert result.status == "error"
    assert "unknown algorithm 'fal'" in result.error and "Did you mean 'fall'" in result.error


@pytest.mark.parametrize("value, expected", [("null", ("null", 0.0)), ("busy:50", ("busy", 50.0)),
                                             ("sleep:12.5", ("sleep", 12.5))])
def test_override_parse(value, expected):
    assert parse_override(value) == expected


@pytest.mark.parametrize("value", ["gpu", "busy", "sleep:-1", "null:3", "busy:x"])
def test_bad_override(value):
    with pytest.raises(ConfigError):
        parse_override(value)


def test_percentiles():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5], 99) == 5
    summary = summarize([0.1, 0.2, 0.3])
    assert summary["n"] == 3 and summary["p50"] == 0.2 and summary["max"] == 0.3
