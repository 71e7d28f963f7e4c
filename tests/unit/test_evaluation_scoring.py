"""The evaluator's pure scoring functions, table-driven: falls, blinks, head pose, emotion, speed frames."""

from __future__ import annotations

import collections
import math

import numpy as np
import pytest

from vigil.detectors.base import Condition
from vigil.evaluation import blinks, emotions, falls, headpose, speed
from vigil.evaluation.falls import FallCall
from vigil.evaluation.report import fall_row, render_report
from vigil.evaluation.report_faces import blink_section


def fall_onset(seq: int, detected: int, kind: str = "fall", **details: object) -> Condition:
    return Condition(kind, 1, seq, seq / 10, details={"detected_seq": detected, **details})


# -- falls --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("onsets", "calls", "found", "delays", "alarms"),
    [
        # raised 1.2 s after the labelled onset, onset reported 4 frames late: found
        ([100], [FallCall(104, 112)], [True], [1.2], []),
        # raised 2.1 s after onset: too late, so a miss and a false alarm
        ([100], [FallCall(104, 121)], [False], [None], [104]),
        # raised before the labelled onset: cannot be about this fall
        ([100], [FallCall(90, 99)], [False], [None], [90]),
        # reported onset 2.5 s away from the labelled one
        ([100], [FallCall(75, 110)], [False], [None], [75]),
        # raised exactly at the end of the window still counts
        ([100], [FallCall(100, 120)], [True], [2.0], []),
        # a negative clip: every event is a false alarm
        ([], [FallCall(30, 40), FallCall(80, 90)], [], [], [30, 80]),
        # two labelled falls, one event each; one event cannot count twice
        ([50, 150], [FallCall(52, 60), FallCall(151, 155)], [True, True], [1.0, 0.5], []),
        ([50, 60], [FallCall(52, 62)], [True, False], [1.2, None], []),
        # nothing raised on a fall clip: missed, no alarm
        ([100], [], [False], [None], []),
    ],
)
def test_score_fall_clip(
    onsets: list[int], calls: list[FallCall], found: list[bool], delays: list[float | None], alarms: list[int]
) -> None:
    result = falls.score_fall_clip("c.mp4", onsets, calls, fps=10.0)
    assert [f.call is not None for f in result.falls] == found
    assert [None if d is None else round(d, 3) for d in (f.delay_s for f in result.falls)] == delays
    assert [a.seq for a in result.false_alarms] == alarms
    assert result.positive == bool(onsets)


@pytest.mark.parametrize(
    ("onsets", "expected"),
    [
        ([fall_onset(10, 20)], [FallCall(10, 20, None)]),
        ([fall_onset(10, 20, track=3)], [FallCall(10, 20, "3")]),
        ([fall_onset(10, 20, track="p7"), fall_onset(40, 40, kind="drowsy")], [FallCall(10, 20, "p7")]),
        # without detected_seq: the frame it was first seen on (ClipRun.onsets adds it), else the onset
        ([Condition("fall", 1, 5, 0.5, details={"seq": 9})], [FallCall(5, 9, None)]),
        ([Condition("fall", 1, 5, 0.5)], [FallCall(5, 5, None)]),
    ],
)
def test_fall_calls_read_the_track_when_the_rule_names_one(onsets: list[Condition], expected: list[FallCall]) -> None:
    assert falls.fall_calls(onsets) == expected


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


@pytest.mark.parametrize(
    ("clip", "onsets", "calls", "expected_cells"),
    [
        ("fall/a.mp4", [100], [FallCall(104, 112)],
         ["fall/a.mp4", "fall", "1 / 1", "onset 100: event at 112 (+1.20 s), track -", "0", "met"]),
        ("fall/a.mp4", [100], [FallCall(104, 112, "2")],
         ["fall/a.mp4", "fall", "1 / 1", "onset 100: event at 112 (+1.20 s), track 2", "0", "met"]),
        ("negative/b.mp4", [], [FallCall(30, 40)],
         ["negative/b.mp4", "negative", "0 / 0", "-", "30 (track -)", "**missed**"]),
        ("blink/c.mp4", [], [], ["blink/c.mp4", "other", "0 / 0", "-", "0", "met"]),
        ("fall/d.mp4", [100], [], ["fall/d.mp4", "fall", "0 / 1", "onset 100: missed", "0", "**missed**"]),
    ],
)  # fmt: skip
def test_fall_row_per_clip(clip: str, onsets: list[int], calls: list[FallCall], expected_cells: list[str]) -> None:
    assert _cells(fall_row(falls.score_fall_clip(clip, onsets, calls, fps=10.0))) == expected_cells


def test_fall_summary_counts_every_clip() -> None:
    per_clip = [
        falls.score_fall_clip("fall/a.mp4", [100], [FallCall(104, 112)], 10.0),
        falls.score_fall_clip("fall/b.mp4", [50], [], 10.0),
        falls.score_fall_clip("negative/c.mp4", [], [FallCall(7, 9)], 10.0),
    ]
    summary = falls.summarise(per_clip)
    assert (summary["falls"], summary["found"]) == (2, 1)
    assert summary["missed"] == ["fall/b.mp4@50"]
    assert summary["false_alarms"] == {"negative/c.mp4": [7]}


# -- blinks -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("truths", "optional", "closures", "events", "closed", "expected"),
    [
        ([(10, 15)], set(), [], [(11, 14)], [], {"found": 1, "false": 0, "tp_pred": 1}),
        ([(10, 15)], set(), [], [(30, 32)], [], {"found": 0, "false": 1, "tp_pred": 0}),
        # an event on an optional blink counts neither way
        ([(10, 15), (40, 41)], {(40, 41)}, [], [(40, 41)], [], {"blinks": 1, "found": 0, "false": 0, "tp_pred": 0}),
        # a long closure reported once, no blink inside: right
        ([], set(), [(100, 200)], [], [105], {"closures_ok": 1, "stray_closed": 0}),
        # a blink inside the long closure spoils it
        ([], set(), [(100, 200)], [(101, 104)], [105], {"closures_ok": 0, "false": 1}),
        # eyes_closed outside any labelled closure
        ([], set(), [], [], [50], {"closures_ok": 0, "stray_closed": 1}),
    ],
)
def test_score_blink_clip(truths, optional, closures, events, closed, expected) -> None:  # type: ignore[no-untyped-def]
    row = blinks.score_blink_clip(truths, optional, closures, events, closed)
    assert {key: row[key] for key in expected} == expected


def test_blink_summary_without_blink_labels_has_every_total_and_renders() -> None:
    # Given a folder where no clip has blink labels
    summary = blinks.summarise({})
    # Then every total is there (the report read closures_ok and crashed) and the section says so
    assert {key: summary[key] for key in ("closures", "closures_ok", "stray_closed")} == {
        "closures": 0, "closures_ok": 0, "stray_closed": 0,
    }  # fmt: skip
    assert blink_section(summary)[2] == "No clip has `blinks` or `eyes_closed_long` labels."


def test_optional_blinks_from_notes() -> None:
    assert blinks.optional_blinks("279-280 is a partial blink; count it as optional") == {(279, 280)}
    assert blinks.optional_blinks("") == set()


# -- head pose ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "extremes", "expected"),
    [
        ([10.0, -20.0, 5.0], {"0": 12, "1": -18}, {"n": 2, "sign": 1.0, "mae": 2.0}),
        ([10.0, -20.0, 5.0], {"0": -12}, {"n": 1, "sign": 0.0, "mae": 22.0}),
        ([math.nan, 3.0], {"0": 10, "1": 5}, {"n": 2, "sign": 0.5, "mae": math.inf}),
        # a labelled frame beyond the clip's end is a miss, not a crash
        ([1.0], {"5": 10}, {"n": 1, "sign": 0.0, "mae": math.inf}),
    ],
)
def test_score_extremes(values: list[float], extremes: dict[str, float], expected: dict[str, float]) -> None:
    assert headpose.score_extremes(np.array(values), extremes) == expected


@pytest.mark.parametrize(
    ("angles", "flips"),
    [
        ([[0, 0, 0], [10, 0, 0], [20, 0, 0]], 0),
        ([[0, 0, 170], [0, 0, -170]], 0),  # wraps around: a 20-degree step
        ([[0, 0, 0], [0, 80, 0], [0, 0, 0]], 2),
        ([[0, 0, 0], [math.nan] * 3, [0, 0, 0]], 0),
    ],
)
def test_count_flips(angles: list[list[float]], flips: int) -> None:
    assert headpose.count_flips(np.array(angles, dtype=float)) == flips


# -- emotion ------------------------------------------------------------------------------
def test_confusion_covers_ranges_and_stills() -> None:
    smoothed = ["happy"] * 6 + ["fear"] * 4
    segments = [emotions.score_segment("a.mp4", "happy", (0, 9), smoothed, smoothed)]
    stills = {"s.jpg": ("surprise", "fear"), "t.jpg": ("happy", "happy")}
    table = emotions.confusion(segments, stills)
    assert table == {"happy": collections.Counter({"happy": 7, "fear": 4}), "surprise": {"fear": 1}}
    assert emotions.per_class(table) == {
        "happy": {"right": 7, "total": 11, "share": 7 / 11},
        "surprise": {"right": 0, "total": 1, "share": 0.0},
    }


def test_segment_past_the_clip_end_is_cut() -> None:
    segment = emotions.score_segment("a.mp4", "sad", (2, 99), ["sad"] * 4, ["none"] * 4)
    assert (segment["frames"], segment["share"], segment["raw_share"]) == (2, 1.0, 0.0)


# -- speed --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("clips", "expected"),
    [
        ({}, {}),
        ({"x/a.mp4": {"fps": 10, "falls": [{"onset": 40, "down": 50}]}}, {"fall": ("x/a.mp4", 40)}),
        (
            {
                "x/a.mp4": {"fps": 10, "frames": 90, "yaw_extremes": {"3": 10}},
                "x/b.mp4": {"fps": 10, "sad": [[10, 20]]},
            },
            # an expression range anywhere comes before a pose clip's middle frame
            {name: ("x/b.mp4", 15) for name in ("emotion", "pose", "blink")},
        ),
        (
            {"x/a.mp4": {"fps": 10, "frames": 90, "yaw_extremes": {"3": 10}}},
            {name: ("x/a.mp4", 45) for name in ("emotion", "pose", "blink")},
        ),
        (
            {"y/s.jpg": {"expression": "happy"}, "y/b.mp4": {"fps": 10, "blinks": [[4, 8]], "notes": "x"}},
            {name: ("y/b.mp4", 6) for name in ("emotion", "pose", "blink")},
        ),
        (
            # a blink clip listed first still yields to an expression range later on
            {"y/b.mp4": {"fps": 10, "blinks": [[4, 8]]}, "y/e.mp4": {"fps": 10, "happy": [[20, 40]]}},
            {name: ("y/e.mp4", 30) for name in ("emotion", "pose", "blink")},
        ),
    ],
)
def test_timing_frames_come_from_the_labels(clips: dict, expected: dict) -> None:  # type: ignore[type-arg]
    assert speed.timing_frames(clips) == expected


def _no_results() -> dict:  # type: ignore[type-arg]
    return {
        "fall": falls.summarise([]), "blink": blinks.summarise({}),
        "pose": {"extremes": [], "steady": [], "flips": 0},
        "emotion": {"segments": [], "stills": {}, "confusion": {}, "per_class": {}},
        "no_face": {}, "timing": {},
    }  # fmt: skip


def test_report_header_names_the_data_folder() -> None:
    header = render_report(_no_results(), "vigil evaluate --data /tmp/x", "2026-01-01", "/tmp/x").splitlines()[2]
    assert "on `/tmp/x`" in header and "../shared/data" not in header


def test_report_of_a_folder_without_labels_says_so_in_every_section() -> None:
    # Given results from a folder whose labels.json names no clip any scorer reads
    lines = render_report(_no_results(), "vigil evaluate", "2026-01-01", "/tmp/x").splitlines()
    # Then each section says what is missing instead of an empty table
    first_line = {line: lines[i + 2] for i, line in enumerate(lines) if line.startswith("## ")}
    names = ("## Blink", "## Head pose", "## Emotion", "## Frames without anyone")
    assert {name: first_line[name] for name in names} == {
        "## Blink": "No clip has `blinks` or `eyes_closed_long` labels.",
        "## Head pose": "No clip has head-pose labels.",
        "## Emotion": "No clip or still has expression labels.",
        "## Frames without anyone": "No clip has `no_person` labels.",
    }
