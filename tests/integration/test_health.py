"""/healthz tells the truth: real streamer, capture and worker processes on RabbitMQ + Redis."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import free_port, healthz, start_streamer, start_worker, unavailable, vigil

pytestmark = pytest.mark.integration


def capture_args(camera: str = "door") -> list[str]:
    return vigil("capture", "--camera", camera, "--source", "synthetic:160x120@10", "--fps", "10",
                 "--algorithms", "fall")


def wait_health(url: str, predicate, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    body: dict = {}
    while time.monotonic() < deadline:
        status, body = healthz(url)
        if predicate(status, body):
            return body
        time.sleep(0.3)
    raise AssertionError(f"/healthz never matched; last: {body}")


def emitted(url: str, camera: str = "door") -> float:
    text = requests.get(f"{url}/metrics", timeout=5).text
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "vigil_frames_emitted_total" and s.labels.get("camera") == camera)


def test_no_worker_on_a_queue_makes_healthz_503_naming_the_queue(clean, spawn, vigil_env):
    # Given a streamer and a camera asking for falls, and no worker at all
    _, url = start_streamer(spawn, vigil_env)
    spawn(capture_args(), vigil_env, "capture")
    # Then /healthz says 503 and names the fall queue (once frames asked for it)
    body = wait_health(url, lambda status, body: status == 503 and body["checks"]["cameras"].get("door"))
    # (before the first frame is emitted it judges every configured queue; then those frames ask for)
    body = wait_health(url, lambda status, body: list(body["checks"]["queues"]["algorithms"]) == ["fall"])
    assert body["status"] == "degraded"
    assert [r for r in body["reasons"] if "queue" in r] == [
        "no worker consumes the 'fall' queue: fall results will be missing (start `celery -A vigil worker -Q fall`)"]
    fall = body["checks"]["queues"]["algorithms"]["fall"]
    assert fall["consumers"] == 0 and 0 <= fall["messages"] <= 4  # the bounded queue holds at most 4
    # and /metrics says the same
    text = requests.get(f"{url}/metrics", timeout=5).text
    samples = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples if not s.labels}
    assert samples["vigil_healthy"] == 0.0


def test_with_a_worker_healthz_is_200_with_the_same_json(clean, spawn, vigil_env):
    # Given a worker, a streamer and a streaming camera
    start_worker(spawn, vigil_env)
    _, url = start_streamer(spawn, vigil_env)
    spawn(capture_args(), vigil_env, "capture")
    # Then /healthz says 200 once the camera streams, and shows the consumer it found
    body = wait_health(url, lambda status, body: status == 200 and body["checks"]["cameras"].get("door"))
    assert body["reasons"] == []
    assert body["checks"]["queues"]["algorithms"]["fall"]["consumers"] >= 1
    assert body["checks"]["cameras"]["door"]["state"] == "streaming"
    assert body["checks"]["frames"]["emitted"] > 0


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A real, tiny filesystem (a 256 KiB tmpfs) that a test can fill; needs root to mount."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0:
        unavailable("mounting a tiny tmpfs for the full-disk test needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        unavailable(f"cannot mount a tmpfs for the full-disk test: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path) -> None:
    """Write a file until the filesystem says ENOSPC."""
    with open(directory / "filler", "wb", buffering=0) as filler:
        try:
            while True:
                filler.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


def test_a_full_disk_while_recording_is_loud_turns_health_503_and_the_stream_goes_on(
        clean, spawn, vigil_env, full_disk):
    # Given a worker, a camera, and `vigil stream --record` onto a small filesystem
    start_worker(spawn, vigil_env)
    record = full_disk / "record.jsonl"
    streamer, url = start_streamer(spawn, vigil_env, "--record", str(record))
    spawn(capture_args(), vigil_env, "capture")
    wait_health(url, lambda status, body: status == 200 and body["checks"]["cameras"].get("door"))
    assert record.stat().st_size > 0
    # When the filesystem fills up
    fill(full_disk)
    # Then /healthz says 503 naming the path, the setting and the error
    body = wait_health(url, lambda status, body: status == 503 and "recording" in body["checks"]["faults"])
    (reason,) = body["reasons"]
    assert str(record) in reason and "--record" in reason and "No space left on device" in reason
    # and the log says it once, clearly, without a traceback
    output = streamer.output()
    assert output.count("No space left on device") == 1, output[-3000:]
    assert "Traceback" not in output
    # and frames are still emitted (no silent freeze)
    before = emitted(url)
    deadline = time.monotonic() + 20
    while emitted(url) < before + 10:
        assert time.monotonic() < deadline, "the stream froze after the disk filled"
        time.sleep(0.3)
    with contextlib.suppress(requests.RequestException):
        assert requests.get(f"{url}/cameras/door/latest.jpg", timeout=5).status_code == 200


def test_a_camera_that_goes_down_makes_healthz_503_naming_it(clean, spawn, vigil_env):
    # Given a network camera (Vigil's own MJPEG view of a synthetic scene, in an embedded run),
    embedded_env = {k: v for k, v in vigil_env.items() if k not in ("VIGIL_BROKER_URL", "VIGIL_RESULT_BACKEND")}
    port = free_port()
    camera = spawn(vigil("run", "--source", "src=synthetic:160x120@10", "--loop", "--port", str(port)),
                   embedded_env, "camera")
    camera_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{camera_url}/cameras/src/latest.jpg", timeout=1).status_code == 200:
                break
        assert time.monotonic() < deadline, camera.output()[-2000:]
        time.sleep(0.2)
    # captured by `vigil capture`, with a worker and a streamer: healthy
    start_worker(spawn, vigil_env)
    _, url = start_streamer(spawn, vigil_env)
    spawn(vigil("capture", "--camera", "relay", "--source", f"{camera_url}/cameras/src/mjpeg", "--algorithms", "fall"),
          vigil_env, "capture")
    wait_health(url, lambda status, body: status == 200 and body["checks"]["cameras"].get("relay"))
    # When the camera goes away
    camera.stop()
    # Then /healthz says 503 and which camera, and why
    body = wait_health(url, lambda status, body: status == 503 and any("'relay'" in r for r in body["reasons"]))
    (reason,) = [r for r in body["reasons"] if "'relay'" in r]
    assert body["checks"]["cameras"]["relay"]["state"] in ("reconnecting", "connecting"), body
    assert reason.startswith("camera 'relay' is reconnecting") or reason.startswith("camera 'relay' is connecting")
