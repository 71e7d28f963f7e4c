"""Helpers shared by the tests: parsing MJPEG streams."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO


def read_mjpeg_parts(stream: BinaryIO) -> Iterator[tuple[dict[str, str], bytes]]:
    """Yield (headers, jpeg) for each part of a multipart/x-mixed-replace stream."""
    while True:
        line = stream.readline()
        if not line:
            return
        if not line.startswith(b"--"):
            continue
        headers = {}
        while True:
            line = stream.readline().rstrip(b"\r\n")
            if not line:
                break
            name, _, value = line.decode("ascii").partition(": ")
            headers[name] = value
        body = stream.read(int(headers["Content-Length"]))
        yield headers, body
