"""The frame wire format: one JPEG, encoded once at capture, plus its metadata.

A frame travels as a plain dict (msgpack carries ``jpeg`` as binary, no base64)::

    {"camera": "door", "session": 1764230000123, "seq": 42, "captured_at": 1764230001.25,
     "width": 640, "height": 360, "jpeg": b"\\xff\\xd8..."}

``session`` identifies one run of a capture daemon, so a restarted camera (whose ``seq``
starts again at 0) is never mistaken for old frames.
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

    def to_payload(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

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
            )
        except KeyError as exc:
            raise FrameDecodeError(f"malformed frame payload: missing field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise FrameDecodeError(f"malformed frame payload: {exc}") from None
        check_payload_size(len(frame.jpeg), max_bytes, frame.camera, frame.seq)
        return frame

    @property
    def age(self) -> float:
        return time.time() - self.captured_at


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


def decode_jpeg(jpeg: bytes, label: str = "frame") -> np.ndarray:
    """Decode JPEG bytes into a BGR uint8 image.

    Raises:
        FrameDecodeError: the bytes are not a decodable JPEG.
    """
    if not jpeg.startswith(_JPEG_MAGIC):
        raise FrameDecodeError(f"{label}: not a JPEG (bad magic bytes)")
    image = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise FrameDecodeError(f"{label}: corrupt JPEG ({len(jpeg)} bytes could not be decoded)")
    return image


def decode_frame(frame: Frame) -> np.ndarray:
    """Decode a frame's JPEG (see :func:`decode_jpeg`)."""
    return decode_jpeg(frame.jpeg, f"frame {frame.camera}#{frame.seq}")
