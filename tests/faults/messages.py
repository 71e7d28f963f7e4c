"""Generated bad messages for the fuzzer: task messages for the workers, feed messages for the streamer.

Every message says what a correct Vigil must do with it, so the fuzzer can account for each one:

- a task message is either **refused** by the worker's consumer (it cannot be decoded, has the
  wrong shape, a forbidden serializer or an unknown task name: logged, rejected without requeue)
  or **answered** with a result in the result backend (an error result for a bad frame, a
  failure for wrong arguments);
- a feed message is either **received** (a frame the streamer admits) or **rejected** (counted in
  ``vigil_feed_rejected``).

Generation is seeded: the same seed gives the same messages, byte for byte.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import msgpack

MSGPACK = "application/x-msgpack"
REFUSED = "refused"
ANSWERED = "answered"
RECEIVED = "received"
REJECTED = "rejected"
TASK = "vigil.detect.fall"


@dataclasses.dataclass(frozen=True)
class FuzzMessage:
    """One message to publish, what it is, and what must become of it."""

    family: str
    body: bytes
    content_type: str
    headers: dict[str, Any]
    expect: str

    @property
    def task_id(self) -> str | None:
        value = self.headers.get("id")
        return value if isinstance(value, str) else None


def _jpeg(rng: random.Random, width: int = 32, height: int = 24) -> bytes:
    import cv2
    import numpy as np

    image = np.frombuffer(rng.randbytes(width * height * 3), np.uint8).reshape(height, width, 3)
    return cv2.imencode(".jpg", image)[1].tobytes()


def _bomb(rng: random.Random) -> bytes:
    jpeg = bytearray(_jpeg(rng, 8, 8))
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5:sof + 9] = rng.choice([(30000, 30000), (65535, 65535), (8192, 8192)])[0].to_bytes(2, "big") * 2
    return bytes(jpeg)


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for level in range(depth):
        value = [value] if level % 2 else {"n": value}
    return value


def _odd_value(rng: random.Random) -> Any:
    """A value of a surprising type or size."""
    return rng.choice([
        None, True, -1, 0, 2**63 - 1, -(2**63), 2**64 - 1, float("nan"), float("inf"), -0.0, 1e308,
        "", "\u202e\ufeff\U0001f525" * rng.randint(1, 50), "a" * rng.randint(1, 10_000), "\x00" * 10,
        b"", rng.randbytes(rng.randint(1, 256)), [], {}, [1, 2, 3], {"jpeg": 1},
        _nested(rng.randint(10, 200)),
    ])


def _frame(rng: random.Random, **changes: Any) -> dict[str, Any]:
    frame: dict[str, Any] = {"camera": "fuzz", "session": 1, "seq": rng.randint(0, 10**6),
                             "captured_at": 1000.0, "width": 32, "height": 24, "jpeg": _jpeg(rng)}
    frame.update(changes)
    return frame


def _bad_frame(rng: random.Random) -> dict[str, Any]:
    """A frame payload that is wrong in one way a worker must answer with an error result."""
    field = rng.choice(["camera", "session", "seq", "captured_at", "width", "height", "jpeg"])
    choice = rng.randrange(9)
    if choice == 0:
        frame = _frame(rng)
        del frame[field]
        return frame
    if choice == 1:
        return _frame(rng, **{field: _odd_value(rng)})
    if choice == 2:
        return _frame(rng, jpeg=_jpeg(rng)[: rng.randint(0, 200)])  # truncated
    if choice == 3:
        return _frame(rng, jpeg=rng.randbytes(rng.randint(1, 4096)))  # not a JPEG at all
    if choice == 4:
        return _frame(rng, jpeg=_bomb(rng))
    if choice == 5:
        return _frame(rng, width=rng.choice([0, -5, 10**9, 2**62]), height=rng.choice([0, 10**9]))
    if choice == 6:
        return _frame(rng, jpeg=b"\xff\xd8" + rng.randbytes(rng.randint(0, 3 * 1024 * 1024)))  # over the limit
    if choice == 7:
        jpeg = bytearray(_jpeg(rng))
        for _ in range(rng.randint(1, 20)):
            jpeg[rng.randrange(len(jpeg))] = rng.randrange(256)  # flipped bytes
        return _frame(rng, jpeg=bytes(jpeg), width=rng.randint(1, 64), height=rng.randint(1, 64))
    return {str(rng.randrange(100)): _odd_value(rng) for _ in range(rng.randint(0, 8))}


def _task_message(rng: random.Random) -> FuzzMessage:
    headers = {"id": f"fuzz-{uuid.UUID(int=rng.getrandbits(128))}", "task": TASK}
    family = rng.choices(
        ["bad_frame", "odd_args", "bad_shape", "undecodable", "serializer", "unknown_task", "bad_headers"],
        weights=[40, 10, 15, 10, 8, 7, 10],
    )[0]
    if family == "bad_frame":
        return FuzzMessage(family, msgpack.packb([[_bad_frame(rng)], {}, {}]), MSGPACK, headers, ANSWERED)
    if family == "odd_args":
        args = rng.choice([[], [_odd_value(rng)], [_frame(rng), _odd_value(rng)]])
        kwargs = rng.choice([{}, {"surprise": _odd_value(rng)}])
        if len(args) == 1 and not kwargs:
            return FuzzMessage(family, msgpack.packb([args, kwargs, {}]), MSGPACK, headers, ANSWERED)
        return FuzzMessage(family, msgpack.packb([args, kwargs, {}]), MSGPACK, headers, REFUSED)
    if family == "bad_shape":
        body = rng.choice([
            {"args": [1]}, [[], {}], [[], {}, {}, {}], 7, None, "text", ["x", {}, {}], [[], [], {}],
            [[], {1: 2}, {}], [[], {}, 7], [[], {}, "embed"], _nested(rng.randint(5, 100)),
        ])
        return FuzzMessage(family, msgpack.packb(body), MSGPACK, headers, REFUSED)
    if family == "undecodable":
        body = rng.choice([rng.randbytes(rng.randint(1, 512)), b"\xc1", msgpack.packb([[_frame(rng)], {}, {}])[:-9]])
        if _decodes(body):
            body = b"\xc1" + body  # 0xc1 is never valid msgpack
        return FuzzMessage(family, body, MSGPACK, headers, REFUSED)
    if family == "serializer":
        content_type, body, expect = rng.choice([
            ("application/x-python-serialize", b"\x80\x04K\x01.", REFUSED),
            ("application/x-yaml", b"!!python/object/apply:os.system ['true']", REFUSED),
            ("text/plain", "\u00e9t\u00e9".encode(), REFUSED),
            ("application/json", b"[[{\"jpeg\": 1}], {}, {}]", ANSWERED),  # accepted, a bad frame
            ("application/json", b"[[], {}, {}", REFUSED),  # truncated
        ])
        return FuzzMessage(family, body, content_type, headers, expect)
    if family == "unknown_task":
        headers["task"] = rng.choice(["vigil.detect.nope", "", "\u202e" * 40, "os.system", "vigil.detect." + "x" * 300])
        return FuzzMessage(family, msgpack.packb([[_frame(rng)], {}, {}]), MSGPACK, headers, REFUSED)
    key = rng.choice(["id", "task"])
    broken: dict[str, Any] = dict(headers)
    if rng.random() < 0.3:
        del broken[key]
    else:
        broken[key] = rng.choice([None, 7, 1.5, ["x"], {"a": 1}])  # AMQP carries bytes as text
    return FuzzMessage(family, msgpack.packb([[_frame(rng)], {}, {}]), MSGPACK, broken, REFUSED)


def _decodes(body: bytes) -> bool:
    try:
        msgpack.unpackb(body)
    except Exception:
        return False
    return True


def task_messages(seed: int, count: int) -> list[FuzzMessage]:
    """``count`` generated task messages for the ``fall`` queue, the same for the same seed."""
    rng = random.Random(seed)
    return [_task_message(rng) for _ in range(count)]


_FEED_FAMILIES: dict[str, Callable[[random.Random], tuple[Any, str]]] = {}


def _feed(name: str) -> Callable[[Callable[[random.Random], tuple[Any, str]]], Callable[..., Any]]:
    def register(make: Callable[[random.Random], tuple[Any, str]]) -> Callable[..., Any]:
        _FEED_FAMILIES[name] = make
        return make

    return register


@_feed("bad_frame")
def _feed_bad_frame(rng: random.Random) -> tuple[Any, str]:
    frame = _bad_frame(rng)
    if isinstance(frame.get("camera"), str) and frame.get("jpeg") is not None and rng.random() < 0.5:
        frame["camera"] = "fuzz"
    return {"kind": "frame", "frame": frame, "algorithms": ["fall"], "stats": {}}, REJECTED


@_feed("bad_envelope")
def _feed_bad_envelope(rng: random.Random) -> tuple[Any, str]:
    body = rng.choice([
        {"kind": "frame"}, {"kind": "frame", "frame": _frame(rng), "algorithms": "fall"},
        {"kind": "frame", "frame": _frame(rng), "algorithms": [_odd_value(rng)]},
        {"kind": "frame", "frame": _frame(rng), "algorithms": ["nope"]},
        {"kind": _odd_value(rng)}, {"kind": "status"}, {"kind": "status", "camera": 7, "session": "x"},
        {"kind": "status", "camera": "never-sent-a-frame", "session": 1, "stats": {}},
        {"kind": "frame", "frame": _frame(rng, camera="../../etc/passwd"), "algorithms": ["fall"]},
        {"kind": "frame", "frame": _frame(rng, camera="<script>"), "algorithms": ["fall"]},
        {str(i): _odd_value(rng) for i in range(rng.randint(0, 6))},
    ])
    return body, REJECTED


@_feed("not_a_map")
def _feed_not_a_map(rng: random.Random) -> tuple[Any, str]:
    return rng.choice([[1, 2], 7, None, "frame", _nested(50), b"\xff\xd8"]), REJECTED


@_feed("undecodable")
def _feed_undecodable(rng: random.Random) -> tuple[Any, str]:
    return rng.choice([b"\xc1", rng.randbytes(rng.randint(1, 300)) + b"\xc1"]), REJECTED


@_feed("serializer")
def _feed_serializer(rng: random.Random) -> tuple[Any, str]:
    return rng.choice([b"\x80\x04K\x01.", b"{\"kind\": \"frame\"}", b"kind: frame"]), REJECTED


def feed_messages(seed: int, count: int) -> Iterator[FuzzMessage]:
    """``count`` generated bad feed messages, the same for the same seed."""
    rng = random.Random(seed)
    names = sorted(_FEED_FAMILIES)
    for _ in range(count):
        family = rng.choice(names)
        body, expect = _FEED_FAMILIES[family](rng)
        if family in ("undecodable",):
            yield FuzzMessage(family, body, MSGPACK, {}, expect)
        elif family == "serializer":
            content_type = {b"\x80": "application/x-python-serialize", b"{": "application/json"}.get(
                body[:1], "application/x-yaml")
            yield FuzzMessage(family, body, content_type, {}, expect)
        else:
            yield FuzzMessage(family, msgpack.packb(body), MSGPACK, {}, expect)
