"""Masks travel with the frame and are blanked before detection; zones restrict what a rule counts."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import frame_payload
from vigil.errors import FrameDecodeError
from vigil.frames import Frame, apply_masks
from vigil.messages import STATUS_OK, DetectionResult
from vigil.stream.reassembly import JoinedFrame
from vigil.stream.rules import CameraRules, RuleRunner
from vigil.stream.zones import Zone, filter_observation, inside, where

LEFT_HALF = ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0))


def test_masks_round_trip_in_the_payload_and_are_left_out_when_there_are_none():
    payload = frame_payload(1, masks=[[[0, 0], [0.5, 0], [0.5, 1]]])
    frame = Frame.from_payload(payload, 1 << 20)
    assert frame.masks == (((0.0, 0.0), (0.5, 0.0), (0.5, 1.0)),)
    assert Frame.from_payload(frame.to_payload(), 1 << 20) == frame
    assert "masks" not in Frame.from_payload(frame_payload(2), 1 << 20).to_payload()


@pytest.mark.parametrize(
    "masks, message",
    [
        ({"a": 1}, "list of at most 32 polygons"),
        ([[[0, 0], [1, 1]]], "3 to 64 points"),
        ([[[0, 0], [1, 1], [2, 0]]], r"outside 0..1"),
        ([[[0, 0], [1], [1, 0]]], r"\[x, y\]"),
        ([LEFT_HALF] * 33, "at most 32"),
    ],
)
def test_malformed_masks_are_refused(masks, message):
    with pytest.raises(FrameDecodeError, match=message):
        Frame.from_payload(frame_payload(1, masks=masks), 1 << 20)


def test_apply_masks_blanks_only_the_polygons():
    image = np.full((10, 20, 3), 200, np.uint8)
    apply_masks(image, (LEFT_HALF,))
    assert (image[:, :9] == 0).all() and (image[:, 11:] == 200).all()


def test_the_worker_detects_on_the_masked_image(monkeypatch):
    from vigil.tasks import detect

    seen = []

    class Spy:
        name = "fall"

        def detect(self, image):
            seen.append(image.copy())
            from vigil.detectors.fall import FallObservation

            return FallObservation(width=image.shape[1], height=image.shape[0])

    monkeypatch.setattr(detect, "load_detector", lambda name, override=None: Spy())
    payload = frame_payload(1, masks=[list(LEFT_HALF)])
    assert detect.detect_frame(payload, "fall", max_bytes=1 << 20).ok
    assert seen[0][:, :14].max() == 0 and seen[0][:, 18:].min() > 100


@pytest.mark.parametrize(
    "item, face, expected",
    [
        ({"box": [0, 0, 10, 20], "hips": [5, 12]}, False, (5.0, 12.0)),  # a body: its hips
        ({"box": [0, 0, 10, 20]}, False, (5.0, 20.0)),  # no hips: the bottom centre
        ({"box": [0, 0, 10, 20]}, True, (5.0, 10.0)),  # a face: the centre
        ({"box": [1, 2]}, True, None),
    ],
)
def test_where_a_body_or_face_is(item, face, expected):
    assert where(item, face) == expected


def test_inside_counts_the_edge():
    assert inside(0.5, 0.5, LEFT_HALF) and inside(0.25, 0.5, LEFT_HALF) and not inside(0.75, 0.5, LEFT_HALF)


def test_filter_keeps_only_people_and_faces_inside_a_zone():
    zone = Zone("left", LEFT_HALF)
    observation = {"width": 100, "height": 50, "people": [{"box": [0, 0, 20, 20], "hips": [10, 10]},
                                                          {"box": [60, 0, 20, 20], "hips": [70, 10]}], "thumb": "x"}
    filtered = filter_observation(observation, [zone], 100, 50)
    assert [p["hips"] for p in filtered["people"]] == [[10, 10]] and filtered["thumb"] == "x"
    faces = filter_observation({"faces": [{"box": [55, 0, 10, 10]}, {"box": [5, 5, 10, 10]}]}, [zone], 100, 50)
    assert faces["faces"] == [{"box": [5, 5, 10, 10]}]


def joined(seq: int, observation: dict, algorithm: str = "emotion") -> JoinedFrame:
    frame = Frame.from_payload(frame_payload(seq, camera="door", width=100, height=50), 1 << 20)
    result = DetectionResult(camera="door", session=1, seq=seq, algorithm=algorithm, status=STATUS_OK,
                             observation=observation)
    return JoinedFrame(frame=frame, expected=(algorithm,), arrived_at=0.0, results={algorithm: result})


@pytest.mark.parametrize(
    "zone_rules, faces_seen",
    [
        (("emotion",), 1),  # the zone restricts this rule: the face outside it is gone
        (("fall",), 2),  # a zone for another rule changes nothing here
        ((), 1),  # a zone that names no rule restricts every rule
    ],
)
def test_the_rule_runner_filters_by_the_zones_of_the_rule(zone_rules, faces_seen):
    runner = RuleRunner({"door": CameraRules(zones=(Zone("left", LEFT_HALF, zone_rules),))})
    face = {"score": 0.9, "probabilities": {"happy": 1.0}}
    outcome = runner.apply(joined(1, {"faces": [{"box": [5, 5, 10, 10], **face}, {"box": [70, 5, 10, 10], **face}]}))
    assert len(outcome.observations["emotion"].faces) == faces_seen


def test_rule_options_from_the_site_file_reach_the_rule():
    runner = RuleRunner({"door": CameraRules(options={"fall": {"down_s": 2.5}})})
    runner.apply(joined(1, {"width": 100, "height": 50, "people": []}, algorithm="fall"))
    rule = runner._running[("door", "fall")].rule
    assert rule.thresholds.down_s == 2.5


def test_the_view_holds_a_lower_rate_algorithms_overlay_for_a_second():
    from vigil.stream.views import HOLD_S, CameraView

    view = CameraView("door", 80)
    first = joined(1, {"faces": []})
    view.update(first, {"emotion": "obs-1"}, {"emotion": {"label": "happy"}})
    later = Frame.from_payload(frame_payload(2, camera="door", captured_at=first.captured_at + HOLD_S / 2), 1 << 20)
    view.update(JoinedFrame(frame=later, expected=("blink",), arrived_at=0.0), {"blink": None}, {"blink": {}})
    assert view.observations == {"emotion": "obs-1", "blink": None}  # emotion's last overlay is still drawn
    stale = Frame.from_payload(frame_payload(3, camera="door", captured_at=first.captured_at + 2 * HOLD_S), 1 << 20)
    view.update(JoinedFrame(frame=stale, expected=("blink",), arrived_at=0.0), {"blink": None}, {"blink": {}})
    assert view.observations == {"blink": None}


def test_zones_and_masks_are_drawn_on_the_live_view_when_asked():
    from vigil.stream.overlay import annotate

    frame = Frame.from_payload(frame_payload(1, width=320, height=240, jpeg=_flat_jpeg(320, 240)), 1 << 20)
    joined_frame = JoinedFrame(frame=frame, expected=(), arrived_at=0.0)
    plain = annotate(joined_frame, {}, {}, 95)
    drawn = annotate(joined_frame, {}, {}, 95, ((Zone("floor", LEFT_HALF, ("fall",)),), (LEFT_HALF,)))
    from vigil.frames import decode_jpeg

    difference = np.abs(decode_jpeg(drawn).astype(int) - decode_jpeg(plain).astype(int)).sum(axis=2)
    # the mask shades the left half; the right half (below the zone's label) is untouched
    assert difference[30:200, 10:140].mean() > 20 and difference[30:200, 200:].mean() < 5


def _flat_jpeg(width: int, height: int) -> bytes:
    from tests.helpers import jpeg_bytes

    return jpeg_bytes(width, height, 200)
