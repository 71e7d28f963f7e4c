"""The real detectors and rules on the labelled clips in ../shared/data, against the targets of issues 3 and 10.

One evaluation pass (about two minutes on one core) is shared by every test through a
module-scoped fixture. Without the data folder the tests skip loudly on a laptop and
fail in CI (CI=true). Targets the detectors do not meet yet are strict xfails with the
measured numbers in docs/accuracy.md: they fail the run the day they start passing,
so the marker gets removed rather than forgotten.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from vigil.evaluation import Evaluation, collect

pytestmark = pytest.mark.detectors

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("VIGIL_DATA_DIR", ROOT.parent / "shared" / "data"))
IN_CI = os.environ.get("CI", "").lower() == "true"


def require_data() -> None:
    """Skip loudly without the footage; fail instead in CI."""
    if not (DATA_DIR / "labels.json").is_file():
        reason = (
            f"LABELLED FOOTAGE NOT FOUND at {DATA_DIR} (set VIGIL_DATA_DIR): "
            "the real-detector accuracy tests did NOT run"
        )
        if IN_CI:
            pytest.fail(reason + " (CI=true: missing data fails the run)", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    require_data()
    return collect(Evaluation(DATA_DIR))


@pytest.fixture(scope="module")
def labels() -> dict[str, dict[str, Any]]:
    require_data()
    clips: dict[str, dict[str, Any]] = json.loads((DATA_DIR / "labels.json").read_text())["clips"]
    return clips


def _video_clips() -> list[str]:
    labels_file = DATA_DIR / "labels.json"
    if not labels_file.is_file():
        return ["(no data)"]  # the fixture then skips loudly, or fails in CI
    return [name for name in json.loads(labels_file.read_text())["clips"] if name.endswith(".mp4")]


# Targets the fall rule does not meet yet, with what was measured (docs/accuracy.md, docs/detectors.md).
# fall_dorm_overhead_cctv passes, but by luck: the rule confirms the walk's misreads (reported onset 161)
# at frame 205, the labelled onset itself; two frames earlier it would be a miss and a false alarm.
FALL_CLIPS_MISSED = {
    "fall/fall_urfd13_office_sideview_far_320x240.mp4": (
        "no event: the man is seen lying 0.3 s, then leaves through the bottom edge at frame 67; the clip ends"
        " 1.1 s after onset, before the rule's 1 s of lying"
    ),
}


def test_every_labelled_fall_is_scored(results: dict[str, Any], labels: dict[str, dict[str, Any]]) -> None:
    # The counts follow labels.json: every video is scored, every labelled fall counted once.
    fall = results["fall"]
    videos = [name for name in labels if name.endswith(".mp4")]
    assert [c.clip for c in fall["per_clip"]] == videos
    assert fall["falls"] == sum(len(labels[name].get("falls", [])) for name in videos)


@pytest.mark.parametrize(
    "clip",
    [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, raises=AssertionError, reason=FALL_CLIPS_MISSED[name]))
        if name in FALL_CLIPS_MISSED else name
        for name in _video_clips()
    ],
)
def test_each_fall_found_within_two_seconds_and_no_false_fall(results: dict[str, Any], clip: str) -> None:
    # Every labelled fall of the clip matched by an event within 2 s of its onset; no other fall event.
    (row,) = [c for c in results["fall"]["per_clip"] if c.clip == clip]
    assert row.found == len(row.falls), row
    assert all(f.delay_s is not None and 0 <= f.delay_s <= 2.0 for f in row.falls), row
    assert row.false_alarms == (), row


def test_fall_events_name_the_track_they_follow(results: dict[str, Any]) -> None:
    calls = [f.call for c in results["fall"]["per_clip"] for f in c.falls if f.call is not None]
    assert calls and all(call.track is not None for call in calls)


def test_falls_found_overall(results: dict[str, Any]) -> None:
    # Issue 10's bar is every fall; this guards what is met today against regressions.
    fall = results["fall"]
    assert fall["found"] >= fall["falls"] - len(FALL_CLIPS_MISSED), fall["missed"]


def test_long_closures_reported_once_as_eyes_closed(
    results: dict[str, Any], labels: dict[str, dict[str, Any]]
) -> None:
    blink = results["blink"]
    assert blink["closures"] == sum(len(clip.get("eyes_closed_long", [])) for clip in labels.values())
    assert blink["closures_ok"] == blink["closures"]
    assert blink["stray_closed"] == 0


def test_blink_recall_on_the_blink_clips(results: dict[str, Any]) -> None:
    # The clips made for blinks: every labelled blink found, no false blink.
    for clip in ("blink/blink_eyes_closed_368x656.mp4", "blink/blink_smile_woman2_596x336.mp4"):
        row = results["blink"]["per_clip"][clip]
        assert row["found"] == row["blinks"] and row["false"] == 0, (clip, row)


def test_blink_recall_overall(results: dict[str, Any]) -> None:
    assert results["blink"]["recall"] >= 0.9


def test_blink_precision_overall(results: dict[str, Any]) -> None:
    assert results["blink"]["precision"] >= 0.9


def test_head_pose_at_labelled_extremes(results: dict[str, Any], labels: dict[str, dict[str, Any]]) -> None:
    rows = results["pose"]["extremes"]
    # One row per labelled clip and angle, each meeting the target.
    expected = [(c, k[:-9]) for c, v in labels.items() for k in ("yaw_extremes", "pitch_extremes") if k in v]
    assert [(r["clip"], r["angle"]) for r in rows] == expected
    for row in rows:
        assert row["sign"] >= 0.9 and row["mae"] <= 8.0, row


def test_head_pose_never_flips_and_is_steady_when_still(results: dict[str, Any]) -> None:
    assert results["pose"]["flips"] == 0
    assert results["pose"]["steady"]
    for still in results["pose"]["steady"]:
        assert still["yaw_spread"] <= 8.0 and still["pitch_spread"] <= 8.0, still
        assert still["events"] == 0, still


def _segments(results: dict[str, Any], label: str) -> list[dict[str, Any]]:
    return [s for s in results["emotion"]["segments"] if s["label"] == label]


def test_sad_and_angry_on_most_frames(results: dict[str, Any]) -> None:
    for label in ("sad", "angry"):
        for segment in _segments(results, label):
            assert segment["share"] > 0.5, segment


@pytest.mark.parametrize("label", ["surprise", "happy", "sad", "angry"])
def test_expression_right_on_most_labelled_frames(results: dict[str, Any], label: str) -> None:
    # Issue 10: every labelled range and still of the class pooled (the report's confusion table).
    row = results["emotion"]["per_class"][label]
    assert row["share"] > 0.5, row


def test_happy_on_the_expression_clips(results: dict[str, Any]) -> None:
    for segment in _segments(results, "happy"):
        if segment["clip"].startswith("expression/"):
            assert segment["share"] >= 0.9, segment


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="head_nodding 110-180 reads happy on 89%: talking with an open mouth reads neutral (docs/accuracy.md)",
)
def test_every_happy_segment_at_ninety_percent(results: dict[str, Any]) -> None:
    for segment in _segments(results, "happy"):
        assert segment["share"] >= 0.9, segment


def test_no_person_frames_have_no_face_and_no_event(results: dict[str, Any]) -> None:
    for name, row in results["no_face"].items():
        assert row["events"] == 0, name
        if not name.startswith("fall"):
            assert row["frames_with_detections"] == 0, name


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason=(
        "BlazePose's detector scores shapes as people on frames labelled no_person: the animated title on"
        " 64/95 frames (up to 0.92), the empty room on 41/41, the coats of the panning bedroom on 316/350;"
        " no shipped cheap check tells them from people (docs/detectors.md, Known limits)"
    ),
)
def test_no_person_frames_have_no_person(results: dict[str, Any]) -> None:
    for name, row in results["no_face"].items():
        assert row["frames_with_detections"] == 0, name


def test_one_detector_shared_by_threads_gives_the_same_answers() -> None:
    # Given a worker whose threads share one detector instance (the registry caches it per process)
    require_data()
    clip = DATA_DIR / "headpose" / "head_turning_640x360.mp4"
    from concurrent.futures import ThreadPoolExecutor

    from vigil.detectors.registry import load_detector
    from vigil.evaluation import read_frames

    frames = [frame for _, frame in zip(range(16), read_frames(clip))]
    detector = load_detector("pose")
    expected = [detector.detect(f).to_dict() for f in frames]
    # When four threads run it at once
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda f: detector.detect(f).to_dict(), frames))
    # Then every frame gets the answer it gets alone
    assert got == expected
