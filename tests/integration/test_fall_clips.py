"""Issue 10's fall targets, clip by clip, on ../shared/data: each labelled fall found within
2 s of its onset, and no other fall on any clip. Misses are strict xfails with the figure."""

from __future__ import annotations

import json

import pytest

from vigil.evaluation import FALL_WINDOW_S, run_clip

from .test_detectors import DATA_DIR, require_data

pytestmark = pytest.mark.detectors

KNOWN_MISSES = {
    "fall/fall_urfd13_office_sideview_far_320x240.mp4": (
        "measured: no event; the man leaves the bottom edge at frame 67, seen lying 0.3 s, clip ends 1.1 s "
        "after onset (down_s = 1 s)"
    ),
    "fall/fall_dorm_overhead_cctv_854x480.mp4": (
        "measured: event confirmed at frame 203, 2 frames before the labelled onset 205 (sequence started "
        "at 158: the walking man's axis reads 50-75 deg from the high camera): a miss plus a false alarm"
    ),
}


def clips() -> list[object]:
    labels_file = DATA_DIR / "labels.json"
    if not labels_file.is_file():
        return [pytest.param(None, id="no-data")]
    names = [name for name in json.loads(labels_file.read_text())["clips"] if name.endswith(".mp4")]
    return [
        pytest.param(name, id=name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[name]))
        if name in KNOWN_MISSES
        else pytest.param(name, id=name)
        for name in names
    ]


@pytest.mark.parametrize("clip", clips())
def test_every_fall_found_within_two_seconds_and_nothing_else(clip: str | None) -> None:
    require_data()
    assert clip is not None
    labels = json.loads((DATA_DIR / "labels.json").read_text())["clips"][clip]
    fps = float(labels["fps"])
    falls = [e for e in run_clip("fall", DATA_DIR / clip, fps).events if e.kind == "fall"]
    found = []
    for truth in labels.get("falls", []):
        onset = truth["onset"]
        hit = next(
            (e for e in falls if onset <= e.details["detected_seq"] <= onset + FALL_WINDOW_S * fps),
            None,
        )
        found.append(hit is not None)
        if hit is not None:
            falls.remove(hit)
    assert all(found), f"missed falls at onsets {[t['onset'] for t in labels['falls']]}: {found}"
    assert falls == [], f"false falls: {[(e.seq, e.details) for e in falls]}"
