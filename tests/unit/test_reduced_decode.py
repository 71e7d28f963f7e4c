"""A detector that takes a reduced decode answers in the frame's full-size pixels."""

from __future__ import annotations

import time

import numpy as np

from vigil.detectors.bodies import Body
from vigil.detectors.fall import FallDetector
from vigil.frames import encode_frame
from vigil.tasks import detect as detect_module
from vigil.tasks.detect import detect_frame


class OneBody:
    """A stand-in BodyFinder: one person at fixed pixels of whatever image it is given."""

    size = 224

    def __init__(self) -> None:
        self.seen: list[tuple[int, ...]] = []

    def find(self, image: np.ndarray) -> list[Body]:
        self.seen.append(image.shape)
        return [Body(box=[0, 0, 1, 1], score=0.9, hips=(100.0, 80.0), shoulders=(100.0, 40.0), axis_angle=0.0,
                     body_radius=50.0)]


def fall_detector() -> FallDetector:
    detector = FallDetector.__new__(FallDetector)
    detector.finder = OneBody()  # type: ignore[assignment]
    detector.min_side = 224
    return detector


def test_full_size_scales_every_coordinate_back():
    detector = fall_detector()
    half = detector.detect(np.zeros((180, 320, 3), np.uint8), full_size=(640, 360))
    person = half.people[0]
    assert (half.width, half.height) == (640, 360)
    assert (person.hips, person.shoulders, person.radius) == ([200.0, 160.0], [200.0, 80.0], 100.0)
    assert person.box == [100, 60, 200, 200]


def test_without_full_size_the_image_is_the_frame():
    observation = fall_detector().detect(np.zeros((180, 320, 3), np.uint8))
    assert (observation.width, observation.height, observation.people[0].hips) == (320, 180, [100.0, 80.0])


def test_the_task_decodes_at_half_size_for_the_fall_model(monkeypatch):
    # Given a 640 x 360 frame on the wire and a fall detector whose model takes 224 pixels
    detector = fall_detector()
    monkeypatch.setattr(detect_module, "load_detector", lambda algorithm, override: detector)
    image = np.random.default_rng(2).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    frame = encode_frame(image, camera="door", session=1, seq=3, captured_at=time.time(), quality=80,
                         max_bytes=1 << 22)
    # When the task runs
    result = detect_frame(frame.to_payload(), "fall", max_bytes=1 << 22)
    # Then the model saw the frame decoded at 1/2, and the result is in full-size pixels
    assert detector.finder.seen == [(180, 320, 3)]  # type: ignore[attr-defined]
    assert (result.observation["width"], result.observation["height"]) == (640, 360)
    assert result.observation["people"][0]["hips"] == [200.0, 160.0]
