"""The frame wire format: one JPEG, encoded once at capture, plus its metadata.

A frame travels as a plain dict (msgpack carries ``jpeg`` as binary, no base64)::

    {"camera": "door", "session": 1764230000123, "seq": 42, "captured_at": 1764230001.25,
     "width": 640, "height": 360, "jpeg": b"\\xff\\xd8..."}

``session`` identifies one run of a capture daemon, so a restarted camera (whose ``seq``
starts again at 0) is never mistaken for old frames. A camera with masks (the site file's
``masks``) adds ``"masks": [[[x, y], ...], ...]``, polygons in normalized coordinates that
the worker blanks before detection: masks travel with the frame, so a worker needs no site
file and serves any camera, and a frame is always detected under its own capture's masks.
"""

from __future__ import annotations

import dataclasses
import re
import time
from typing import Any

import cv2
import numpy as np

from vigil.errors import ConfigError, FrameDecodeError, FrameTooLargeError

CAMERA_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_JPEG_MAGIC = b"\xff\xd8"
# An 8K frame; a JPEG whose header claims more is refused before decoding: 629 bytes can
# claim 30000 x 30000 pixels, and decoding them would take 2.7 GB.
MAX_FRAME_PIXELS = 7680 * 4320
# Start-of-frame markers (baseline, extended, progressive, lossless, arithmetic...): all but
# DHT (C4), JPG (C8) and DAC (CC), which share the range.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
MAX_MASKS = 32
MAX_POLYGON_POINTS = 64

Polygon = tuple[tuple[float, float], ...]


def check_camera_name(name: str) -> str:
    """Return ``name`` if it is a valid camera name (used in task ids and URLs).

    Raises:
        ConfigError: not 1-64 letters, digits, ``-`` or ``_`` starting with a letter or digit.
    """
    if not CAMERA_NAME_PATTERN.fullmatch(name or ""):  # fullmatch: "$" would accept a trailing newline
        raise ConfigError(
            f"bad camera name {name!r}: use 1-64 letters, digits, '-' or '_', starting with a letter or digit"
        )
    return name


@dataclasses.dataclass(frozen=True)
class Frame:
    """One captured frame, JPEG-encoded, with where and when it came from."""

    camera: str
    session: int
    seq: int
    captured_at: float
    width: int
    height: int
    jpeg: bytes
    masks: tuple[Polygon, ...] = ()

    def to_payload(self) -> dict[str, Any]:
        payload = dataclasses.asdict(self)
        if not self.masks:
            del payload["masks"]  # the common case stays the format older workers know
        return payload

    @classmethod
    def from_payload(cls, payload: Any, max_bytes: int) -> Frame:
        """Validate a payload from the wire and build the frame.

        Raises:
            FrameTooLargeError: the JPEG is over ``max_bytes``.
            FrameDecodeError: a field is missing or has the wrong type.
        """
        if not isinstance(payload, dict):
            raise FrameDecodeError(f"malformed frame payload: expected a dict, got {type(payload).__name__}")
        try:
            jpeg = payload["jpeg"]
            frame = cls(
                camera=str(payload["camera"]),
                session=int(payload["session"]),
                seq=int(payload["seq"]),
                captured_at=float(payload["captured_at"]),
                width=int(payload["width"]),
                height=int(payload["height"]),
                jpeg=bytes(jpeg) if isinstance(jpeg, (bytes, bytearray, memoryview)) else _not_bytes(jpeg),
                masks=parse_masks(payload.get("masks") or ()),
            )
        except KeyError as exc:
            raise FrameDecodeError(f"malformed frame payload: missing field {exc.args[0]!r}") from None
        except (TypeError, ValueError, OverflowError) as exc:
            raise FrameDecodeError(f"malformed frame payload: {exc}") from None
        check_payload_size(len(frame.jpeg), max_bytes, frame.camera, frame.seq)
        if not (0 < frame.width and 0 < frame.height and frame.width * frame.height <= MAX_FRAME_PIXELS):
            raise FrameDecodeError(
                f"frame {frame.camera}#{frame.seq}: size {frame.width}x{frame.height} is out of range "
                f"(at most {MAX_FRAME_PIXELS:,} pixels)"
            )
        return frame

    @property
    def age(self) -> float:
        return time.time() - self.captured_at


def parse_masks(value: Any) -> tuple[Polygon, ...]:
    """Validate mask polygons from the wire: at most 32, of 3 to 64 ``[x, y]`` points in 0..1.

    Raises:
        ValueError: anything else.
    """
    if not isinstance(value, (list, tuple)) or len(value) > MAX_MASKS:
        raise ValueError(f"'masks' must be a list of at most {MAX_MASKS} polygons")
    polygons = []
    for polygon in value:
        if not isinstance(polygon, (list, tuple)) or not 3 <= len(polygon) <= MAX_POLYGON_POINTS:
            raise ValueError(f"a mask must be a list of 3 to {MAX_POLYGON_POINTS} points")
        points = []
        for point in polygon:
            if not isinstance(point, (list, tuple)) or len(point) != 2:
                raise ValueError("a mask point must be [x, y]")
            x, y = float(point[0]), float(point[1])
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
                raise ValueError(f"mask point {[x, y]} is outside 0..1")
            points.append((x, y))
        polygons.append(tuple(points))
    return tuple(polygons)


def apply_masks(image: np.ndarray, masks: tuple[Polygon, ...]) -> np.ndarray:
    """``image`` with every mask polygon filled black (in place; returned for chaining)."""
    if masks:
        height, width = image.shape[:2]
        scale = np.array([width - 1, height - 1], dtype=np.float64)
        cv2.fillPoly(image, [np.round(np.array(p) * scale).astype(np.int32) for p in masks], (0, 0, 0))
    return image


def _not_bytes(value: Any) -> bytes:
    raise TypeError(f"'jpeg' must be bytes, got {type(value).__name__}")


def check_payload_size(size: int, max_bytes: int, camera: str, seq: int) -> None:
    if size > max_bytes:
        raise FrameTooLargeError(
            f"frame {camera}#{seq} is {size} bytes, over the maximum of {max_bytes} "
            "(raise VIGIL_MAX_PAYLOAD_BYTES, or lower --width or VIGIL_JPEG_QUALITY)"
        )


def target_size(width: int, height: int, want_width: int, want_height: int) -> tuple[int, int]:
    """The size a ``width`` x ``height`` image is resized to (0 = keep / keep the aspect)."""
    if want_width and want_height:
        return want_width, want_height
    if want_width:
        return want_width, max(1, round(height * want_width / width))
    if want_height:
        return max(1, round(width * want_height / height)), want_height
    return width, height


def encode_frame(
    image: np.ndarray,
    *,
    camera: str,
    session: int,
    seq: int,
    captured_at: float,
    quality: int,
    width: int = 0,
    height: int = 0,
    max_bytes: int,
) -> Frame:
    """Resize ``image`` once and JPEG-encode it once.

    Raises:
        FrameTooLargeError: the JPEG is over ``max_bytes``.
        FrameDecodeError: OpenCV cannot encode the image.
    """
    src_h, src_w = image.shape[:2]
    out_w, out_h = target_size(src_w, src_h, width, height)
    if (out_w, out_h) != (src_w, src_h):
        shrinking = out_w * out_h < src_w * src_h
        image = cv2.resize(image, (out_w, out_h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise FrameDecodeError(f"cannot JPEG-encode frame {camera}#{seq}")
    jpeg = buffer.tobytes()
    check_payload_size(len(jpeg), max_bytes, camera, seq)
    return Frame(camera, session, seq, captured_at, out_w, out_h, jpeg)


def jpeg_dimensions(jpeg: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's start-of-frame header, without decoding; None if there is none."""
    index = 2
    while index + 4 <= len(jpeg):
        if jpeg[index] != 0xFF:
            return None
        marker = jpeg[index + 1]
        if marker == 0xFF:  # fill byte
            index += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length field
            index += 2
            continue
        length = int.from_bytes(jpeg[index + 2:index + 4], "big")
        if marker in _SOF_MARKERS:
            if index + 9 > len(jpeg):
                return None
            height = int.from_bytes(jpeg[index + 5:index + 7], "big")
            width = int.from_bytes(jpeg[index + 7:index + 9], "big")
            return width, height
        if marker == 0xDA or length < 2:  # image data before any frame header
            return None
        index += 2 + length
    return None


def reduction_for(width: int, height: int, min_side: int) -> int:
    """The largest JPEG decode reduction (1, 2, 4 or 8) that keeps the longer side >= ``min_side``.

    libjpeg scales by 1/2, 1/4 or 1/8 inside the decoder (skipping most of the inverse DCT),
    so a model with a small input gets its pixels for a fraction of a full decode.
    ``min_side`` 0 means full size.
    """
    if min_side <= 0:
        return 1
    longer = max(width, height)
    for factor in (8, 4, 2):
        if -(-longer // factor) >= min_side:  # libjpeg rounds the reduced size up
            return factor
    return 1


_REDUCED_FLAGS = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
                  8: cv2.IMREAD_REDUCED_COLOR_8}


def decode_jpeg(jpeg: bytes, label: str = "frame", max_pixels: int = MAX_FRAME_PIXELS, min_side: int = 0) -> np.ndarray:
    """Decode JPEG bytes into a BGR uint8 image.

    The header's size is checked first: a small file may claim a huge image.

    With ``min_side``, decode at the smallest 1/2, 1/4 or 1/8 scale whose longer side is
    still at least that many pixels (:func:`reduction_for`).

    Raises:
        FrameDecodeError: the bytes are not a decodable JPEG, or claim more than ``max_pixels``.
    """
    if not jpeg.startswith(_JPEG_MAGIC):
        raise FrameDecodeError(f"{label}: not a JPEG (bad magic bytes)")
    size = jpeg_dimensions(jpeg)
    if size is None:
        raise FrameDecodeError(f"{label}: corrupt JPEG (no frame header in {len(jpeg)} bytes)")
    if size[0] * size[1] > max_pixels:
        raise FrameDecodeError(
            f"{label}: the JPEG claims {size[0]}x{size[1]} pixels, over the limit of {max_pixels:,}"
        )
    flags = _REDUCED_FLAGS[reduction_for(size[0], size[1], min_side)]
    image = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), flags)
    if image is None:
        raise FrameDecodeError(f"{label}: corrupt JPEG ({len(jpeg)} bytes could not be decoded)")
    return image


def decode_frame(frame: Frame, min_side: int = 0) -> np.ndarray:
    """Decode a frame's JPEG, reduced as far as ``min_side`` allows (see :func:`decode_jpeg`)."""
    return decode_jpeg(frame.jpeg, f"frame {frame.camera}#{frame.seq}", min_side=min_side)
