"""The quick-start demo with the real detectors: `vigil run` with no source shows a face and raises a fall.

What was measured (3 cycles, 720 frames, loaded 2-core machine): a fall incident in every cycle
(``new`` at frame 173, onset 155, of each 240-frame cycle; ``end`` once she is up), a face found
by the emotion, pose and blink detectors on 241 frames (the close-ups, "happy"), a body on nearly
every frame the fall detector answered. The eyes never close in a still photograph, so no blink is counted: the blink
overlay shows eye openness only.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.integration.conftest import vigil

pytestmark = [pytest.mark.integration, pytest.mark.detectors]


def test_vigil_run_with_no_source_shows_a_face_and_raises_a_fall(vigil_env, tmp_path):
    report = tmp_path / "report.json"
    env = {k: v for k, v in vigil_env.items()
           if k not in ("VIGIL_BROKER_URL", "VIGIL_RESULT_BACKEND", "VIGIL_DETECTOR_OVERRIDE")}
    # queues and deadline long enough that a busy test machine drops no frame
    env.update(VIGIL_QUEUE_MAX_LENGTH="1000", VIGIL_MAX_FRAME_AGE="60", VIGIL_RESULT_DEADLINE="30")
    # Given `vigil run` with no --source: the demo camera, one 16 s cycle and a bit
    done = subprocess.run(vigil("run", "--max-frames", "200", "--no-http", "--report", str(report)),
                          env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads(report.read_text())
    frames = data["frames"]

    def found(algorithm: str, key: str) -> int:
        return sum(bool((f["results"].get(algorithm, {}).get("observation") or {}).get(key)) for f in frames)

    # Then every detector finds something to draw: a body, and a face for emotion, head pose and blink
    assert found("fall", "people") > 150
    assert min(found("emotion", "faces"), found("pose", "faces"), found("blink", "faces")) > 30
    # and the tip-over to the floor is reported as a fall
    falls = [e for e in data["events"] if e["kind"] == "fall" and e["type"] == "new"]
    assert falls, [(e["kind"], e["type"]) for e in data["events"]]
    assert 150 <= falls[0]["start_seq"] <= falls[0]["seq"] <= 200
