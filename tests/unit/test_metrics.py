"""Queue gauges when the broker cannot be asked, and the probe's rate limit."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from vigil.stream.metrics import QueueCollector, QueueProbe


def exposition(probe: QueueProbe) -> dict[str, list[tuple[dict[str, str], float]]]:
    registry = CollectorRegistry()
    registry.register(QueueCollector(probe))
    text = generate_latest(registry).decode()
    return {f.name: [(s.labels, s.value) for s in f.samples] for f in text_string_to_metric_families(text)}


def test_an_unreachable_broker_shows_as_such_and_no_queue_is_invented():
    probe = QueueProbe("amqp://guest:guest@127.0.0.1:9//", ["fall", "blink"], interval=60)
    metrics = exposition(probe)
    assert metrics["vigil_broker_reachable"] == [({}, 0.0)]
    assert metrics["vigil_queue_messages"] == [] and metrics["vigil_queue_consumers"] == []
    probe.close()


def test_scrapes_within_the_interval_reuse_the_last_reading():
    probe = QueueProbe("amqp://guest:guest@127.0.0.1:9//", ["fall"], interval=60)
    calls = []
    probe._read = lambda: calls.append(1) or {}  # type: ignore[method-assign]
    for _ in range(5):
        assert probe.read() == {}
    assert calls == [1]
