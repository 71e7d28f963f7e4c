"""Incidents from the real fall detector and rule on the labelled corridor clip (../shared/data).

The clip (25 fps, 122 frames): a woman with a walker collapses at frame 86 and is still on
the floor when the clip ends at 121. So the stream gives exactly one ``new`` and no ``end``
(she never gets up; ending the stream only sends the ``end`` of incidents that cleared).
Without the data folder the test skips loudly on a laptop and fails in CI.
"""

from __future__ import annotations

import json

import pytest

from tests.integration.test_detectors import DATA_DIR, require_data
from vigil.detectors.base import Event, event_id
from vigil.evaluation import run_clip

pytestmark = pytest.mark.detectors

CORRIDOR = "fall/fall_corridor_walker_640x360.mp4"
ONSET, FPS = 86, 25.0


def test_the_corridor_fall_is_one_new_event_and_no_end() -> None:
    # Given the real fall detector and rule over the corridor clip, as a streamer runs them
    require_data()
    run = run_clip("fall", DATA_DIR / CORRIDOR, FPS)
    # Then one incident: a `new` within 2 s of the labelled onset, still open when the clip ends
    assert [(e.type, e.kind) for e in run.events] == [("new", "fall")]
    (new,) = run.events
    assert abs(new.start_seq - ONSET) / FPS <= 2.0 and 0 <= (new.seq - ONSET) / FPS <= 2.0
    assert new.id == event_id(new.camera, 0, "fall", new.start_seq) and new.end is None
    assert new.severity == "warning" and 0 < new.score <= 1 and new.details["track"] is not None
    # And it travels as JSON unchanged
    assert Event.from_dict(json.loads(json.dumps(new.to_dict()))) == new
    # And the rule saw one fall only, still down on the last frame
    assert [c.kind for c in run.onsets] == ["fall"]
    assert run.summaries[-1]["fallen"] is True
