"""The main job with the real detectors: `vigil run` on a real fall clip opens the fall incident."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import DATA_DIR, unavailable, vigil
from vigil.stream.store import EventStore

pytestmark = [pytest.mark.integration, pytest.mark.detectors]


def test_embedded_run_with_real_detectors_raises_the_fall(vigil_env, tmp_path):
    clip = DATA_DIR / "fall" / "fall_corridor_walker_640x360.mp4"
    if not clip.exists():
        unavailable(f"test footage missing: {clip} (set VIGIL_DATA_DIR)")
    report, events_db = tmp_path / "report.json", tmp_path / "events.sqlite3"
    env = {k: v for k, v in vigil_env.items()
           if k not in ("VIGIL_BROKER_URL", "VIGIL_RESULT_BACKEND", "VIGIL_DETECTOR_OVERRIDE")}
    env.update(VIGIL_EVENTS_URL=str(events_db), VIGIL_QUEUE_MAX_LENGTH="1000", VIGIL_MAX_FRAME_AGE="60",
               VIGIL_RESULT_DEADLINE="30")
    # Given the corridor clip (onset at frame 86) and the fall and pose detectors,
    # with queues long enough that no frame is dropped on a busy test machine
    done = subprocess.run(vigil("run", "--source", f"corridor={clip}", "--algorithms", "fall,pose", "--no-http",
                                "--report", str(report)), env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads(report.read_text())
    # Then every frame sent carries both real observations for itself (the capture drops a frame
    # only when its sender is still busy with the previous one, as on a loaded machine)
    (capture,) = data["capture"]
    assert capture["captured"] == 122 and capture["sent"] >= 120
    assert data["frames_emitted"] == data["frames_complete"] == capture["sent"]
    first = data["frames"][0]["results"]
    assert first["fall"]["detector"] == "fall" and "people" in first["fall"]["observation"]
    # And exactly one fall incident opened near the labelled onset, and stored; the clip ends with
    # her still on the floor, so it has no end
    falls = [event for event in data["events"] if event["kind"] == "fall"]
    assert [event["type"] for event in falls] == ["new"] and 80 <= falls[0]["start_seq"] <= 86 + 50, falls
    store = EventStore(str(events_db))
    (fall,) = [event for event in store.page().incidents if event["kind"] == "fall"]
    assert (fall["id"], fall["type"]) == (falls[0]["id"], "new")
    # With its snapshot and its clip (written when the run ended, if not before) beside the store
    media = Path(env["VIGIL_MEDIA_DIR"]) / "corridor"
    assert fall["snapshot"] and (media / f"{fall['id']}.jpg").read_bytes()[:2] == b"\xff\xd8"
    assert fall["clip"] and (media / f"{fall['id']}.webm").stat().st_size > 10_000
