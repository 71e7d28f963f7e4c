"""Vigil's exceptions, one tree so callers can catch exactly what they mean.

    VigilError
     ├── ConfigError            a bad setting, option or environment variable
     │    └── QueueMismatchError   a broker queue exists with other arguments (AMQP 406)
     ├── MessageError           a feed message, task id or detection result that is malformed
     ├── FrameError             a frame that cannot travel or be read
     │    ├── FrameTooLargeError   the encoded payload is over the configured maximum
     │    └── FrameDecodeError     corrupt JPEG or malformed payload
     ├── DetectorError          a detector failed to load or to run
     │    └── UnknownDetectorError  no detector is registered under that name
     ├── CaptureError           a camera, stream or file cannot be opened or read
     ├── BrokerUnavailableError the broker or result backend cannot be reached
 └── EventStoreError        the event store (SQLite, PostgreSQL) cannot be read or written
"""

from __future__ import annotations


class VigilError(Exception):
    """Base class of every error Vigil raises on purpose."""


class ConfigError(VigilError):
    """A setting, option or environment variable has a bad value."""


class QueueMismatchError(ConfigError):
    """A queue already exists on the broker with different arguments."""


class MessageError(VigilError):
    """A cross-process message (feed message, detection result) is malformed."""


class FrameError(VigilError):
    """A frame cannot be encoded, sent or decoded."""


class FrameTooLargeError(FrameError):
    """An encoded frame is larger than the configured maximum payload."""


class FrameDecodeError(FrameError):
    """A payload is malformed or its JPEG cannot be decoded."""


class DetectorError(VigilError):
    """A detector cannot be loaded or failed on a frame."""


class UnknownDetectorError(DetectorError, ConfigError):
    """No detector is registered under the requested name."""


class CaptureError(VigilError):
    """A video source cannot be opened or read."""


class BrokerUnavailableError(VigilError):
    """The message broker or the result backend cannot be reached."""


class EventStoreError(VigilError):
    """The event store (SQLite file or PostgreSQL) cannot be reached, read or written."""
