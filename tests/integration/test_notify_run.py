"""``vigil run`` reads the notification tables of the site file and publishes to a real Mosquitto."""

from __future__ import annotations

import subprocess

import pytest

from tests.integration.conftest import unavailable, vigil
from tests.integration.mqtt_helpers import DEFAULT_BROKER, Subscriber, clear_retained, reachable, unique_prefix

pytestmark = pytest.mark.integration


def test_vigil_run_announces_itself_on_mqtt_from_the_site_file(tmp_path, vigil_env):
    if not reachable(*DEFAULT_BROKER):
        unavailable(f"Mosquitto unreachable at {DEFAULT_BROKER[0]}:{DEFAULT_BROKER[1]}")
    prefix = unique_prefix()
    site = tmp_path / "vigil.toml"
    site.write_text(f'[vigil]\nlog_level = "INFO"\n\n[mqtt]\nport = {DEFAULT_BROKER[1]}\nprefix = "{prefix}"\n'
                    f'password = "never-shown-pw"\nusername = "vigil"\n')
    watcher = Subscriber(DEFAULT_BROKER[1], f"{prefix}/available")
    try:
        done = subprocess.run(vigil("run", "--source", "synthetic", "--max-frames", "10", "--fps", "10",
                                    "--no-http", "--algorithms", "fall"),
                              env=dict(vigil_env, VIGIL_CONFIG=str(site)), capture_output=True, text=True,
                              timeout=180, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert [payload for _, payload, _ in watcher.wait_for(2)] == [b"online", b"offline"]
        assert f"notifications: MQTT 127.0.0.1:{DEFAULT_BROKER[1]} prefix '{prefix}'" in done.stderr
        assert "never-shown-pw" not in done.stderr
    finally:
        watcher.close()
        clear_retained(DEFAULT_BROKER[1], [f"{prefix}/available"])


def test_a_bad_notification_key_stops_vigil_run_with_its_name(tmp_path, vigil_env):
    site = tmp_path / "vigil.toml"
    site.write_text('[vigil]\nlog_level = "INFO"\n\n[[webhooks]]\nname = "carers"\nurl = "https://example.org/h"\n'
                    'secret = "0123456789abcdef0123"\ntimeuot = 3\n')
    done = subprocess.run(vigil("run", "--source", "synthetic", "--max-frames", "5", "--no-http"),
                          env=dict(vigil_env, VIGIL_CONFIG=str(site)), capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode != 0
    assert "webhooks[0] (carers).timeuot" in done.stderr and "0123456789abcdef0123" not in done.stderr
