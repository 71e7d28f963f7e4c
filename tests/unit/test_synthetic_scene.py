"""Every real detector stays silent on the built-in synthetic scene (shapes, gradients, no one there)."""

import pytest

from vigil.capture.sources import open_source
from vigil.detectors.registry import load_detector


@pytest.mark.parametrize("algorithm", ["fall", "emotion", "pose", "blink"])
def test_no_face_and_no_person_in_the_synthetic_scene(algorithm):
    source = open_source("synthetic")
    detector = load_detector(algorithm)
    found = {}
    for index in range(120):
        observation = detector.detect(source.read()).to_dict()
        entries = observation.get("faces", observation.get("people", []))
        if entries:
            found[index] = entries
    assert not found, f"{algorithm} saw something in frames {sorted(found)[:10]}"
