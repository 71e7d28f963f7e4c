"""The site file's motion gating and zones on the real fall clips of ../shared/data.

- Motion gating never skips a frame around a labelled fall: each fall clip is played after
  STILL_S seconds of its own first frame held still (the empty, still room gating is for),
  through the capture daemon's :class:`MotionGate` with the default threshold and hold; the
  still lead-in must be gated and no frame from 1 s before the labelled onset to 1.5 s
  after the person is down may be.
- Zones: the real fall detector and rule on the corridor clip, through the streamer's
  rule runner, with a zone over where the fall happens (one fall event) and with a zone
  that excludes it (none).
"""

from __future__ import annotations

import json

import cv2
import pytest

from tests.integration.test_detectors import DATA_DIR, require_data
from vigil.capture.motion import MotionGate
from vigil.config import DEFAULT_MOTION_HOLD_S, DEFAULT_MOTION_THRESHOLD
from vigil.evaluation.runs import read_frames
from vigil.frames import Frame
from vigil.messages import STATUS_OK, DetectionResult
from vigil.stream.reassembly import JoinedFrame
from vigil.stream.rules import CameraRules, RuleRunner
from vigil.stream.zones import Zone

pytestmark = pytest.mark.detectors

STILL_S = 10.0


def fall_clips() -> list[tuple[str, dict]]:
    path = DATA_DIR / "labels.json"
    if not path.is_file():
        return [("missing", {})]
    clips = json.loads(path.read_text())["clips"]
    return [(name, labels) for name, labels in clips.items() if labels.get("falls")]


@pytest.mark.parametrize("clip, labels", fall_clips(), ids=[name for name, _ in fall_clips()])
def test_motion_gating_never_skips_a_frame_around_a_fall(clip, labels):
    require_data()
    fps = float(labels.get("fps") or cv2.VideoCapture(str(DATA_DIR / clip)).get(cv2.CAP_PROP_FPS))
    frames = list(read_frames(DATA_DIR / clip))
    lead = int(STILL_S * fps)
    gate = MotionGate(DEFAULT_MOTION_THRESHOLD, DEFAULT_MOTION_HOLD_S)
    # Given the room still for STILL_S (the clip's first frame held), then the clip
    gated = [index - lead for index, image in enumerate([frames[0]] * lead + frames) if gate.still(image, index / fps)]
    # Then the still lead-in is gated once the hold has passed...
    assert sum(index < 0 for index in gated) >= lead - int((DEFAULT_MOTION_HOLD_S + 0.5) * fps)
    # ...and no frame around any labelled fall is
    for fall in labels["falls"]:
        window = range(int(fall["onset"] - fps), int(fall["down"] + 1.5 * fps) + 1)
        assert not [index for index in gated if index in window], (clip, fall)


CORRIDOR = "fall/fall_corridor_walker_640x360.mp4"
# Where the walker is: hips from x 0.74 (frame 0) to 0.47-0.53, y 0.25-0.34, through the fall (86-121).
OVER_THE_FALL = ((0.3, 0.0), (1.0, 0.0), (1.0, 1.0), (0.3, 1.0))
AWAY_FROM_THE_FALL = ((0.6, 0.0), (1.0, 0.0), (1.0, 1.0), (0.6, 1.0))  # where she walked, not where she fell


@pytest.fixture(scope="module")
def corridor_results() -> list[JoinedFrame]:
    """The corridor clip's frames, each joined with the real fall detector's result."""
    require_data()
    from vigil.detectors.registry import load_detector

    detector = load_detector("fall")
    fps = 25.0
    joined = []
    for seq, image in enumerate(read_frames(DATA_DIR / CORRIDOR)):
        height, width = image.shape[:2]
        frame = Frame("corridor", 1, seq, 1000.0 + seq / fps, width, height, b"\xff\xd8")
        result = DetectionResult(camera="corridor", session=1, seq=seq, algorithm="fall", status=STATUS_OK,
                                 observation=detector.detect(image).to_dict())
        joined.append(JoinedFrame(frame=frame, expected=("fall",), arrived_at=0.0, results={"fall": result}))
    return joined


@pytest.mark.parametrize(
    "zone, falls",
    [
        pytest.param(None, 1, id="no zone: the fall is found"),
        pytest.param(OVER_THE_FALL, 1, id="zone over the fall: one event"),
        pytest.param(AWAY_FROM_THE_FALL, 0, id="zone excluding the fall: no event"),
        pytest.param(AWAY_FROM_THE_FALL, 1, id="zone restricting another rule: the fall is found"),
    ],
)
def test_a_zone_restricts_the_fall_rule(corridor_results, zone, falls, request):
    restricts = ("emotion",) if "another rule" in request.node.name else ("fall",)
    zones = () if zone is None else (Zone("floor", zone, restricts),)
    runner = RuleRunner({"corridor": CameraRules(zones=zones)})
    events = [event for frame in corridor_results for event in runner.apply(frame).events]
    onsets = [event.seq for event in events if event.kind == "fall"]
    assert len(onsets) == falls, onsets
    if falls:
        assert abs(onsets[0] - 86) <= 50  # the labelled onset (2 s at 25 fps)

