"""Bad input gets a clear message and a named exit code; the embedded run writes its report."""

from __future__ import annotations

import contextlib
import json
import subprocess
import time

import pytest
import requests

from tests.integration.conftest import free_port, vigil

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
                     2, "bad value '500' for setting 'jpeg_quality' (VIGIL_JPEG_QUALITY)", id="malformed setting"),
        pytest.param(["run", "--source", "synthetic"], {"VIGIL_MAX_FRAME_AGE": "soon"},
                     2, "bad value 'soon' for setting 'max_frame_age'", id="malformed setting in run"),
    ],
)
def test_bad_input_is_explained(args, extra_env, code, message, vigil_env):
    done = run(args, dict(vigil_env, **extra_env))
    assert done.returncode == code, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_unreachable_broker_drops_frames_and_exits_cleanly(vigil_env):
    env = dict(vigil_env, VIGIL_BROKER_URL="amqp://guest:guest@127.0.0.1:1//")
    done = run(["capture", "--camera", "nobroker", "--source", "synthetic", "--fps", "20", "--max-frames", "40"], env)
    assert done.returncode == 0, done.stderr
    assert "cannot reach the broker" in done.stderr
    assert "40 captured, 0 sent, 40 dropped" in done.stderr
    assert "Traceback" not in done.stderr


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


def test_a_network_stream_is_a_source(vigil_env, spawn):
    # Given an HTTP MJPEG stream (Vigil's own live view of a synthetic camera)
    env = {k: v for k, v in vigil_env.items() if k not in ("VIGIL_BROKER_URL", "VIGIL_RESULT_BACKEND")}
    port = free_port()
    spawn(vigil("run", "--source", "src=synthetic", "--loop", "--port", str(port)), env, "source")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{url}/cameras/src/latest.jpg", timeout=1).status_code == 200:
                break
        time.sleep(0.2)
    # When Vigil captures that URL
    done = run(["run", "--source", f"relay={url}/cameras/src/mjpeg", "--max-frames", "20", "--no-http"], env)
    # Then its frames go through the pipeline like a camera's
    assert done.returncode == 0, done.stderr
    assert "streaming from stream http://127.0.0.1" in done.stderr
    assert "vigil run: 20 frames (20 complete)" in done.stderr
