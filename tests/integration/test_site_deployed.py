"""The site issue's finish line: three cameras from one vigil.toml, behind a login, over TLS.

The example site (docs/examples/vigil.toml: three shared clips looped, per-algorithm rates, a zone
and a mask, rule options) with a user and an API token added by `vigil user`, run

- distributed: `vigil capture --config` (a process per camera), a worker and `vigil stream --config`
  against a private RabbitMQ and Redis that only speak TLS and want a client certificate;
- embedded: `vigil run --config` (one process; its broker is in memory, so no TLS to test there).

Both must serve every camera's joined frames to a client with the token, and nothing but /healthz
and /metrics to one without.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import DATA_DIR, ROOT, celery, inputs_connected, unavailable, vigil
from tests.integration.servers import free_port

pytestmark = pytest.mark.integration

EXAMPLE = ROOT / "docs" / "examples" / "vigil.toml"
CAMERAS = {"corridor", "desk", "room"}
PASSWORD = "a long enough password"


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, str]:
    """The example site with absolute clip paths, a user and a token; (file, token)."""
    if not (DATA_DIR / "fall").is_dir():
        unavailable(f"test footage missing: {DATA_DIR}")
    path = tmp_path / "vigil.toml"
    path.write_text(EXAMPLE.read_text().replace('"../shared/data/', f'"{DATA_DIR}/'))
    added = subprocess.run(vigil("user", "add", "carer", "--config", str(path), "--password-stdin"),
                           input=PASSWORD + "\n", capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    made = subprocess.run(vigil("user", "token", "dashboard", "--config", str(path)), capture_output=True, text=True,
                          timeout=60)
    assert made.returncode == 0, made.stderr
    return path, made.stdout.strip().splitlines()[0]


def wait_for_every_camera(url: str, token: str, timeout: float = 120) -> dict[str, dict]:
    """/cameras as the token's holder sees it, once every camera streams joined, complete frames."""
    deadline = time.monotonic() + timeout
    seen: dict[str, dict] = {}
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            answer = requests.get(f"{url}/cameras", headers={"Authorization": f"Bearer {token}"}, timeout=5)
            assert answer.status_code == 200, answer.text
            seen = {camera["name"]: camera for camera in answer.json()["cameras"]}
            if set(seen) == CAMERAS and all(_streams_results(url, token, name) for name in CAMERAS):
                return seen
        time.sleep(1)
    raise AssertionError(f"not every camera streamed results within {timeout} s: {sorted(seen)}")


def _streams_results(url: str, token: str, camera: str) -> bool:
    answer = requests.get(f"{url}/cameras/{camera}/results", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    frame = answer.json().get("frame") if answer.status_code == 200 else None
    return bool(frame and frame["complete"] and frame["results"])


def assert_behind_the_login(url: str) -> None:
    for path in ("/cameras", "/events", "/cameras/corridor/latest.jpg", "/cameras/corridor/mjpeg"):
        assert requests.get(f"{url}{path}", timeout=5, stream=True).status_code == 401, path
    assert requests.get(f"{url}/healthz", timeout=5).status_code in (200, 503)  # public, as configured
    assert requests.get(f"{url}/metrics", timeout=5).status_code == 200


def test_a_three_camera_site_runs_distributed_behind_a_login_over_tls(site, tls_env, spawn):
    path, token = site
    env = dict(tls_env, VIGIL_CONFIG=str(path))  # the worker reads the same file
    assert env["VIGIL_BROKER_URL"].startswith("amqps://") and env["VIGIL_RESULT_BACKEND"].startswith("rediss://")
    worker = spawn(celery("worker", "-Q", "fall,emotion,pose,blink", "-P", "threads", "-c", "2", "-l", "INFO",
                          "--without-mingle", "--without-gossip", "-n", f"site-{time.time_ns()}@%h"), env, "worker")
    worker.wait_for("ready.", 90)
    port = free_port()
    streamer = spawn(vigil("stream", "--port", str(port), "--config", str(path)), env, "streamer")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not inputs_connected(url):
        assert time.monotonic() < deadline, streamer.output()[-3000:]
        time.sleep(0.3)
    capture = spawn(vigil("capture", "--config", str(path)), env, "capture")
    # Then every camera of the file streams joined frames, to the token's holder only
    cameras = wait_for_every_camera(url, token)
    assert_behind_the_login(url)
    assert all(camera["capture"]["state"] == "streaming" for camera in cameras.values()), cameras
    health = requests.get(f"{url}/healthz", timeout=5).json()
    assert health["status"] == "ok", health  # every queue has its worker, every camera streams
    for process in (worker, streamer, capture):
        assert process.popen.poll() is None, process.output()[-3000:]
        assert "Traceback" not in process.output(), process.output()[-3000:]


def test_the_same_site_runs_embedded_behind_a_login(site, vigil_env, spawn):
    path, token = site
    port = free_port()
    run = spawn(vigil("run", "--config", str(path), "--port", str(port)), vigil_env, "run")
    url = f"http://127.0.0.1:{port}"
    wait_for_every_camera(url, token)
    assert_behind_the_login(url)
    assert run.popen.poll() is None and "Traceback" not in run.output(), run.output()[-3000:]
