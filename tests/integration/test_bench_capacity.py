"""`vigil bench --scenario capacity` briefly: one camera, real detectors, both configurations.

Shape and sanity, not speed: both configurations measured frames; A asked every algorithm of every
frame, B about three a frame (the default rates at 15 fps); the tables have their rows.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.integration.conftest import BROKER_URL, DATA_DIR, RESULT_BACKEND, unavailable, vigil
from vigil.bench.options import ALL
from vigil.rates import DEFAULT_RATES

pytestmark = pytest.mark.integration

FPS = 15


def _table(markdown: str, title: str) -> list[list[str]]:
    """The body rows of the Markdown table under ``### <title>...``, as cells."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"### {title}"))
    rows = []
    for line in lines[start + 4:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_capacity_measures_both_configurations(services, tmp_path, vigil_env):
    clip = DATA_DIR / "headpose" / "head_turning_640x360.mp4"
    if not clip.exists():
        unavailable(f"test footage missing: {clip} (set VIGIL_DATA_DIR)")
    out, markdown = tmp_path / "bench.json", tmp_path / "performance.md"
    # When the scenario runs one camera for 4 s per configuration with the real detectors
    done = subprocess.run(
        vigil("bench", "--scenario", "capacity", "--cameras", "1", "--repeat", "1", "--duration", "4",
              "--source", str(clip), "--broker-url", BROKER_URL, "--result-backend", RESULT_BACKEND,
              "--work-dir", str(tmp_path / "logs"), "--json", str(out), "--markdown", str(markdown)),
        env=vigil_env, capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads(out.read_text())["results"]["capacity"]
    (before,), (defaults,) = data["runs"]["A"]["1"], data["runs"]["B"]["1"]
    # Then both measured frames, and asked what their configuration asks
    assert before["frames"] >= 2 * FPS and defaults["frames"] >= 2 * FPS
    assert before["tasks_asked"] == len(ALL) * before["frames"]
    per_frame = sum(min(rate, FPS) for rate in DEFAULT_RATES.values()) / FPS  # 3.0
    assert defaults["tasks_asked"] / defaults["frames"] == pytest.approx(per_frame, abs=0.25)
    for run in (before, defaults):
        assert 0 <= run["incomplete"] <= run["frames"]
        assert 0 < run["end_to_end"]["p50"] <= run["end_to_end"]["p99"] < 5
        assert 0 < run["cpu"]["worker"] < 8 and 0 < run["cpu"]["machine"] < 8
    assert set(data["cameras_per_box"].values()) <= {0, 1}
    # And the report has a row per configuration and the cameras per box
    text = markdown.read_text()
    rows = _table(text, "8. Capacity")
    assert [(row[0], row[1]) for row in rows] == [("A before", "1"), ("B defaults", "1")]
    boxes = _table(text, "8b. Cameras per box")
    assert [row[1] for row in boxes] == [str(data["cameras_per_box"][key]) for key in ("A", "B")]
