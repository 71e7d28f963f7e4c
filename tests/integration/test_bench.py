"""`vigil bench` smoke test: every scenario runs briefly and prints its tables (shape, not speed)."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.integration.conftest import BROKER_URL, RESULT_BACKEND, unavailable, vigil
from tests.integration.mqtt_helpers import DEFAULT_BROKER, reachable

pytestmark = pytest.mark.integration


def test_every_scenario_runs_and_reports(services, tmp_path, vigil_env):
    if not reachable(*DEFAULT_BROKER):
        unavailable(f"Mosquitto unreachable at {DEFAULT_BROKER[0]}:{DEFAULT_BROKER[1]} (the notify scenario)")
    out = tmp_path / "bench.json"
    markdown = tmp_path / "performance.md"
    backend = RESULT_BACKEND.rsplit("/", 1)[0] + "/14"
    done = subprocess.run(
        vigil("bench", "--repeat", "1", "--duration", "2", "--throughput-frames", "60", "--naive-frames", "2",
              "--slots", "1,2", "--no-real-detectors", "--broker-url", BROKER_URL, "--result-backend", backend,
              "--work-dir", str(tmp_path / "logs"), "--json", str(out), "--markdown", str(markdown)),
        env=vigil_env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for title in ("1. Wire cost", "2. Throughput", "3. Live latency", "4. Overload", "4b. Overload latency",
                  "5. Scale-out", "6. Publishing one frame", "7. Notifications off (A) and on (B)"):
        assert title in done.stdout
    data = json.loads(out.read_text())
    assert set(data["results"]) == {"wire", "throughput", "live", "overload", "scale", "publish",
                                     "notify"}
    publish = data["results"]["publish"]
    assert all(publish[key][0]["n"] > 0 for key in ("unconfirmed", "confirmed", "naive"))
    assert data["results"]["wire"]["bytes_ratio"] > 1
    assert data["results"]["throughput"]["vigil"][0]["complete"] > 0
    assert set(data["results"]["scale"]) == {"1", "2"}
    notify = data["results"]["notify"]
    assert notify["source"] == "demo" and notify["on"][0]["frames"] > 0 and notify["off"][0]["frames"] > 0
    assert "- command: `vigil bench" in markdown.read_text()
