"""`vigil evaluate` on a tiny labelled folder written in tmp_path: any layout like ../shared/data works."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from vigil.cli import EX_CONFIG, main
from vigil.evaluation import Evaluation, collect

FRAMES = 8


def write_clip(path: Path, frames: int = FRAMES, size: tuple[int, int] = (160, 120)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, size)
    for index in range(frames):
        writer.write(np.full((size[1], size[0], 3), 40 + 10 * index, np.uint8))
    writer.release()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two yaw clips, a pitch clip, a negative, a still, an entry no scorer reads; no blink labels; one label
    nobody reads; one fps left out."""
    root = tmp_path_factory.mktemp("labelled")
    clips = {
        "turns/one.mp4": {"fps": 10, "frames": FRAMES, "yaw_extremes": {"2": 20, "5": -20}},
        "turns/two.mp4": {"fps": 10, "frames": FRAMES, "yaw_extremes": {"3": -15}, "pitch_extremes": {"1": 8}},
        # no fps: the file's own frame rate is used
        "other/empty.mp4": {"frames": FRAMES, "no_person": [[0, 7]], "juggling": [[1, 2]]},
        "other/face.png": {"expression": "surprise"},
        "other/readme.txt": {"shows": "not a clip"},
    }
    for name in clips:
        if name.endswith(".mp4"):
            write_clip(root / name)
    cv2.imwrite(str(root / "other" / "face.png"), np.zeros((64, 64, 3), np.uint8))
    (root / "labels.json").write_text(json.dumps({"about": "test", "clips": clips}))
    return root


@pytest.fixture(scope="module")
def results(folder: Path) -> dict:  # type: ignore[type-arg]
    return collect(Evaluation(folder))


def test_every_yaw_clip_gets_its_own_row(results: dict) -> None:  # type: ignore[type-arg]
    rows = [(r["clip"], r["angle"], r["n"]) for r in results["pose"]["extremes"]]
    assert rows == [("turns/one.mp4", "yaw", 2), ("turns/two.mp4", "yaw", 1), ("turns/two.mp4", "pitch", 1)]


def test_no_blink_labels_no_crash(results: dict) -> None:  # type: ignore[type-arg]
    assert results["blink"]["per_clip"] == {}
    assert results["blink"]["closures_ok"] == 0


def test_every_video_is_a_fall_negative_and_the_still_is_scored(results: dict) -> None:  # type: ignore[type-arg]
    assert [c.clip for c in results["fall"]["per_clip"]] == ["turns/one.mp4", "turns/two.mp4", "other/empty.mp4"]
    assert results["fall"]["falls"] == 0
    # No face on a black square: the still is in the confusion table as "none"
    assert results["emotion"]["stills"] == {"other/face.png": ("surprise", "none")}
    assert results["emotion"]["confusion"]["surprise"] == {"none": 1}


def test_speed_is_timed_on_the_folder_s_own_clips(results: dict) -> None:  # type: ignore[type-arg]
    # No fall label here: the fall detector has no frame to be timed on; the face ones use a yaw clip
    assert {name: (row["clip"], row["frame"]) for name, row in results["timing"].items()} == {
        name: ("turns/one.mp4", FRAMES // 2) for name in ("emotion", "pose", "blink")
    }


def test_an_entry_that_is_no_clip_is_listed_as_unscored(results: dict) -> None:  # type: ignore[type-arg]
    assert results["unscored"] == ["other/readme.txt"]


def test_fps_from_the_file_when_labels_leave_it_out(folder: Path) -> None:
    assert Evaluation(folder).fps("other/empty.mp4") == pytest.approx(10.0)


def test_no_person_frames_checked(results: dict) -> None:  # type: ignore[type-arg]
    assert results["no_face"]["pose on other/empty.mp4"] == {
        "frames": FRAMES, "frames_with_detections": 0, "frames_with_confident": 0, "events": 0,
    }  # fmt: skip


def test_cli_report_names_the_folder_and_every_clip(folder: Path, tmp_path: Path) -> None:
    output = tmp_path / "accuracy.md"
    result = CliRunner().invoke(main, ["evaluate", "--data", str(folder), "--output", str(output)])
    assert result.exit_code == 0, result.output
    lines = output.read_text().splitlines()
    assert f"on `{folder}`" in lines[2] and "../shared/data" not in lines[2]
    assert "Not scored, neither a video nor a still by its suffix: `other/readme.txt`." in lines
    pose_rows = [line.split("|")[1:3] for line in lines if line.startswith(("| yaw |", "| pitch |"))]
    assert [[c.strip() for c in row] for row in pose_rows] == [
        ["yaw", "turns/one.mp4"], ["yaw", "turns/two.mp4"], ["pitch", "turns/two.mp4"],
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no labels.json in"),
        ("{not json", "cannot read"),
        ('{"about": "no clips"}', 'expected {"clips"'),
        ('{"clips": {"a.mp4": [1, 2]}}', 'expected {"clips"'),
        ("[1, 2]", 'expected {"clips"'),
    ],
)
def test_cli_refuses_a_folder_without_usable_labels(tmp_path: Path, content: str | None, message: str) -> None:
    if content is not None:
        (tmp_path / "labels.json").write_text(content)
    result = CliRunner().invoke(main, ["evaluate", "--data", str(tmp_path)])
    assert result.exit_code == EX_CONFIG, result.output
    assert result.output.startswith("vigil: error: ") and message in result.output
