"""Snapshots, clips and retention, written by a real media recorder into a temporary folder."""

from __future__ import annotations

import os
import threading
import time

import cv2
import numpy as np
import pytest

from tests.incidents import joined, message, picture
from vigil.settings import Settings
from vigil.stream import mediafiles
from vigil.stream.events import EventLog
from vigil.stream.media import MediaRecorder
from vigil.stream.store import EventStore

FPS = 10.0
T0 = time.time() - 100  # recent: retention (30 days) keeps it


@pytest.fixture
def parts(tmp_path):
    settings = Settings.load(environ={"VIGIL_CLIP_BEFORE_S": "2", "VIGIL_CLIP_AFTER_S": "2"})
    store = EventStore(str(tmp_path / "events.sqlite3"))
    media = MediaRecorder(store, tmp_path / "media", settings)
    log = EventLog(store, media=media)
    yield store, media, log
    media.close()
    store.close()


def play(media: MediaRecorder, log: EventLog, frames: range, events: dict[int, dict]) -> None:
    """Emit frames at FPS as the core does: each frame to the recorder, then the events it raised."""
    for seq in frames:
        media.add_frame(joined(seq, T0 + seq / FPS), {}, {})
        if seq in events:
            log.publish(events[seq])


def wait_for(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def read_video(path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    images = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        images.append(image)
    capture.release()
    return images


def test_an_event_gets_a_snapshot_and_a_clip_from_before_to_after(parts, tmp_path):
    store, media, log = parts
    # Given a camera at 10 frames/s whose fall starts at frame 50 and is announced at frame 60
    new = message("new", 60, start_seq=50, start=T0 + 5.0, fps=FPS)
    heard: list[dict] = []
    log.subscribe(heard.append)
    play(media, log, range(0, 120), {60: new})
    # Then the message carried its snapshot's URL, and the snapshot is the annotated frame 60
    assert heard[0]["snapshot"] == f"/events/{new['id']}/snapshot.jpg" and heard[0]["clip"] is None
    jpeg = log.snapshot(new["id"])
    assert jpeg is not None and jpeg.startswith(b"\xff\xd8")
    # And a clip from 2 s before the onset (frame 30) to 2 s after the announcement (frame 80)
    wait_for(lambda: (store.get(new["id"]) or {}).get("clip"))
    incident = store.get(new["id"])
    assert incident["clip"] == f"/events/{new['id']}/clip.webm"
    assert incident["snapshot"] == f"/events/{new['id']}/snapshot.jpg"
    row = store.media(new["id"])
    clip = tmp_path / "media" / row.clip_path
    assert clip.suffix == ".webm" and clip.read_bytes()[:4] == b"\x1a\x45\xdf\xa3"  # EBML: WebM
    images = read_video(clip)
    assert len(images) == 51 and images[0].shape == (360, 640, 3)
    assert row.media_bytes == clip.stat().st_size + (tmp_path / "media" / row.snapshot_path).stat().st_size
    assert media.counters.clips == 1 and media.counters.failed == media.counters.dropped == 0


def test_a_better_frame_replaces_the_snapshot_while_the_incident_is_open(parts):
    store, media, log = parts
    new = message("new", 10, start_seq=10, start=T0 + 1.0, fps=FPS, score=0.5)
    better = message("update", 20, start_seq=10, start=T0 + 1.0, fps=FPS, score=0.9)
    worse = message("update", 30, start_seq=10, start=T0 + 1.0, fps=FPS, score=0.6)
    play(media, log, range(0, 40), {10: new, 20: better, 30: worse})
    wait_for(lambda: media.counters.snapshots == 2)
    expected = cv2.imdecode(np.frombuffer(picture(20), np.uint8), cv2.IMREAD_COLOR)
    shown = cv2.imdecode(np.frombuffer(log.snapshot(new["id"]), np.uint8), cv2.IMREAD_COLOR)
    # the bar drawn at frame 20's place, not 10's or 30's (the overlay's status line aside)
    assert np.abs(shown[:300].astype(int) - expected[:300]).mean() < 3


def test_clips_still_collecting_are_written_when_the_streamer_stops(parts):
    store, media, log = parts
    new = message("new", 20, start_seq=15, start=T0 + 1.5, fps=FPS)
    play(media, log, range(0, 25), {20: new})
    media.close()
    incident = store.get(new["id"])
    assert incident is not None and incident["clip"] is not None


def test_a_clip_is_webm_vp8_written_quickly(tmp_path):
    # 10 s of 640x360 at 15 frames/s, as a default clip is
    images = [cv2.imdecode(np.frombuffer(picture(seq), np.uint8), cv2.IMREAD_COLOR) for seq in range(150)]
    path = tmp_path / "clip.webm"
    started = time.perf_counter()
    mediafiles.write_clip(path, images, 15.0)
    elapsed = time.perf_counter() - started
    capture = cv2.VideoCapture(str(path))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) in (0, 150) and len(read_video(path)) == 150
    print(f"clip: 150 frames 640x360 in {elapsed:.2f} s, {path.stat().st_size / 1024:.0f} KiB")
    assert elapsed < 20  # a loaded 2-core machine; about 1 s when idle
    assert not list(tmp_path.glob(".*part*")), "the temporary file is renamed into place"


def test_a_clip_of_odd_sized_frames_plays_at_their_size_less_the_odd_row_and_column(tmp_path):
    # Given frames 321 x 241 (4:2:0 colour needs even sizes), a later one of another size
    rng = np.random.default_rng(7)
    images = [np.full((241, 321, 3), 40 * seq, np.uint8) for seq in range(5)]
    images.append(rng.integers(0, 255, (100, 80, 3), dtype=np.uint8))
    path = tmp_path / "odd.webm"
    mediafiles.write_clip(path, images, 7.5)
    # Then every frame is in the clip, 320 x 240, and the picture is the frames' (flat grays here)
    frames = read_video(path)
    assert len(frames) == 6 and {frame.shape for frame in frames} == {(240, 320, 3)}
    assert abs(float(frames[3].mean()) - 120) < 4


def test_a_frame_too_small_to_encode_is_refused_and_leaves_no_file(tmp_path):
    with pytest.raises(ValueError, match="too small"):
        mediafiles.write_clip(tmp_path / "tiny.webm", [np.zeros((1, 9, 3), np.uint8)], 15.0)
    assert not list(tmp_path.iterdir())


def test_an_unwritable_clip_folder_is_an_os_error_and_leaves_no_file(tmp_path):
    folder = tmp_path / "media"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):  # root ignores the mode: make the target a folder instead
            (folder / "clip.webm").mkdir()
        with pytest.raises(OSError):
            mediafiles.write_clip(folder / "clip.webm", [np.zeros((48, 64, 3), np.uint8)] * 3, 15.0)
        assert not [p for p in folder.rglob("*") if ".part" in p.name]
    finally:
        folder.chmod(0o700)


def test_retention_deletes_old_and_oversized_events_with_their_files_and_nothing_else(tmp_path):
    store = EventStore(str(tmp_path / "events.sqlite3"))
    media_dir = tmp_path / "media"
    # Given five incidents a day apart, each with a 1000-byte snapshot and a 3000-byte clip
    ids = []
    for day in range(5):
        event = message(start_seq=day, seq=day, start=day * 86400.0)
        store.append(event)
        snapshot, clip = mediafiles.snapshot_name("door", event["id"]), mediafiles.clip_name("door", event["id"])
        mediafiles.write_atomically(media_dir / snapshot, b"j" * 1000)
        mediafiles.write_atomically(media_dir / clip, b"v" * 3000)
        store.set_media(event["id"], snapshot_path=snapshot, clip_path=clip, media_bytes=4000)
        ids.append(event["id"])
    stray = media_dir / "door" / "not-an-event.txt"
    stray.write_text("kept")
    # When retention keeps 2.5 days and 8000 bytes, at day 4.2
    deleted = mediafiles.sweep(store, media_dir, max_age_s=2.5 * 86400, max_bytes=8000, now=4.2 * 86400)
    # Then days 0 and 1 went by age, day 2 by size; rows and files together
    assert deleted == 3
    assert [i["id"] for i in store.page().incidents] == [ids[4], ids[3]]
    assert sorted(p.name for p in (media_dir / "door").iterdir()) == sorted(
        [f"{ids[3]}.jpg", f"{ids[3]}.webm", f"{ids[4]}.jpg", f"{ids[4]}.webm", "not-an-event.txt"])
    assert store.messages_after(0) and {m.event["id"] for m in store.messages_after(0)} == {ids[3], ids[4]}
    # And a sweep with nothing to do deletes nothing
    assert mediafiles.sweep(store, media_dir, max_age_s=2.5 * 86400, max_bytes=8000, now=4.2 * 86400) == 0
    store.close()


def test_a_stored_path_never_leaves_the_media_folder(tmp_path):
    assert mediafiles.resolve(tmp_path, "../etc/passwd") is None
    assert mediafiles.resolve(tmp_path, "door/x.jpg") == (tmp_path / "door" / "x.jpg").resolve()


def test_a_flickering_rule_gets_one_clip_at_a_time_per_camera_and_kind(parts):
    store, media, log = parts
    # Given a rule that opens a new incident every 5 frames (0.5 s), clips being 2 s + 2 s
    flicker = {seq: message("new", seq, start_seq=seq, start=T0 + seq / FPS, fps=FPS) for seq in range(30, 60, 5)}
    other = message("new", 40, start_seq=40, start=T0 + 4.0, fps=FPS, kind="drowsy")
    flicker[41] = other
    play(media, log, range(0, 120), flicker)
    media.close()
    # Then a fall is filmed (frames 10-50), then the next one after it (frame 50), and the drowsy
    # incident; the falls announced while one was being filmed are not (but have their snapshots)
    with_clips = {i["id"] for i in store.page(limit=100).incidents if i["clip"]}
    assert with_clips == {flicker[30]["id"], flicker[50]["id"], other["id"]}
    assert media.counters.skipped == 4 and media.counters.snapshots == 7


def test_clips_are_written_at_a_lower_cpu_priority_than_detection(parts):
    # Encoding a clip takes seconds of a core: it must yield to the processing thread and the workers.
    _, media, _ = parts
    writer = media._writer._thread
    deadline = time.monotonic() + 5
    thread_nice = os.getpriority(os.PRIO_PROCESS, 0)
    while time.monotonic() < deadline:
        thread_nice = os.getpriority(os.PRIO_PROCESS, writer.native_id)
        if thread_nice > os.getpriority(os.PRIO_PROCESS, 0):
            break
        time.sleep(0.01)
    process_nice = os.getpriority(os.PRIO_PROCESS, 0)
    assert thread_nice == min(19, process_nice + 10)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == process_nice  # the caller's is untouched
