"""The demo camera: a shipped public-domain still, moved by code (no download, deterministic)."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.capture.demo import ASSET, ASSETS, CLOSE_UP_ZOOM, CYCLE_S, camera_zoom, figure_at
from vigil.capture.sources import open_source
from vigil.errors import CaptureError


def test_the_still_is_shipped_small_and_named_in_notice():
    assert (ASSETS / ASSET).stat().st_size < 100_000
    notice = (ASSETS.parents[2] / "NOTICE").read_text()
    assert f"vigil/capture/assets/{ASSET}" in notice and "public domain" in notice


@pytest.mark.parametrize(("t", "angle", "zoom"), [
    (0.0, 0.0, CLOSE_UP_ZOOM),       # a close-up of her face
    (6.0 + 4.0 - 0.1, None, 1.0),    # standing, the whole room in view
    (10.8, 90.0, 1.0),               # lying on the floor
    (CYCLE_S - 1e-6, None, 1.0),     # back up at the end of the cycle
])
def test_the_script(t, angle, zoom):
    rotation, _, cy, _ = figure_at(t, 640, 480)
    if angle is not None:
        assert rotation == pytest.approx(angle, abs=0.5)
    assert camera_zoom(t) == pytest.approx(zoom)


def test_lying_is_lower_than_standing():
    assert figure_at(10.8, 640, 480)[2] > figure_at(9.0, 640, 480)[2] + 100


def test_frames_are_the_size_asked_and_the_same_every_run():
    first, second = open_source("demo:320x240@10"), open_source("demo:320x240@10")
    frames = [first.read() for _ in range(3)]
    assert frames[0].shape == (240, 320, 3) and first.fps == 10
    assert all(np.array_equal(a, second.read()) for a in frames)
    assert not np.array_equal(frames[0], frames[2])  # it moves


def test_a_silly_size_is_refused():
    with pytest.raises(CaptureError):
        open_source("demo:8x8")
