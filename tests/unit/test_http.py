"""MJPEG and event-stream framing, and the metrics text format."""

import io
import json

import cv2
import numpy as np

from tests.helpers import read_mjpeg_parts
from vigil.stream.http import mjpeg_part, sse_message
from vigil.stream.metrics import Registry


def test_mjpeg_parts_concatenate_into_a_parseable_stream():
    images = [np.full((8, 8, 3), value, np.uint8) for value in (0, 128, 255)]
    jpegs = [cv2.imencode(".jpg", image)[1].tobytes() for image in images]
    stream = b"".join(mjpeg_part(jpeg, {"X-Vigil-Seq": str(i)}) for i, jpeg in enumerate(jpegs))
    parsed = list(read_mjpeg_parts(io.BytesIO(stream)))
    assert [jpeg for _, jpeg in parsed] == jpegs
    assert [headers["X-Vigil-Seq"] for headers, _ in parsed] == ["0", "1", "2"]
    assert all(cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR).shape == (8, 8, 3) for _, j in parsed)


def test_sse_message():
    text = sse_message({"kind": "fall", "seq": 3}).decode()
    assert text.startswith("event: event\ndata: ") and text.endswith("\n\n")
    assert json.loads(text.split("data: ", 1)[1]) == {"kind": "fall", "seq": 3}


def test_metrics_text_format():
    registry = Registry()
    counter = registry.counter("vigil_frames_total", "Frames.")
    histogram = registry.histogram("vigil_latency_seconds", "Latency.", buckets=(0.01, 0.1))
    counter.inc(camera="door")
    counter.inc(2, camera="door")
    for value in (0.005, 0.05, 0.5):
        histogram.observe(value, camera='we"ird')
    text = registry.render()
    assert '# TYPE vigil_frames_total counter' in text
    assert 'vigil_frames_total{camera="door"} 3' in text
    assert 'vigil_latency_seconds_bucket{camera="we\\"ird",le="0.01"} 1' in text
    assert 'vigil_latency_seconds_bucket{camera="we\\"ird",le="0.1"} 2' in text
    assert 'vigil_latency_seconds_bucket{camera="we\\"ird",le="+Inf"} 3' in text
    assert 'vigil_latency_seconds_count{camera="we\\"ird"} 3' in text
