"""A decompression bomb on the frame feed or in a task: refused by its header, memory untouched."""

from __future__ import annotations

import resource

from tests.helpers import feed_frame
from tests.unit.test_frames import bomb
from vigil.messages import DetectionResult, TaskRef
from vigil.settings import Settings
from vigil.stream.core import StreamCore
from vigil.stream.store import EventStore
from vigil.tasks.detect import detect_frame


def peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def test_the_streamer_draws_a_placeholder_instead_of_decoding_a_bomb():
    # Given a feed message whose 640-byte JPEG claims 30000 x 30000 pixels
    core = StreamCore(Settings.load(environ={}), EventStore(":memory:"))
    message = feed_frame(0, ("fall",))
    message["frame"]["jpeg"] = bomb()
    core.on_feed(message)
    core.on_result(TaskRef("door", 1, 0, "fall"), DetectionResult.failed(
        TaskRef("door", 1, 0, "fall"), "fall", "FrameDecodeError: over the limit"))
    core.process()
    before = peak_kib()
    # When a viewer asks for the latest frame
    view = core.views.get("door")
    assert view is not None
    annotated = view.annotated()
    # Then it gets a placeholder of the payload's own (bounded) size, and memory did not move
    assert annotated is not None and annotated.jpeg.startswith(b"\xff\xd8")
    assert peak_kib() - before < 100_000


def test_a_worker_answers_a_bomb_with_an_error_result():
    payload = feed_frame(0)["frame"]
    payload["jpeg"] = bomb()
    before = peak_kib()
    result = detect_frame(payload, "fall", max_bytes=1 << 20, override="null")
    assert result.status == "error" and "claims 30000x30000 pixels" in (result.error or "")
    assert peak_kib() - before < 100_000
