"""The benchmark's statistics and formatting helpers, and the naive baseline's codec."""

import math

import numpy as np
import pytest

from vigil.bench.naive import decode_naive, encode_naive, pika_url
from vigil.bench.report import markdown_table, spread, text_table
from vigil.bench.scenarios import _by_window
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
    windows = _by_window(points, start=100.0)
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
