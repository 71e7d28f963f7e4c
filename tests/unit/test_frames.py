"""The frame wire format: one resize, one JPEG, metadata, size limits, clear errors."""

import msgpack
import numpy as np
import pytest

from vigil.errors import ConfigError, FrameDecodeError, FrameTooLargeError
from vigil.frames import (
    Frame,
    check_camera_name,
    decode_frame,
    decode_jpeg,
    encode_frame,
    reduction_for,
    target_size,
)


def textured(height=480, width=640):
    yy, xx = np.mgrid[0:height, 0:width]
    return np.dstack([xx % 256, yy % 256, (xx * yy) % 256]).astype(np.uint8)


def encode(image=None, **overrides):
    options = dict(camera="door", session=7, seq=3, captured_at=1000.5, quality=80, max_bytes=1 << 22)
    options.update(overrides)
    return encode_frame(textured() if image is None else image, **options)


def test_frame_round_trips_through_msgpack_as_binary():
    frame = encode()
    wire = msgpack.packb(frame.to_payload())
    assert len(wire) < len(frame.jpeg) * 1.01  # bytes travel as bin, not base64
    again = Frame.from_payload(msgpack.unpackb(wire), max_bytes=1 << 22)
    assert again == frame
    assert decode_frame(again).shape == (480, 640, 3)


@pytest.mark.parametrize(
    "source, want, expected",
    [
        ((640, 480), (0, 0), (640, 480)),
        ((1280, 720), (640, 0), (640, 360)),
        ((1280, 720), (0, 360), (640, 360)),
        ((1280, 720), (320, 240), (320, 240)),
    ],
)
def test_target_size(source, want, expected):
    assert target_size(*source, *want) == expected


def test_encode_resizes_once_and_records_the_size():
    frame = encode(textured(720, 1280), width=640)
    assert (frame.width, frame.height) == (640, 360)
    assert decode_frame(frame).shape == (360, 640, 3)


def test_quality_changes_the_size():
    assert len(encode(quality=30).jpeg) < len(encode(quality=95).jpeg)


def test_oversized_frame_is_refused_with_advice():
    with pytest.raises(FrameTooLargeError, match="over the maximum of 1024.*VIGIL_MAX_PAYLOAD_BYTES"):
        encode(max_bytes=1024)


def test_oversized_payload_is_refused_on_receipt():
    payload = encode().to_payload()
    with pytest.raises(FrameTooLargeError, match="door#3"):
        Frame.from_payload(payload, max_bytes=1024)


@pytest.mark.parametrize(
    "payload, message",
    [
        ([1, 2], "expected a dict, got list"),
        ({"camera": "a"}, "missing field"),
        ({"camera": "a", "session": 1, "seq": "x", "captured_at": 1, "width": 1, "height": 1, "jpeg": b""},
         "invalid literal"),
        ({"camera": "a", "session": 1, "seq": 1, "captured_at": 1, "width": 1, "height": 1, "jpeg": "text"},
         "'jpeg' must be bytes"),
    ],
)
def test_malformed_payload_is_a_decode_error(payload, message):
    with pytest.raises(FrameDecodeError, match=message):
        Frame.from_payload(payload, max_bytes=1 << 20)


def test_corrupt_jpeg_is_a_clear_error():
    jpeg = encode().jpeg
    with pytest.raises(FrameDecodeError, match="corrupt JPEG"):
        decode_jpeg(jpeg[:2] + b"\x00" * 200, "frame door#3")
    with pytest.raises(FrameDecodeError, match="not a JPEG"):
        decode_jpeg(b"GIF89a...", "frame door#3")


@pytest.mark.parametrize("name", ["door", "cam-1", "Hall_2", "a" * 64])
def test_good_camera_names(name):
    assert check_camera_name(name) == name


@pytest.mark.parametrize("name", ["", "has space", "dot.ted", "-lead", "a" * 65, "slash/y"])
def test_bad_camera_names(name):
    with pytest.raises(ConfigError, match="bad camera name"):
        check_camera_name(name)


def bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A real small JPEG whose frame header is rewritten to claim width x height."""
    import cv2
    import numpy as np

    jpeg = bytearray(cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes())
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5:sof + 7] = height.to_bytes(2, "big")
    jpeg[sof + 7:sof + 9] = width.to_bytes(2, "big")
    return bytes(jpeg)


def test_a_decompression_bomb_is_refused_before_decoding():
    import resource

    from vigil.frames import decode_jpeg, jpeg_dimensions

    data = bomb()
    assert len(data) < 1000 and jpeg_dimensions(data) == (30000, 30000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(FrameDecodeError, match="claims 30000x30000 pixels, over the limit"):
        decode_jpeg(data, "frame door#1")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB: nothing was allocated


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"\xff\xd8", None),
        (b"\xff\xd8\xff\xda\x00\x08" + b"\x00" * 10, None),  # image data before any frame header
        (b"\xff\xd8\x00\x00", None),
    ],
)
def test_jpeg_dimensions_of_truncated_or_odd_headers(data, expected):
    from vigil.frames import jpeg_dimensions

    assert jpeg_dimensions(data) == expected


@pytest.mark.parametrize("width, height", [(30000, 30000), (0, 480), (640, -1)])
def test_a_payload_claiming_an_impossible_size_is_refused(width, height):
    payload = {"camera": "door", "session": 1, "seq": 1, "captured_at": 1.0, "width": width, "height": height,
               "jpeg": b"\xff\xd8"}
    with pytest.raises(FrameDecodeError, match="is out of range"):
        Frame.from_payload(payload, 1 << 20)


@pytest.mark.parametrize(
    ("width", "height", "min_side", "factor"),
    [
        (640, 360, 0, 1),  # no minimum: full size
        (640, 360, 224, 2),  # 320 >= 224, 160 is not
        (1280, 720, 224, 4),
        (2560, 1440, 224, 8),
        (320, 240, 224, 1),  # already near the model's input
        (406, 720, 224, 2),  # portrait: the longer side counts
        (447, 100, 224, 2),  # libjpeg rounds 223.5 up to 224
        (640, 360, 641, 1),
    ],
)
def test_reduction_keeps_the_longer_side_at_least_min_side(width, height, min_side, factor):
    assert reduction_for(width, height, min_side) == factor


@pytest.mark.parametrize(("min_side", "shape"), [(0, (360, 640, 3)), (224, (180, 320, 3)), (100, (90, 160, 3))])
def test_decode_at_reduced_scale(min_side, shape):
    image = np.random.default_rng(1).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    frame = encode_frame(image, camera="c", session=1, seq=1, captured_at=0.0, quality=80, max_bytes=1 << 22)
    assert decode_jpeg(frame.jpeg, min_side=min_side).shape == shape
    assert decode_frame(frame, min_side).shape == shape
