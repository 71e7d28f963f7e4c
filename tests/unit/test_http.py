"""MJPEG and event-stream framing."""

import io
import json

import cv2
import numpy as np

from tests.helpers import read_mjpeg_parts
from vigil.stream.http import mjpeg_part, sse_message


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
