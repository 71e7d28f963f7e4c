"""A site file run as users run it: `vigil capture --config` (one supervised process per camera),
a worker and a streamer reading the same file, and `vigil run --config`, on RabbitMQ + Redis."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import psutil
import pytest

from tests.integration.conftest import free_port, start_worker, vigil
from vigil.stream.recorder import read_json_lines

pytestmark = pytest.mark.integration

SITE = """\
[vigil]
result_deadline = 3.0

[cameras.a]
source = "synthetic:160x120@15"
algorithms = { fall = 5, blink = 15 }
masks = [[[0.0, 0.0], [0.5, 0.0], [0.5, 0.5]]]

[cameras.b]
source = "synthetic:160x120@15"
algorithms = { pose = 15 }
"""
EXPECTED = {"a": lambda seq: {"fall", "blink"} if seq % 3 == 0 else {"blink"}, "b": lambda seq: {"pose"}}


def site_file(tmp_path: Path, text: str = SITE) -> Path:
    path = tmp_path / "vigil.toml"
    path.write_text(text)
    return path


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_every_camera_of_the_file_at_its_own_rates_through_worker_and_streamer(clean, spawn, vigil_env, tmp_path):
    # Given a worker and a streamer that read the site file through VIGIL_CONFIG
    env = dict(vigil_env, VIGIL_CONFIG=str(site_file(tmp_path)))
    start_worker(spawn, env)
    record = tmp_path / "record.jsonl"
    streamer = spawn(vigil("stream", "--port", str(free_port()), "--record", str(record)), env, "streamer")
    streamer.wait_for("serving on", 30)
    # When `vigil capture --config` runs every camera of the file for 45 frames
    capture = spawn(vigil("capture", "--max-frames", "45"), env, "capture")
    assert capture.wait(90) == 0, capture.output()
    # Then each camera ran in its own process, its lines prefixed with its name
    output = capture.output()
    for camera in ("a", "b"):
        assert f"[{camera}] camera {camera}: 45 captured" in output, output
    # And each frame asked only for the algorithms due at its time, and was joined with just those
    wait_until(lambda: record.exists() and len(read_json_lines(record)[0]) >= 88, 30, "the frames to be emitted")
    frames, _ = read_json_lines(record)
    for frame in frames:
        asked = set(frame["results"]) | set(frame["missing"])
        assert asked == EXPECTED[frame["camera"]](frame["seq"]), frame["seq"]
    complete = [f for f in frames if f["complete"]]
    assert len(complete) >= 0.9 * len(frames), [f["missing"] for f in frames if not f["complete"]]


def test_sigterm_stops_every_camera_process_and_a_dead_one_is_restarted(clean, spawn, vigil_env, tmp_path):
    looping = SITE.replace('algorithms = { pose = 15 }', 'algorithms = { pose = 15 }\nloop = true')
    env = dict(vigil_env, VIGIL_CONFIG=str(site_file(tmp_path, looping)))
    capture = spawn(vigil("capture"), env, "capture")
    capture.wait_for("[b] ", 30)
    capture.wait_for("[a] ", 30)
    wait_until(lambda: len(psutil.Process(capture.popen.pid).children()) == 2, 30, "two camera processes")
    children = {json.dumps(c.cmdline()): c for c in psutil.Process(capture.popen.pid).children()}
    # When one camera's process is killed
    victim = next(c for line, c in children.items() if '"b"' in line)
    victim.kill()
    # Then it is restarted after a backoff
    capture.wait_for("camera b: capture process exited with -9; restarting in", 30)
    old = {c.pid for c in children.values()}
    wait_until(lambda: {c.pid for c in psutil.Process(capture.popen.pid).children()} - old, 30, "a new process for b")
    survivors = psutil.Process(capture.popen.pid).children()
    # And SIGTERM stops every camera cleanly, each process reaped, exit 0
    capture.popen.send_signal(signal.SIGTERM)
    assert capture.wait(20) == 0, capture.output()
    _, alive = psutil.wait_procs(survivors, timeout=1)
    assert not alive, alive
    assert "received SIGTERM: stopping" in capture.output()


def test_vigil_run_config_runs_every_camera_embedded(vigil_env, tmp_path):
    import subprocess

    report = tmp_path / "report.json"
    done = subprocess.run(vigil("run", "--config", str(site_file(tmp_path)), "--max-frames", "30", "--no-http",
                                "--report", str(report)),
                          env=vigil_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    frames = json.loads(report.read_text())["frames"]
    assert {f["camera"] for f in frames} == {"a", "b"}
    for frame in frames:
        assert set(frame["results"]) | set(frame["missing"]) == EXPECTED[frame["camera"]](frame["seq"])
    assert all(frame["complete"] for frame in frames)


def test_a_bad_site_file_stops_capture_before_anything_starts(vigil_env, tmp_path):
    import subprocess

    path = site_file(tmp_path, SITE.replace("fall = 5", "falll = 5"))
    done = subprocess.run(vigil("capture", "--config", str(path)), env=vigil_env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 78
    assert f"{path}: [cameras.a] algorithms.falll: unknown algorithm; known: fall, emotion, pose, blink" in done.stderr
    assert "Traceback" not in done.stderr
