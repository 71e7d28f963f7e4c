"""Observations survive the trip through a dict (and JSON); the registry finds them lazily."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vigil.detectors import registry
from vigil.detectors.blink import BlinkObservation, EyeState
from vigil.detectors.emotion import EMOTIONS, EmotionObservation, FaceEmotion
from vigil.detectors.fall import FallObservation, PersonPose
from vigil.detectors.headpose import HeadPose, HeadPoseObservation
from vigil.errors import UnknownDetectorError

OBSERVATIONS = [
    pytest.param(FallObservation(640, 480, ()), id="fall-empty"),
    pytest.param(
        FallObservation(640, 480, (PersonPose([1, 2, 3, 4], 0.9, 12.5, [5.0, 6.0], [5.0, 1.0], 30.0),)),
        id="fall",
    ),
    pytest.param(BlinkObservation(()), id="blink-empty"),
    pytest.param(
        BlinkObservation((EyeState([1, 2, 3, 4], 0.9, 0.3, 0.28), EyeState([9, 9, 9, 9], 0.8, 0.1, 0.12))),
        id="blink-two-faces",
    ),
    pytest.param(HeadPoseObservation(()), id="pose-empty"),
    pytest.param(HeadPoseObservation((HeadPose([1, 2, 3, 4], 0.9, -20.5, 10.0, 3.0),)), id="pose"),
    pytest.param(EmotionObservation(()), id="emotion-empty"),
    pytest.param(
        EmotionObservation((FaceEmotion([1, 2, 3, 4], 0.9, {e: 1 / 7 for e in EMOTIONS}),)), id="emotion"
    ),
]


@pytest.mark.parametrize("observation", OBSERVATIONS)
def test_round_trip_through_json(observation) -> None:
    data = json.loads(json.dumps(observation.to_dict()))
    assert type(observation).from_dict(data) == observation


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("fall", FallObservation),
        ("blink", BlinkObservation),
        ("pose", HeadPoseObservation),
        ("emotion", EmotionObservation),
    ],
)
def test_registry_parses_each_observation(name: str, cls: type) -> None:
    empty = {"width": 1, "height": 1} if cls is FallObservation else {}
    assert isinstance(registry.parse_observation(name, {**empty, "faces": [], "people": []}), cls)


@pytest.mark.parametrize(
    ("typo", "suggestion"), [("fal", "fall"), ("blinks", "blink"), ("emotions", "emotion")]
)
def test_unknown_algorithm_suggests_the_nearest(typo: str, suggestion: str) -> None:
    with pytest.raises(UnknownDetectorError) as info:
        registry.get_spec(typo)
    message = str(info.value)
    assert f"Did you mean {suggestion!r}" in message
    assert all(name in message for name in ("fall", "emotion", "pose", "blink"))


@pytest.mark.parametrize("name", ["fall", "emotion", "pose", "blink"])
def test_each_algorithm_resolves_to_real_classes(name: str) -> None:
    spec = registry.get_spec(name)
    for path in (spec.detector, spec.observation, spec.rule, spec.overlay, spec.marks):
        assert path is not None
        assert registry.symbol_by_path(path) is not None
    rule = registry.create_rule(name, camera="c")
    assert rule.update(0, 0.0, None) == []


def test_importing_one_algorithm_loads_no_model_and_not_the_others() -> None:
    # Lazy: importing the blink module must not import the emotion or fall modules,
    # nor load a model (models load in the detector's __init__).
    code = (
        "import sys; import vigil.detectors.registry as r; r.create_rule('blink', 'c');"
        "print(sorted(m for m in sys.modules if m.startswith('vigil.detectors.')));"
        "print('ai_edge_litert.interpreter' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    modules, litert = out.strip().splitlines()
    assert "vigil.detectors.blink" in modules
    assert "vigil.detectors.emotion" not in modules and "vigil.detectors.fall" not in modules
    assert litert == "False"


@pytest.mark.parametrize(
    ("name", "observation", "summary"),
    [
        ("fall", FallObservation(640, 480, (PersonPose([100, 100, 200, 200], 0.9, 80.0, [200, 200], [290, 190], 100),)),
         {"fallen": True}),
        ("blink", BlinkObservation((EyeState([100, 100, 120, 120], 0.9, 0.1, 0.1),)),
         {"blinks": 3, "blinks_per_minute": 12.0, "eyes_closed": True}),
        ("pose", HeadPoseObservation((HeadPose([100, 100, 120, 120], 0.9, 30.0, -10.0, 5.0),)),
         {"yaw": 30.0, "pitch": -10.0, "roll": 5.0, "looking_away": False}),
        ("emotion", EmotionObservation((FaceEmotion([100, 100, 120, 120], 0.9, {e: 1 / 7 for e in EMOTIONS}),)),
         {"label": "happy"}),
    ],
)  # fmt: skip
def test_overlays_draw_in_place(name: str, observation, summary: dict) -> None:
    import numpy as np

    from vigil.stream.people import draw_people, group_people

    image = np.zeros((480, 640, 3), np.uint8)
    registry.draw_overlay(name, image, observation, summary)
    (mark,) = registry.person_marks(name, observation, summary)  # the one body or face, labelled
    assert mark.text
    draw_people(image, group_people([mark]))
    assert image.any()
    # An empty observation and an empty summary draw without error, and mark nobody.
    empty = type(observation).from_dict({"width": 1, "height": 1})
    registry.draw_overlay(name, image, empty, {})
    assert registry.person_marks(name, empty, {}) == []
