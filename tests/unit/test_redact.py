"""No password in a URL is ever shown: logs, /cameras (capture stats); `vigil settings`: test_settings.py."""

from __future__ import annotations

import logging

import pytest

from vigil.logs import RedactingFilter
from vigil.messages import CaptureStats
from vigil.redact import redact


@pytest.mark.parametrize("text, shown", [
    ("rtsp://user:pw@10.0.0.5/stream", "rtsp://user:***@10.0.0.5/stream"),
    ("amqp://guest:guest@127.0.0.1:5672//", "amqp://guest:***@127.0.0.1:5672//"),
    ("rediss://:s3cret@redis:6380/0", "rediss://:***@redis:6380/0"),
    ("rtsp://admin:p@ss:w@rd@cam/live", "rtsp://admin:***@cam/live"),  # an unescaped '@' in the password
    ("cannot open stream rtsp://a:b@c/d, retrying", "cannot open stream rtsp://a:***@c/d, retrying"),
    ("two: rtsp://a:1@x/ rtsp://b:2@y/", "two: rtsp://a:***@x/ rtsp://b:***@y/"),
    ("http://cam/snap.jpg?user=admin&password=hunter2&x=1", "http://cam/snap.jpg?user=admin&password=***&x=1"),
    ("rtsp://10.0.0.5:554/stream", "rtsp://10.0.0.5:554/stream"),
    ("http://user@host/", "http://user@host/"),
    ("/videos/a:b@c.mp4", "/videos/a:b@c.mp4"),
    ("door 15 fps", "door 15 fps"),
])
def test_redact(text, shown):
    assert redact(text) == shown


def test_log_lines_are_redacted_whoever_logs_them():
    record = logging.LogRecord("kombu", logging.WARNING, __file__, 1, "cannot connect to %s: %s", (
        "amqp://vigil:hunter2@broker:5672//", "refused"), None)
    RedactingFilter().filter(record)
    assert record.getMessage() == "cannot connect to amqp://vigil:***@broker:5672//: refused"
    try:
        raise OSError("rtsp://u:hunter2@cam/ unreachable")
    except OSError:
        import sys

        failed = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    RedactingFilter().filter(failed)
    assert "hunter2" not in logging.Formatter().format(failed)


def test_capture_stats_never_carry_a_password():
    # produced (to_dict) and received from an older producer (from_dict): /cameras shows neither
    stats = CaptureStats("door", source="stream rtsp://u:pw@cam/x", error="cannot open rtsp://u:pw@cam/x")
    assert "pw" not in str(stats.to_dict())
    received = CaptureStats.from_dict({"source": "rtsp://u:pw@cam/x", "error": "rtsp://u:pw@cam/x"}, "door")
    assert received.source == "rtsp://u:***@cam/x" and received.error == "rtsp://u:***@cam/x"

