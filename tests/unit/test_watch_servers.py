"""scripts/watch_servers.py: when does a server count as restarted during the watched run?"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location(
    "watch_servers", Path(__file__).resolve().parents[2] / "scripts" / "watch_servers.py")
assert _SPEC is not None and _SPEC.loader is not None
watch_servers = importlib.util.module_from_spec(_SPEC)
sys.modules["watch_servers"] = watch_servers  # dataclasses look their module up by name
_SPEC.loader.exec_module(watch_servers)
SLACK_SECONDS, Uptime = watch_servers.SLACK_SECONDS, watch_servers.Uptime

BEFORE = Uptime("pid 100", 1000)


@pytest.mark.parametrize(
    ("after", "elapsed", "restarted"),
    [
        (Uptime("pid 100", 1300), 300, False),  # the whole run later, same process
        (Uptime("pid 100", 1300 - SLACK_SECONDS + 1), 300, False),  # uptimes read a moment apart
        (Uptime("pid 100", 1100), 300, True),  # same identity but younger than the run: restarted in place
        (Uptime("pid 200", 1300), 300, True),  # another process, whatever its uptime
        (Uptime("pid 200", 40), 300, True),
    ],
)
def test_a_server_counts_as_restarted_when_its_identity_changed_or_its_uptime_fell_behind(after, elapsed, restarted):
    assert after.restarted_since(BEFORE, elapsed) is restarted
