"""The benchmark's statistics and formatting helpers, and the naive baseline's codec."""

import math

import numpy as np
import pytest

from vigil.bench.naive import decode_naive, encode_naive, pika_url
from vigil.bench.overload import by_window
from vigil.bench.report import markdown_table, spread, text_table
from vigil.stats import median_and_spread, summarize


@pytest.mark.parametrize(
    "values, scale, expected",
    [
        ([0.010, 0.012, 0.011], 1000, "11.0 (10.0-12.0)"),
        ([5.0], 1, "5.0"),
        ([], 1, "-"),
        ([math.nan, 2.0, 4.0], 1, "3.0 (2.0-4.0)"),
    ],
)
def test_spread(values, scale, expected):
    assert spread(values, scale) == expected


def test_median_and_spread():
    assert median_and_spread([3.0, 1.0, 2.0]) == (2.0, 1.0, 3.0)
    assert all(math.isnan(v) for v in median_and_spread([]))


def test_summarize_ignores_nan_and_reports_percentiles():
    summary = summarize([*range(1, 101), math.nan])
    assert summary["n"] == 100 and summary["p50"] == 50.5 and summary["max"] == 100
    assert summary["p99"] == pytest.approx(99.01)


def test_latency_by_five_second_window():
    points = [(100.0 + t, t / 10) for t in (0.0, 1.0, 6.0, 11.0, 12.0)]
    windows = by_window(points, start=100.0)
    assert sorted(windows) == [0, 1, 2]
    assert windows[0]["n"] == 2 and windows[2]["p50"] == pytest.approx(1.15)


def test_tables_align_and_render_markdown():
    text = text_table("T", ["a", "bbb"], [[1.25, "x"], ["long value", 2]])
    lines = text.splitlines()
    assert lines[0] == "T" and lines[2].startswith("a ") and "1.2" in text
    assert len({len(line) for line in lines[2:4]}) == 1
    markdown = markdown_table("T", ["a", "b"], [[1, 2]])
    assert "| a | b |" in markdown and "|---|---|" in markdown and "| 1 | 2 |" in markdown


def test_naive_codec_round_trips_with_uint8():
    image = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    again = decode_naive(encode_naive(image))
    assert again.dtype == np.uint8 and np.array_equal(again, image)


@pytest.mark.parametrize(
    "url, expected",
    [
        ("amqp://guest:guest@127.0.0.1:5672//", "amqp://guest:guest@127.0.0.1:5672/%2F"),
        ("pyamqp://u:p@host:5672/prod", "amqp://u:p@host:5672/prod"),
        ("amqp://host", "amqp://host/%2F"),
    ],
)
def test_pika_url(url, expected):
    assert pika_url(url) == expected


def test_the_bench_command_lists_every_scenario():
    from vigil.bench.command import SCENARIO_NAMES
    from vigil.bench.scenarios import SCENARIOS

    assert SCENARIO_NAMES == tuple(SCENARIOS)


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ([40.0, 30.0, 45.0], [42.0, 41.0, 50.0], True),  # medians 2 apart, spreads 15 and 9
        ([40.0, 39.0, 41.0], [60.0, 59.0, 61.0], False),  # 20 apart, spreads 2
        ([40.0], [40.0], True),
        ([40.0], [41.0], False),  # one run each: no spread, any difference is beyond it
        ([40.0, math.nan, 42.0], [41.0, 43.0], True),
        ([], [41.0], False),
    ],
)
def test_within_noise(a, b, expected):
    from vigil.bench.report import within_noise

    assert within_noise(a, b) is expected


def test_the_notify_site_file_loads_with_its_cameras_rules_and_notifiers(tmp_path):
    from vigil.bench.notify import WEBHOOK_NAME, site_toml
    from vigil.config import load_site_config

    # Given the site file of an "on" run and of an "off" run
    on = tmp_path / "on.toml"
    on.write_text(site_toml(["cam0", "cam1"], "demo", 1.0, mqtt=("127.0.0.1", 1883, "vigil-bench-x"),
                            webhook=("http://127.0.0.1:9/hook", "s" * 32)))
    off = tmp_path / "off.toml"
    off.write_text(site_toml(["cam0", "cam1"], "demo", 1.0))
    # When Vigil loads them
    site, quiet = load_site_config(on, environ={}), load_site_config(off, environ={})
    # Then both have the cameras with the short fall cooldown, and only "on" notifies
    assert sorted(site.cameras) == ["cam0", "cam1"] and site.cameras == quiet.cameras
    assert site.cameras["cam1"].rules["fall"] == {"cooldown_s": 1.0}
    notify = site.notifications()
    assert notify.mqtt is not None and (notify.mqtt.port, notify.mqtt.prefix) == (1883, "vigil-bench-x")
    assert [hook.name for hook in notify.webhooks] == [WEBHOOK_NAME]
    assert notify.webhooks[0].url == "http://127.0.0.1:9/hook"
    assert not quiet.notifications().enabled


def test_notify_counts_read_the_streamers_metrics():
    from prometheus_client import CollectorRegistry, Counter, generate_latest

    from vigil.bench.notify import notify_counts
    from vigil.notify.metrics import NotifyMetrics

    # Given a streamer's registry: 3 events raised, MQTT delivered 3, the webhook 2 with 1 waiting
    registry = CollectorRegistry()
    events = Counter("vigil_events", "Incident events.", ["camera", "kind", "type"], registry=registry)
    events.labels(camera="a", kind="fall", type="new").inc(2)
    events.labels(camera="a", kind="fall", type="end").inc()
    metrics = NotifyMetrics(registry)
    metrics.watch_backlog("mqtt", "127.0.0.1:1883", lambda: 0)
    metrics.watch_backlog("webhook", "bench", lambda: 1)
    metrics.delivered.labels(notifier="mqtt", target="127.0.0.1:1883").inc(3)
    metrics.delivered.labels(notifier="webhook", target="bench").inc(2)
    # When the bench parses its exposition
    counts = notify_counts(generate_latest(registry).decode())
    # Then it sums by notifier
    assert counts["events"] == 3
    assert (counts["mqtt_delivered"], counts["webhook_delivered"], counts["webhook_backlog"]) == (3, 2, 1)
    assert counts["mqtt_failed"] == counts["webhook_dropped"] == 0


@pytest.mark.parametrize(
    "output, expected",
    [
        ("x\nvigil stream: serving on http://127.0.0.1:40123\n", "http://127.0.0.1:40123"),
        ("vigil stream: serving on http://a:1\nvigil stream: serving on http://b:2", "http://b:2"),
    ],
)
def test_served_url(output, expected):
    from vigil.bench.deployment import served_url

    assert served_url(output) == expected


def test_served_url_without_the_line_says_so():
    from vigil.bench.deployment import served_url

    with pytest.raises(ValueError, match="serving on"):
        served_url("starting\n")
