"""A frame's faces found once and shared by emotion, pose and blink: against the real Redis and detectors.

Sharing must never change a result: every face algorithm's observation is the same, to the
last digit, whether it found the faces itself or got them from another task.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import cv2
import numpy as np
import pytest
import redis

from vigil.detectors.faces import FaceMesh, decode_meshes, encode_meshes, shared_analyzer
from vigil.detectors.registry import load_detector
from vigil.frames import encode_frame
from vigil.tasks.detect import detect_frame
from vigil.tasks.face_share import KEY_PREFIX, FaceShare, frame_key

from .conftest import ALGORITHM_QUEUES, DATA_DIR, RESULT_BACKEND, celery, unavailable

FACE_ALGORITHMS = ("emotion", "pose", "blink")
CLIP = "blink/blink_smile_woman2_596x336.mp4"
MAX_BYTES = 1 << 21


@pytest.fixture
def client(clean) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(RESULT_BACKEND)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    """Frames with a face (a smile, a blink) and one without (black)."""
    if not (DATA_DIR / CLIP).is_file():
        unavailable(f"labelled footage not found at {DATA_DIR / CLIP} (set VIGIL_DATA_DIR)")
    capture = cv2.VideoCapture(str(DATA_DIR / CLIP))
    picked = []
    for index in range(120):
        ok, frame = capture.read()
        assert ok, f"{CLIP} has fewer than 120 frames"
        if index in (0, 24, 60, 119):
            picked.append(frame)
    capture.release()
    return [*picked, np.zeros_like(picked[0])]


def payload(image: np.ndarray, seq: int, camera: str = "share") -> dict[str, Any]:
    frame = encode_frame(image, camera=camera, session=7, seq=seq, captured_at=time.time(), quality=80,
                         max_bytes=MAX_BYTES)
    return frame.to_payload()


class Counting:
    """The face models of this process, counting their runs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        analyzer = shared_analyzer()
        self.calls = 0
        original = analyzer.meshes

        def counted(image: np.ndarray) -> list[FaceMesh]:
            self.calls += 1
            return original(image)

        monkeypatch.setattr(analyzer, "meshes", counted)


def test_every_face_algorithm_sees_the_same_with_shared_faces(frames: list[np.ndarray]) -> None:
    for image in frames:
        for algorithm in FACE_ALGORITHMS:
            detector = load_detector(algorithm)
            alone = detector.detect(image).to_dict()
            shared = detector.detect(image, faces=decode_meshes(encode_meshes(detector.find_faces(image))))
            assert shared.to_dict() == alone, algorithm
    assert load_detector("pose").detect(frames[1]).to_dict()["faces"], "the test frame must show a face"


def test_two_processes_run_the_face_models_once_a_frame(client, frames, monkeypatch) -> None:
    counting = Counting(monkeypatch)
    # Two shares with their own memory are two worker processes; they meet only in Redis.
    first, second = FaceShare(client), FaceShare(client)
    for seq, image in enumerate(frames):
        message = payload(image, seq)
        alone = {a: detect_frame(message, a, max_bytes=MAX_BYTES).observation for a in FACE_ALGORITHMS}
        calls_alone = counting.calls
        shared = {
            "emotion": detect_frame(message, "emotion", max_bytes=MAX_BYTES, faces=first).observation,
            "pose": detect_frame(message, "pose", max_bytes=MAX_BYTES, faces=second).observation,
            "blink": detect_frame(message, "blink", max_bytes=MAX_BYTES, faces=first).observation,
        }
        assert shared == alone
        assert counting.calls - calls_alone == 1, f"frame {seq}: the face models ran {counting.calls - calls_alone}x"
    key = f"{KEY_PREFIX}:{frame_key('share', 7, 0)}"
    assert client.exists(key) and client.exists(f"{key}:claim")
    assert 0 < client.pttl(key) <= 5000 and 0 < client.pttl(f"{key}:claim") <= 5000


def test_a_claim_never_answered_costs_a_wait_not_a_result(client, frames) -> None:
    client.set(f"{KEY_PREFIX}:cam:1:1:claim", b"1", px=5000)  # a task that claimed the frame, then died
    share = FaceShare(client, wait_s=0.2)
    started = time.monotonic()
    meshes, shared = share.meshes("cam:1:1", lambda: shared_analyzer().meshes(frames[1]))
    assert 0.2 <= time.monotonic() - started < 2.0
    assert not shared and len(meshes) == 1


def test_garbage_under_a_frames_key_is_ignored(client, frames) -> None:
    client.set(f"{KEY_PREFIX}:cam:1:2:claim", b"1", px=5000)
    client.xadd(f"{KEY_PREFIX}:cam:1:2", {b"faces": b"\x93not meshes"})
    meshes, shared = FaceShare(client).meshes("cam:1:2", lambda: shared_analyzer().meshes(frames[1]))
    assert not shared and len(meshes) == 1


def test_without_redis_each_task_finds_its_own_faces(frames, caplog) -> None:
    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    share = FaceShare(unreachable)
    meshes, shared = share.meshes("cam:1:3", lambda: shared_analyzer().meshes(frames[1]))
    assert not shared and len(meshes) == 1
    assert "sharing faces between tasks failed" in caplog.text


def test_a_prefork_worker_shares_faces_through_redis(clean, client, spawn, vigil_env, frames) -> None:
    from vigil.app import create_app
    from vigil.settings import Settings

    env = dict(vigil_env, VIGIL_DETECTOR_OVERRIDE="")  # the real detectors
    worker = spawn(celery("worker", "-Q", ",".join(ALGORITHM_QUEUES), "-c", "2", "-l", "INFO", "--without-mingle",
                          "--without-gossip", "-n", f"faces-{time.time_ns()}@%h"), env, "worker")
    worker.wait_for("ready.", 90)
    app = create_app(Settings.load(environ={k: v for k, v in env.items() if k.startswith("VIGIL_")}))
    message = payload(frames[1], 1, camera="prefork")
    pending = {a: app.send_task(f"vigil.detect.{a}", args=(message,), queue=a) for a in FACE_ALGORITHMS}
    results = {a: result.get(timeout=90) for a, result in pending.items()}
    for algorithm, result in results.items():
        assert result["status"] == "ok", result
        assert result["observation"] == detect_frame(message, algorithm, max_bytes=MAX_BYTES).observation
        assert "faces" in result["timings"]
    assert client.exists(f"{KEY_PREFIX}:{frame_key('prefork', 7, 1)}"), "the faces went through Redis"
