"""The suite's own guard: .ci/run fails a test run that stopped or restarted a server it does not own.

scripts/watch_servers.py is pointed here at the private servers (never at the developer's) and
asked to watch a command that does what the old broker-restart test did to the default node.
"""

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest

from tests.integration.conftest import ROOT

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("action", "expected_status", "expected_line"),
    [
        ("true", 0, "opened before the run: still open"),
        ("{ctl} stop_app && {ctl} start_app", 1, "opened before the run: LOST"),
    ],
    ids=["a-run-that-leaves-the-broker-alone", "a-run-that-restarts-the-broker-app"],
)
def test_the_ci_watch_fails_a_run_that_restarted_the_broker(private_rabbitmq, private_redis, action,
                                                            expected_status, expected_line):
    # Given the watch .ci/run puts around the suite, here on the private servers
    ctl = f"{shlex.quote(str(private_rabbitmq.ctl_script))} -q -n {private_rabbitmq.node}"
    watch = [sys.executable, str(ROOT / "scripts" / "watch_servers.py"), "--broker-url", private_rabbitmq.url,
             "--redis-url", private_redis.url, "--", "sh", "-c", action.format(ctl=ctl)]
    # When the watched command leaves the broker alone, or restarts its app as the old test did
    # (stop_app/start_app keeps the Erlang VM: its uptime alone would not show it)
    done = subprocess.run(watch, env=private_rabbitmq.env, capture_output=True, text=True, timeout=180)
    # Then the run passes only when the connection opened before it is still open after it
    assert done.returncode == expected_status, done.stderr
    assert expected_line in done.stderr
