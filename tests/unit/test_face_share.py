"""Sharing a frame's faces between the face tasks, inside one process (no Redis)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from vigil.detectors.faces import FaceBox, FaceMesh, decode_meshes, encode_meshes
from vigil.errors import DetectorError
from vigil.tasks.face_share import FaceShare, frame_key


def a_mesh(offset: float = 0.0) -> FaceMesh:
    rng = np.random.default_rng(int(offset))
    face = FaceBox(box=[10, 20, 30, 40], score=0.91, keypoints=rng.random((6, 2)) * 100 + offset,
                   centre=(25.5, 40.25), size=41.0)
    return FaceMesh(face=face, landmarks=rng.random((468, 3)) * 300 + offset, presence=0.97)


class Finder:
    """Counts its calls; optionally slow, as the face models are."""

    def __init__(self, meshes: list[FaceMesh], delay: float = 0.0) -> None:
        self.meshes, self.delay, self.calls = meshes, delay, 0

    def __call__(self) -> list[FaceMesh]:
        self.calls += 1
        time.sleep(self.delay)
        return self.meshes


def test_meshes_travel_exactly() -> None:
    meshes = [a_mesh(0), a_mesh(7)]
    back = decode_meshes(encode_meshes(meshes))
    assert len(back) == 2
    for sent, got in zip(meshes, back):
        assert got.face.box == sent.face.box and got.face.score == sent.face.score
        assert got.face.centre == sent.face.centre and got.face.size == sent.face.size
        assert np.array_equal(got.face.keypoints, sent.face.keypoints)
        assert np.array_equal(got.landmarks, sent.landmarks) and got.landmarks.dtype == np.float64
        assert got.presence == sent.presence
    assert decode_meshes(encode_meshes([])) == []


@pytest.mark.parametrize("data", [b"", b"\x93\x01\x02", encode_meshes([a_mesh()])[:-40]])
def test_malformed_faces_are_a_detector_error(data: bytes) -> None:
    with pytest.raises(DetectorError, match="malformed"):
        decode_meshes(data)


def test_a_frames_faces_are_found_once_and_then_shared() -> None:
    share, find = FaceShare(None), Finder([a_mesh()])
    first, shared_first = share.meshes(frame_key("door", 1, 5), find)
    second, shared_second = share.meshes(frame_key("door", 1, 5), find)
    assert find.calls == 1 and (shared_first, shared_second) == (False, True)
    assert second is first
    share.meshes(frame_key("door", 1, 6), find)  # the next frame
    share.meshes(frame_key("door", 2, 5), find)  # the same number in a new session
    share.meshes(frame_key("hall", 1, 5), find)  # another camera
    assert find.calls == 4


def test_threads_asking_at_once_run_the_models_once() -> None:
    share, find = FaceShare(None, wait_s=2.0), Finder([a_mesh()], delay=0.2)
    answers: list[tuple[list[FaceMesh], bool]] = []
    threads = [threading.Thread(target=lambda: answers.append(share.meshes("cam:1:1", find))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert find.calls == 1
    assert sorted(shared for _, shared in answers) == [False, True, True]


def test_a_failed_finding_is_not_remembered_and_waiters_find_their_own() -> None:
    share = FaceShare(None, wait_s=1.0)

    def broken() -> list[FaceMesh]:
        time.sleep(0.1)
        raise DetectorError("model failed")

    waiter_result: list[tuple[list[FaceMesh], bool]] = []
    owner = threading.Thread(target=lambda: pytest.raises(DetectorError, share.meshes, "cam:1:1", broken))
    owner.start()
    time.sleep(0.02)
    find = Finder([a_mesh()])
    waiter = threading.Thread(target=lambda: waiter_result.append(share.meshes("cam:1:1", find)))
    waiter.start()
    owner.join(5)
    waiter.join(5)
    assert waiter_result == [(find.meshes, False)] and find.calls == 1
    assert share.meshes("cam:1:1", Finder([]))[1] is False  # nothing was remembered for that frame


def test_memory_holds_only_recent_frames() -> None:
    share, find = FaceShare(None), Finder([])
    for seq in range(200):
        share.meshes(frame_key("cam", 1, seq), find)
    assert len(share._recent) == 64
    share.meshes(frame_key("cam", 1, 0), find)
    assert find.calls == 201  # the oldest was forgotten
