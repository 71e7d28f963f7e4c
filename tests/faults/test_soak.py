"""Two minutes of the soak (scripts/soak.py runs ten): nothing grows after warm-up.

Its own Redis (tests/integration/servers.py): Redis' memory is read for the whole server.
"""

from __future__ import annotations

import pytest

from tests.integration.conftest import BROKER_URL, DATA_DIR, unavailable
from vigil.bench.deployment import Target
from vigil.bench.soak import soak, table

pytestmark = pytest.mark.integration


def test_two_minutes_of_two_cameras_grow_nothing(services, private_redis, tmp_path):
    source = DATA_DIR / "headpose" / "head_turning_640x360.mp4"
    if not source.exists():
        unavailable(f"test footage missing: {source}")
    target = Target(BROKER_URL, private_redis.url, tmp_path)
    rows, seconds = soak(target, str(source), cameras=2, fps=15, duration=120, warm_up=70, result_expires=30,
                         progress=lambda line: None)
    print("\n" + table(rows, seconds))
    assert all(row.ok for row in rows), table(rows, seconds)
