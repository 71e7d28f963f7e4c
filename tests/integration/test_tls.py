"""TLS to RabbitMQ (amqps://) and Redis (rediss://) with a CA the test makes, and a client certificate.

Private servers (tests/integration/servers.py) with TLS listeners that require a client certificate;
real worker, capture and streamer processes configured only through the VIGIL_TLS_* settings.
"""

from __future__ import annotations

import subprocess
import time

import pytest
import requests

from tests.integration.conftest import healthz, start_streamer, start_worker, vigil
from tests.integration.servers import (
    Pki,
)

pytestmark = pytest.mark.integration


def capture(*extra: str, frames: int = 40) -> list[str]:
    return vigil("capture", "--camera", "door", "--source", "synthetic:160x120@10", "--fps", "10",
                 "--algorithms", "fall", "--max-frames", str(frames), *extra)


def test_a_frame_goes_end_to_end_over_amqps_and_rediss(tls_env, spawn):
    # Given a worker and a streamer that reach RabbitMQ and Redis only over TLS, with a client certificate
    assert tls_env["VIGIL_BROKER_URL"].startswith("amqps://") and tls_env["VIGIL_RESULT_BACKEND"].startswith("rediss://")
    start_worker(spawn, tls_env)
    _, url = start_streamer(spawn, tls_env)
    # When a camera sends frames
    spawn(capture(frames=200), tls_env, "capture")
    # Then joined frames with the worker's fall result come out of the streamer
    deadline = time.monotonic() + 60
    fall = None
    while time.monotonic() < deadline:
        results = requests.get(f"{url}/cameras/door/results", timeout=5)
        if results.status_code == 200:
            fall = (results.json()["frame"] or {}).get("results", {}).get("fall")
            if fall and fall.get("status") == "ok":
                break
        time.sleep(0.3)
    assert fall and fall["status"] == "ok", fall
    # and the queue probe reached the broker over TLS too: it counts the worker as the fall queue's consumer
    status, body = healthz(url)
    assert body["checks"]["inputs"] == {"feed": True, "results": True}
    assert body["checks"]["queues"]["algorithms"]["fall"]["consumers"] >= 1, body
    # and the event store (Redis over TLS) answers
    assert requests.get(f"{url}/events", timeout=5).status_code == 200


def test_a_wrong_ca_fails_with_a_clear_error(tls_env, pki: Pki, spawn):
    wrong = dict(tls_env, VIGIL_TLS_CA_FILE=str(pki.other_ca))
    # A capture that trusts another CA never sends a frame and says why
    done = subprocess.run(capture(frames=5), env=wrong, capture_output=True, text=True, timeout=120)
    assert done.returncode == 69, done.stderr[-2000:]
    assert "certificate verify failed" in done.stderr, done.stderr[-2000:]
    # and a streamer says it in its log and in /healthz
    streamer, url = spawn_streamer_with(wrong, spawn)
    deadline = time.monotonic() + 30
    while "certificate verify failed" not in streamer.output():
        assert time.monotonic() < deadline, streamer.output()[-3000:]
        time.sleep(0.3)
    status, body = healthz(url, timeout=10)
    assert status == 503 and not all(body["checks"]["inputs"].values()), body


def spawn_streamer_with(env: dict[str, str], spawn):
    from tests.integration.conftest import free_port

    port = free_port()
    process = spawn(vigil("stream", "--port", str(port)), env, "streamer")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        try:
            requests.get(f"{url}/healthz", timeout=5)  # the queue probe may take its connect timeout
            return process, url
        except requests.RequestException:
            time.sleep(0.3)
    raise AssertionError(process.output()[-3000:])


def test_a_client_certificate_without_its_key_is_a_config_error(tls_env):
    env = dict(tls_env)
    del env["VIGIL_TLS_KEY_FILE"]
    done = subprocess.run(capture(frames=1), env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 78 and "tls_cert_file and tls_key_file go together" in done.stderr, done.stderr


