"""The capacity scenario's pure parts: cameras per box, incomplete frames with per-algorithm rates,
its site file and its two configurations."""

import math
from collections import namedtuple

import pytest

from vigil.bench.capacity import (
    cameras_per_box,
    configurations,
    describe_rates,
    incomplete_pct,
    report,
    site_toml,
)
from vigil.bench.deployment import Target
from vigil.bench.live import busy_cores, frame_counts
from vigil.bench.options import Options
from vigil.config import load_site_config
from vigil.frames import Frame
from vigil.messages import DetectionResult
from vigil.rates import DEFAULT_RATES, RateSchedule
from vigil.stream.reassembly import Reassembler
from vigil.stream.views import frame_record

FPS = 15.0
MS = 0.001


@pytest.mark.parametrize(
    "results, expected",
    [
        ({1: (0.0, 60 * MS), 2: (0.5, 90 * MS), 3: (4.0, 300 * MS)}, 2),
        ({1: (0.0, 60 * MS), 2: (0.0, 100 * MS)}, 2),  # p99 exactly at the limit counts
        ({1: (1.0, 60 * MS)}, 0),  # 1 % incomplete is not below 1 %
        ({1: (0.0, 101 * MS)}, 0),
        ({1: (0.0, 60 * MS), 2: (0.0, 150 * MS), 3: (0.0, 80 * MS)}, 1),  # not past a failing N
        ({2: (0.0, 60 * MS), 1: (0.0, 50 * MS)}, 2),  # in the order of N, not of the mapping
        ({1: (math.nan, math.nan)}, 0),  # no frames: not in the box
        ({}, 0),
    ],
)
def test_cameras_per_box(results, expected):
    assert cameras_per_box(results) == expected


def _record_with_rates(seconds: float, withhold: set[tuple[int, str]] = frozenset()):
    """The streamer's recorded frames of one camera at 15 fps with the default rates, each asked
    result delivered except those in ``withhold`` ((seq, algorithm))."""
    schedule = RateSchedule(DEFAULT_RATES)
    reassembler = Reassembler(deadline=1.0)
    frames = int(seconds * FPS)
    for seq in range(frames):
        frame = Frame(camera="cam", session=1, seq=seq, captured_at=seq / FPS, width=4, height=4, jpeg=b"\xff\xd8")
        asked = schedule.due(seq / FPS)
        reassembler.add_frame(frame, asked, seq / FPS)
        for algorithm in asked:
            if (seq, algorithm) not in withhold:
                result = DetectionResult(camera="cam", session=1, seq=seq, algorithm=algorithm, status="ok",
                                         observation={})
                reassembler.add_result("cam", 1, seq, algorithm, result, seq / FPS)
    return [frame_record(joined) for joined in reassembler.pop_ready(frames / FPS + 2.0)]


def test_frames_asking_for_fewer_algorithms_are_complete():
    # Given two seconds of a camera at 15 fps whose frames ask each algorithm at its default rate
    # When every asked result arrives
    counts = frame_counts(_record_with_rates(2.0))
    # Then no frame is incomplete, and the tasks asked follow the rates (blink 30/s: every frame)
    assert counts == {"frames": 30, "incomplete": 0, "tasks_asked": 2 * (15 + 15 + 10 + 5)}


def test_a_missing_asked_result_makes_its_frame_incomplete():
    # Given the same camera, with emotion (5/s: frames 0, 3, 6...) withheld on frame 3 only
    recorded = _record_with_rates(2.0, withhold={(3, "emotion")})
    # Then frame 3 alone is incomplete; frames 1 and 2, which did not ask emotion, are complete
    counts = frame_counts(recorded)
    assert counts["incomplete"] == 1
    assert [f["seq"] for f in recorded if f["missing"]] == [3]
    assert recorded[3]["missing"] == ["emotion"]
    assert incomplete_pct(counts) == pytest.approx(100 / 30)


def test_incomplete_pct_of_no_frames_is_nan():
    assert math.isnan(incomplete_pct({"frames": 0, "incomplete": 0}))


def test_the_site_file_gives_each_camera_the_default_rates(tmp_path):
    path = tmp_path / "vigil.toml"
    path.write_text(site_toml(3, "/data/clip.mp4", FPS))
    site = load_site_config(path, environ={})
    assert sorted(site.cameras) == ["bench0", "bench1", "bench2"]
    camera = site.camera("bench2")
    assert (camera.source, camera.fps, camera.loop) == ("/data/clip.mp4", FPS, True)
    assert camera.rates(site.settings.algorithms) == DEFAULT_RATES


@pytest.mark.parametrize(
    "baseline, expected_python, expected_settings",
    [
        (None, None, (("share_faces", "false"),)),
        ("/nowhere/.venv/bin/python", "/nowhere/.venv/bin/python", ()),  # that code chooses
    ],
)
def test_configuration_a(baseline, expected_python, expected_settings):
    before, defaults = configurations(baseline)
    assert (before.key, before.rates, before.python, before.settings) == ("A", False, expected_python,
                                                                           expected_settings)
    assert (defaults.key, defaults.rates, defaults.python, defaults.settings) == ("B", True, None, ())
    assert describe_rates() in defaults.label


def test_configuration_a_at_the_default_rates_is_the_other_checkout_as_b_runs():
    before, defaults = configurations("/nowhere/.venv/bin/python", baseline_at_defaults=True)
    assert (before.rates, before.python, before.settings) == (True, "/nowhere/.venv/bin/python", ())
    assert (defaults.rates, defaults.python) == (True, None)
    with pytest.raises(ValueError, match="needs --baseline-python"):
        configurations(None, baseline_at_defaults=True)


def _run(cameras, frames=100, incomplete=0, p99=0.05, worker=1.0):
    return {"cameras": cameras, "frames": frames, "incomplete": incomplete, "tasks_asked": 3 * frames,
            "seconds": 10.0, "capture_dropped": 0, "end_to_end": {"p50": p99 / 2, "p99": p99},
            "cpu": {"worker": worker, "streamer": 0.1, "captures": 0.05 * cameras, "machine": 1.5}}


def test_report_has_a_row_per_configuration_and_n_and_the_box(tmp_path):
    options = Options(target=Target("amqp://", "redis://", tmp_path), repeat=2, duration=10,
                      capacity_cameras=(1, 2))
    configs = configurations(None)
    runs = {
        "A": {1: [_run(1), _run(1, p99=0.07)], 2: [_run(2, incomplete=5), _run(2, incomplete=7)]},
        "B": {1: [_run(1), _run(1)], 2: [_run(2, worker=1.6), _run(2, worker=1.8)]},
    }
    outcome = report(options, "/data/clip.mp4", configs, runs)
    (title, headers, rows), (_, _, boxes) = outcome["tables"]
    assert "clip.mp4" in title and "--duration 10" in title
    assert [(row[0], row[1]) for row in rows] == [("A before", 1), ("A before", 2), ("B defaults", 1),
                                                 ("B defaults", 2)]
    column = dict(zip(headers, rows[1]))
    assert column["frames incomplete %"] == "6.0 (5.0-7.0)" and column["tasks/s asked"] == "30 (30-30)"
    assert dict(zip(headers, rows[3]))["worker CPU per camera"] == "0.85 (0.80-0.90)"
    assert outcome["data"]["cameras_per_box"] == {"A": 1, "B": 2}
    assert [box[1:] for box in boxes] == [[1, "N=2: 6.0 % incomplete, p99 50 ms"], [2, "none measured"]]


def test_busy_cores_leaves_out_idle_time():
    Times = namedtuple("Times", "user system idle iowait")
    assert busy_cores(Times(10, 5, 100, 1), Times(16, 8, 110, 2), seconds=10) == pytest.approx(0.9)


def test_the_baseline_needs_vigil_and_celery_beside_its_python(tmp_path):
    from vigil.bench.capacity import check_baseline

    python = tmp_path / "bin" / "python"
    python.parent.mkdir()
    for script in ("python", "vigil"):
        (tmp_path / "bin" / script).write_text("#!/bin/sh\n")
        (tmp_path / "bin" / script).chmod(0o755)
    with pytest.raises(ValueError, match="celery is not there"):
        check_baseline(str(python))
    (tmp_path / "bin" / "celery").write_text("#!/bin/sh\n")
    (tmp_path / "bin" / "celery").chmod(0o755)
    check_baseline(str(python))
