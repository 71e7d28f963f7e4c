"""The Redis event store against a real Redis (db 15, flushed around each test)."""

from __future__ import annotations

import pytest

from tests.helpers import incident_event
from tests.integration.conftest import RESULT_BACKEND
from vigil.detectors.base import Event
from vigil.errors import BrokerUnavailableError
from vigil.stream.events import RedisEventStore

pytestmark = pytest.mark.integration


def event(seq: int, camera: str = "door") -> Event:
    return incident_event(camera, seq, confidence=0.5 + seq / 100)


def test_events_come_back_newest_last_and_filtered_by_camera(clean):
    store = RedisEventStore(RESULT_BACKEND, maxlen=1000, key="vigil:test-events")
    try:
        for seq in range(5):
            store.append(event(seq, "door" if seq % 2 == 0 else "hall"))
        assert [e["seq"] for e in store.recent()] == [0, 1, 2, 3, 4]
        assert [e["seq"] for e in store.recent(limit=2)] == [3, 4]
        assert [e["seq"] for e in store.recent(camera="door")] == [0, 2, 4]
        assert store.recent(camera="door")[0] == event(0).to_dict()
    finally:
        store.client.delete("vigil:test-events")
        store.close()


def test_the_stream_stays_capped(clean):
    store = RedisEventStore(RESULT_BACKEND, maxlen=10, key="vigil:test-capped")
    try:
        for seq in range(500):
            store.append(event(seq))
        # XADD MAXLEN ~ trims whole radix-tree nodes: about maxlen, never unbounded
        assert store.client.xlen("vigil:test-capped") < 200
        assert store.recent(limit=1)[0]["seq"] == 499
    finally:
        store.client.delete("vigil:test-capped")
        store.close()


def test_an_unreachable_redis_is_reported_not_raised_raw():
    store = RedisEventStore("redis://127.0.0.1:9/0", maxlen=10)
    with pytest.raises(BrokerUnavailableError, match="cannot store event in Redis"):
        store.append(event(0))
    with pytest.raises(BrokerUnavailableError, match="cannot read events from Redis"):
        store.recent()
