"""Bad input gets a clear message and a named exit code; the embedded run writes its report."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time

import pytest
import requests

from tests.integration.conftest import celery, free_port, vigil

pytestmark = pytest.mark.integration


def run(args, env, timeout=120):
    return subprocess.run(vigil(*args), env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize(
    "args, extra_env, code, message",
    [
        pytest.param(["capture", "--camera", "c", "--source", "synthetic", "--algorithms", "fall,blinks"], {},
                     2, "unknown algorithm 'blinks'; known algorithms: blink, emotion, fall, pose. "
                     "Did you mean 'blink'?",
                     id="unknown algorithm"),
        pytest.param(["capture", "--camera", "c", "--source", "/nonexistent/clip.mp4"], {},
                     69, "video file '/nonexistent/clip.mp4' does not exist", id="missing file"),
        pytest.param(["capture", "--camera", "c", "--source", "rtsp://127.0.0.1:9/none", "--reconnect-timeout", "2"],
                     {}, 69, "camera c: gave up after", id="unreachable camera"),
        pytest.param(["capture", "--camera", "bad name", "--source", "synthetic"], {},
                     78, "bad camera name 'bad name'", id="bad camera name"),
        pytest.param(["capture", "--camera", "c", "--source", "synthetic"], {"VIGIL_JPEG_QUALITY": "500"},
                     78, "bad value '500' for setting 'jpeg_quality' (VIGIL_JPEG_QUALITY)", id="malformed setting"),
        pytest.param(["run", "--source", "synthetic"], {"VIGIL_MAX_FRAME_AGE": "soon"},
                     78, "bad value 'soon' for setting 'max_frame_age'", id="malformed setting in run"),
        pytest.param(["stream", "--port", "0", "--record", "/sys/vigil.jsonl"], {},
                     78, "--record '/sys/vigil.jsonl': cannot be written", id="record path not writable"),
        pytest.param(["run", "--source", "synthetic", "--max-frames", "5", "--report", "/nonexistent/dir/r.json"], {},
                     78, "--report '/nonexistent/dir/r.json': the folder '/nonexistent/dir' does not exist",
                     id="report path checked before the run"),
        pytest.param(["run", "--source", "synthetic", "--max-frames", "5"], {"VIGIL_EVENTS_URL": "/sys/e.sqlite3"},
                     78, "VIGIL_EVENTS_URL '/sys/e.sqlite3': cannot be written", id="events db not writable"),
        pytest.param(["stream", "--port", "0"], {"VIGIL_EVENTS_URL": "/sys/e.sqlite3"},
                     78, "VIGIL_EVENTS_URL '/sys/e.sqlite3': cannot be written", id="stream events db not writable"),
        pytest.param(["run", "--source", "synthetic", "--max-frames", "5"], {"VIGIL_MEDIA_DIR": "/sys/vigil-media"},
                     78, "VIGIL_MEDIA_DIR '/sys/vigil-media': cannot be written", id="media dir not writable"),
        pytest.param(["stream", "--port", "0"], {"VIGIL_EVENTS_URL": "postgresql://nobody@127.0.0.1:9/none"},
                     69, "cannot open the event store postgresql+psycopg://nobody@127.0.0.1:9/none",
                     id="postgres unreachable"),
    ],
)
def test_bad_input_is_explained(args, extra_env, code, message, vigil_env):
    done = run(args, dict(vigil_env, **extra_env))
    assert done.returncode == code, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_reconnect_timeout_is_honoured_within_a_second(vigil_env):
    started = time.monotonic()
    done = run(["capture", "--camera", "c", "--source", "rtsp://127.0.0.1:9/none", "--reconnect-timeout", "3"],
               vigil_env)
    elapsed = time.monotonic() - started
    assert done.returncode == 69 and "gave up after 3 s" in done.stderr, done.stderr
    assert elapsed < 3 + 1 + 2.5, elapsed  # the timeout, a second, and the command's own start-up


def test_a_worker_for_an_unknown_algorithm_explains_without_a_traceback(vigil_env):
    env = dict(vigil_env, VIGIL_ALGORITHMS="fall,blinks")
    done = subprocess.run(celery("worker", "-Q", "fall"), env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 78, done.stderr[-2000:]
    assert "unknown algorithm 'blinks'" in done.stderr and "Did you mean 'blink'?" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_capture_that_never_reached_the_broker_says_so_and_fails(vigil_env):
    env = dict(vigil_env, VIGIL_BROKER_URL="amqp://guest:guest@127.0.0.1:1//")
    done = run(["capture", "--camera", "nobroker", "--source", "synthetic", "--fps", "20", "--max-frames", "40"], env)
    assert done.returncode == 69, done.stderr
    assert "cannot reach the broker" in done.stderr
    assert "40 captured, 0 sent, 40 dropped" in done.stderr
    assert "vigil: error: no frame was sent: the broker was never reachable" in done.stderr
    assert "Traceback" not in done.stderr


def test_capture_logs_the_rate_it_samples_not_only_the_sources(vigil_env, clip):
    env = dict(vigil_env, VIGIL_BROKER_URL="amqp://guest:guest@127.0.0.1:1//")
    done = run(["capture", "--camera", "rate", "--source", str(clip), "--fps", "5", "--max-frames", "3"], env)
    assert "(sampling 5 fps, source at 29.97 fps)" in done.stderr, done.stderr


def test_bench_takes_no_environment_variable_that_breaks_other_commands(vigil_env):
    # vigil bench is configured by its flags: nothing it reads can make `vigil settings` refuse to start
    done = run(["bench", "--help"], vigil_env)
    assert done.returncode == 0 and "VIGIL_" not in done.stdout, done.stdout
    assert run(["settings"], vigil_env).returncode == 0


def test_embedded_run_writes_a_report(vigil_env, tmp_path, clip):
    report = tmp_path / "report.json"
    env = {k: v for k, v in vigil_env.items() if k not in ("VIGIL_BROKER_URL", "VIGIL_RESULT_BACKEND")}
    done = run(["run", "--source", f"door={clip}", "--max-frames", "45", "--fps", "15", "--no-http",
                "--report", str(report)], env)
    assert done.returncode == 0, done.stderr
    data = json.loads(report.read_text())
    assert data["frames_emitted"] == 45
    assert data["frames_complete"] >= 40
    seqs = [frame["seq"] for frame in data["frames"]]
    assert seqs == sorted(seqs)
    for frame in data["frames"]:
        for result in frame["results"].values():
            assert result["seq"] == frame["seq"] and result["status"] == "ok"
    assert data["latency"]["end_to_end"]["n"] == 45
    assert set(data["latency"]["by_algorithm"]) == {"fall", "emotion", "pose", "blink"}
    # and a newcomer's first run prints no warning or traceback
    noise = [line for line in done.stderr.splitlines() if " WARNING " in line or "Traceback" in line]
    assert not noise, noise


def test_embedded_run_stays_fresh_when_the_detector_is_too_slow(vigil_env, tmp_path):
    # Given a detector that needs 50 ms per frame and a camera sending 30 frames/s (1.5x overload)
    report = tmp_path / "report.json"
    env = {k: v for k, v in vigil_env.items() if k not in ("VIGIL_BROKER_URL", "VIGIL_RESULT_BACKEND")}
    env["VIGIL_DETECTOR_OVERRIDE"] = "busy:50"
    # When it runs embedded with one worker thread
    done = run(["run", "--source", "synthetic", "--max-frames", "120", "--algorithms", "fall", "--workers", "1",
                "--no-http", "--report", str(report)], env)
    assert done.returncode == 0, done.stderr
    data = json.loads(report.read_text())
    # Then frames are dropped rather than queued: what is processed is never older than the frame age
    assert data["frames_complete"] < data["frames_emitted"]
    assert data["latency"]["end_to_end"]["max"] < 2.0


def test_embedded_run_summary_without_a_report(vigil_env):
    env = {k: v for k, v in vigil_env.items() if k not in ("VIGIL_BROKER_URL", "VIGIL_RESULT_BACKEND")}
    done = run(["run", "--source", "synthetic", "--max-frames", "20", "--no-http"], env)
    assert done.returncode == 0, done.stderr
    assert "vigil run: 20 frames (20 complete)" in done.stderr


def synthetic_camera_served(vigil_env, spawn):
    """A looping synthetic camera `src` in an embedded run serving HTTP: (process, url) once a frame shows."""
    env = {k: v for k, v in vigil_env.items() if k not in ("VIGIL_BROKER_URL", "VIGIL_RESULT_BACKEND")}
    port = free_port()
    process = spawn(vigil("run", "--source", "src=synthetic", "--loop", "--port", str(port)), env, "served")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{url}/cameras/src/latest.jpg", timeout=1).status_code == 200:
                return process, url
        time.sleep(0.2)
    raise AssertionError(f"no frame served:\n{process.output()[-2000:]}")


def test_stopping_with_a_viewer_connected_is_clean(vigil_env, spawn):
    # Given an embedded run with a live viewer and an event-stream subscriber
    process, url = synthetic_camera_served(vigil_env, spawn)
    with requests.get(f"{url}/cameras/src/mjpeg", stream=True, timeout=10) as viewer, \
            requests.get(f"{url}/events", headers={"Accept": "text/event-stream"}, stream=True, timeout=10):
        assert viewer.raw.read(100)
        # When it is stopped
        assert process.stop() == 0
    # Then it says nothing alarming on the way out
    output = process.output()
    assert "Task was destroyed" not in output and "Traceback" not in output, output[-3000:]


def test_a_network_stream_is_a_source(vigil_env, spawn):
    # Given an HTTP MJPEG stream (Vigil's own live view of a synthetic camera)
    env = {k: v for k, v in vigil_env.items() if k not in ("VIGIL_BROKER_URL", "VIGIL_RESULT_BACKEND")}
    _, url = synthetic_camera_served(vigil_env, spawn)
    # When Vigil captures that URL
    done = run(["run", "--source", f"relay={url}/cameras/src/mjpeg", "--max-frames", "20", "--no-http"], env)
    # Then its frames go through the pipeline like a camera's
    assert done.returncode == 0, done.stderr
    assert "streaming from stream http://127.0.0.1" in done.stderr
    assert "vigil run: 20 frames (20 complete)" in done.stderr
