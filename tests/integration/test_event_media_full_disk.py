"""A full media folder (a 256 KiB tmpfs the test mounts): events stored, files counted as lost, nothing half-written.

Needs root (mount); elsewhere it skips, and fails with CI=true like any missing service.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.incidents import joined, message
from tests.integration.conftest import unavailable
from vigil.settings import Settings
from vigil.stream.events import EventLog
from vigil.stream.media import MediaRecorder
from vigil.stream.mediafiles import frames_in
from vigil.stream.store import EventStore

pytestmark = pytest.mark.integration

FPS = 10.0


@pytest.fixture
def full_disk(tmp_path):
    folder = tmp_path / "media"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        unavailable(f"cannot mount a small tmpfs (root needed): {mounted.stderr.strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_media_folder_costs_files_not_events(tmp_path, full_disk):
    settings = Settings.load(environ={"VIGIL_CLIP_BEFORE_S": "2", "VIGIL_CLIP_AFTER_S": "2"})
    store = EventStore(str(tmp_path / "events.sqlite3"))  # the store itself is elsewhere
    media = MediaRecorder(store, full_disk, settings)
    log = EventLog(store, media=media)
    origin = time.time() - 600
    # Given ten falls on ten cameras, each wanting a ~40 KiB snapshot and a ~100 KiB clip
    for camera in range(10):
        name = f"cam{camera}"
        new = message("new", 30, start_seq=30, start=origin + 3.0, fps=FPS, camera=name)
        for seq in range(0, 60):
            media.add_frame(joined(seq, origin + seq / FPS, name), {}, {})
            if seq == 30:
                log.publish(new)
    media.close()
    # Then every event is stored, the files that did not fit are counted, and none is half-written
    incidents = store.page(limit=100).incidents
    assert len(incidents) == 10
    written = media.counters.snapshots + media.counters.clips
    assert media.counters.failed >= 1 and written >= 1 and written + media.counters.failed == 20
    assert not [path for path in full_disk.rglob("*") if ".part" in path.name]
    for incident in incidents:
        row = store.media(incident["id"])
        assert row is not None
        for relative in (row.snapshot_path, row.clip_path):
            if relative and relative.endswith(".webm"):  # a recorded clip plays every frame
                assert frames_in(full_disk / relative) == 41
            elif relative:
                assert (full_disk / relative).read_bytes()[-2:] == b"\xff\xd9"  # a whole JPEG
    store.close()
